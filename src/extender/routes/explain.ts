// GET /explain/{namespace}/{pod}: the last decision for that pod, with every node's predicted marginal watts,
// score and filter verdict, so an operator can see why a pod went where it went.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Scoring } from '../plugins/scoring.js';

const explainRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { explain } = app.getDecorator<Scoring>('scoring');
  app.get(
    '/explain/:namespace/:pod',
    { schema: { params: Type.Object({ namespace: Type.String({ minLength: 1 }), pod: Type.String({ minLength: 1 }) }) } },
    async (req, reply) => {
      const found = explain.explain(req.params.namespace, req.params.pod);
      if (!found) return reply.code(404).send({ code: 'WS_ERR_NO_DECISION', error: `no recent decision for pod ${req.params.namespace}/${req.params.pod}` });
      return found;
    },
  );
};

export default explainRoute;
