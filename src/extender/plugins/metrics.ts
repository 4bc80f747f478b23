// The extender's Prometheus registry, created per app instance (never the prom-client global) so tests and
// multiple instances in one process do not share counters.
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS } from '../../shared/names.js';

export interface ExtenderMetrics {
  registry: Registry;
  requestDuration: Histogram<'verb' | 'code'>;
  requestNodes: Histogram<'verb' | 'mode'>;
  errors: Counter<'kind'>;
  decisions: Counter<'verb' | 'outcome'>;
  failOpen: Counter<'reason'>;
  inventoryNodes: Gauge;
  shed: Counter<'reason'>;
  assumedPods: Gauge;
  inFlight: Gauge;
  bufferedBytes: Gauge;
}

export const METRICS_PLUGIN = 'wattsched-extender-metrics';

const metricsPlugin: FastifyPluginAsync<{ defaultMetrics?: boolean }> = async (app, opts) => {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'wattsched_extender_' });
  const m = METRICS.extender;
  const metrics: ExtenderMetrics = {
    registry,
    requestDuration: new Histogram({
      name: m.requestDuration,
      help: 'Extender webhook latency by verb and HTTP status code.',
      labelNames: ['verb', 'code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    requestNodes: new Histogram({
      name: m.requestNodes,
      help: 'Candidate nodes per extender request, by verb and mode (names or full).',
      labelNames: ['verb', 'mode'],
      buckets: [1, 10, 50, 100, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    errors: new Counter({ name: m.errors, help: 'Rejected or failed extender requests by error kind.', labelNames: ['kind'], registers: [registry] }),
    decisions: new Counter({ name: m.decisions, help: 'Extender answers by verb and outcome (scored or fail_open).', labelNames: ['verb', 'outcome'], registers: [registry] }),
    failOpen: new Counter({ name: m.failOpen, help: 'Answers that passed every node / gave equal scores because the extender could not judge, by reason.', labelNames: ['reason'], registers: [registry] }),
    inventoryNodes: new Gauge({ name: m.nodeCacheNodes, help: 'Nodes known to the extender inventory (names mode).', registers: [registry] }),
    assumedPods: new Gauge({ name: m.assumedPods, help: 'Pods the filter passed onto capped nodes that the cluster watch has not yet shown bound.', registers: [registry] }),
    inFlight: new Gauge({ name: m.inFlight, help: 'Webhook requests admitted and not yet answered (see serving.maxConcurrentRequests).', registers: [registry] }),
    bufferedBytes: new Gauge({ name: m.bufferedBytes, help: 'Request body bytes held by admitted webhook requests (see serving.maxBufferedBytes).', registers: [registry] }),
    shed: new Counter({ name: m.shed, help: 'Webhook requests answered 503 because serving.maxConcurrentRequests or serving.maxBufferedBytes was reached.', labelNames: ['reason'], registers: [registry] }),
  };
  app.decorate('extenderMetrics', metrics);
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
};

export default fp(metricsPlugin, { name: METRICS_PLUGIN, fastify: '5.x' });
