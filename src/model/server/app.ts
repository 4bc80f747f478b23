// Builds the model server's Fastify app without listening: tests drive it with inject(), the command listens.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { ModelServerConfig } from '../../shared/config/model-server.js';
import modelServerPlugin, { type ModelServerDeps } from './plugins.js';
import models from './routes/models.js';
import samples from './routes/samples.js';
import health from './routes/health.js';
import { serverTimeoutOptions } from '../../shared/http-limits.js';

export interface BuildOptions extends ModelServerDeps {
  dataDir: string;
  pretrainedDir?: string | undefined;
  logger?: Logger | false;
}

export async function buildModelServer(config: Readonly<ModelServerConfig>, opts: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger || undefined,
    logger: opts.logger ? undefined : false,
    bodyLimit: config.bodyLimitBytes,
    ...serverTimeoutOptions(),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  } as FastifyServerOptions);
  // Every failure leaves as { error: WS_ERR_*, message } with a 4xx for the caller's mistakes.
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.validation) return reply.code(400).send({ error: 'WS_ERR_MODEL_INPUT', message: err.message });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'WS_ERR_MODEL_SAMPLES', message: `body larger than ${config.bodyLimitBytes} bytes` });
    if (err.code?.startsWith('FST_ERR_CTP') || err.statusCode === 400 || err.statusCode === 415) return reply.code(err.statusCode ?? 400).send({ error: 'WS_ERR_MODEL_INPUT', message: err.message });
    if (err.code?.startsWith('WS_ERR_')) return reply.code(err.statusCode ?? 500).send({ error: err.code, message: err.message });
    reply.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: 'WS_ERR_INTERNAL', message: err.message });
  });
  await app.register(modelServerPlugin, { config, dataDir: opts.dataDir, pretrainedDir: opts.pretrainedDir, deps: { ...(opts.now ? { now: opts.now } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}) } });
  await app.register(health);
  await app.register(models);
  await app.register(samples);
  return app;
}
