// Liveness and readiness. Ready means the extender can give a real answer: a scorer is loaded and the node
// inventory has finished its first load. Not ready still answers webhooks (failing open), so kube-scheduler is
// never blocked by our start-up.
import type { FastifyPluginAsync } from 'fastify';
import type { Scoring } from '../plugins/scoring.js';

const health: FastifyPluginAsync = async (app) => {
  const { inventory, scorer } = app.getDecorator<Scoring>('scoring');
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const body = { scorer: scorer.name, inventory: inventory.source, nodes: inventory.size() };
    if (!inventory.ready()) return reply.code(503).send({ status: 'not ready', reason: 'node inventory has not finished its initial load', ...body });
    return { status: 'ready', ...body };
  });
};

export default health;
