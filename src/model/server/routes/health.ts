// Liveness and the Prometheus scrape endpoint of the model server. /healthz reads only in-memory state: never the
// stored samples, so a large or damaged store cannot make the liveness probe slow or fail.
import type { FastifyPluginAsync } from 'fastify';
import type { ModelServer } from '../plugins.js';

const health: FastifyPluginAsync = async (app) => {
  const server = app.getDecorator<ModelServer>('modelServer');
  app.get('/healthz', async () => ({ status: 'ok', models: server.store.size }));
  app.get('/metrics', async (_req, reply) => reply.type(server.registry.contentType).send(await server.registry.metrics()));
};

export default health;
