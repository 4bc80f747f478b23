// The agent's HTTP surface: /healthz, /metrics (Prometheus) and GET /v1/node (the latest node report as JSON). Every
// handler reads the monitor's latest frozen report; nothing here computes counters or touches the collector.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';
import { pino, type Logger } from 'pino';
import Type from 'typebox';
import { NodeReportSchema } from '../../shared/wire/agent.js';
import type { Monitor } from '../monitor/monitor.js';
import { serverTimeoutOptions } from '../../shared/http-limits.js';

export interface ServerOptions {
  monitor: Monitor;
  intervalMs: number;
  /** Request logging goes to the agent's pino logger; none when absent. */
  logger?: Logger;
}

declare module 'fastify' {
  interface FastifyInstance {
    agentRegistry: Registry;
  }
}

const routes: FastifyPluginAsyncTypebox<{ monitor: Monitor; intervalMs: number }> = async (app, { monitor, intervalMs }) => {
  app.get('/healthz', async (_req, reply) => {
    const age = monitor.sinceLastReadMs();
    // Healthy while readings keep coming: three missed intervals means the loop is stuck.
    const ok = age !== null && age < 3 * intervalMs + 1000;
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : age === null ? 'starting' : 'stale',
      collector: monitor.collector.status().name,
      lastReadAgeSeconds: age === null ? null : age / 1000,
    });
  });
  app.get('/metrics', async (_req, reply) => {
    monitor.energy?.persist();
    const reg = app.agentRegistry;
    return reply.type(reg.contentType).send(await reg.metrics());
  });
  app.get(
    '/v1/node',
    {
      schema: { response: { 200: NodeReportSchema, 503: Type.Object({ error: Type.String() }) } },
      // The report is built to NodeReportSchema's type (no property outside it; server.test.ts checks the body
      // against the schema, which allows none), so plain JSON.stringify gives what the schema describes. The
      // serializer fastify compiles from the schema resolves the report's nullable unions with an Ajv validator,
      // which it compiles at the first request: about 230 ms of CPU, some 10 MB of garbage whose collection (and the
      // memory reducer's after it) fell into the agent's first minute, Ajv kept in memory, and ~5 ms per request at
      // 200 pods (JSON.stringify: under 2 ms).
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (_req, reply) => {
      const r = monitor.latest();
      if (r === null) return reply.code(503).send({ error: 'no reading yet' });
      monitor.energy?.persist();
      return reply.code(200).send(r);
    },
  );
};

export async function buildServer(opts: ServerOptions & { registry: Registry }): Promise<FastifyInstance> {
  // Per-request logs are info level; at one scrape per 15 s they would be most of the log, so keep warn and above.
  const logger: FastifyBaseLogger = opts.logger ? opts.logger.child({}, { level: opts.logger.level === 'silent' ? 'silent' : 'warn' }) : pino({ level: 'silent' });
  const app: FastifyInstance = Fastify({ loggerInstance: logger, ...serverTimeoutOptions() });
  app.decorate('agentRegistry', opts.registry);
  await app.register(routes, { monitor: opts.monitor, intervalMs: opts.intervalMs });
  return app;
}
