// Builds the extender's Fastify app from validated config and its collaborators, without listening: tests drive
// it with inject(), the command adds listen().
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ExtenderConfig } from '../shared/config/extender.js';
import { serverTimeoutOptions } from '../shared/http-limits.js';
import { httpsOptions } from '../shared/server-tls.js';
import type { NodeInventory } from './nodes/inventory.js';
import type { Scorer } from './scoring/scorer.js';
import metricsPlugin, { type ExtenderMetrics } from './plugins/metrics.js';
import scoringPlugin from './plugins/scoring.js';
import webhooks from './routes/webhooks.js';
import health from './routes/health.js';
import explainRoute from './routes/explain.js';

export interface ExtenderDeps {
  scorer: Scorer;
  inventory: NodeInventory;
  logger?: Logger | false;
  /** Collaborators' own metrics (the live scorer, the agent feed), added to the extender's registry. */
  registerMetrics?: readonly ((registry: Registry) => void)[];
}

export async function buildExtender(config: ExtenderConfig, deps: ExtenderDeps): Promise<FastifyInstance> {
  // With a client CA, every connection must present a certificate it signed (mTLS).
  const https = httpsOptions(config.tls, 'required');
  const app = Fastify({
    loggerInstance: deps.logger || undefined,
    logger: deps.logger === false ? false : undefined,
    bodyLimit: config.bodyLimitBytes,
    ...serverTimeoutOptions(config.serving, https),
    // A wrong type is a bad request, not something to coerce; and nothing is silently dropped from Node objects.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Two log lines per webhook call would cost more than scoring it; the metrics and /explain carry that record.
    logController: new LogController({ disableRequestLogging: true }),
  } as FastifyServerOptions);
  await app.register(metricsPlugin);
  for (const register of deps.registerMetrics ?? []) register(app.getDecorator<ExtenderMetrics>('extenderMetrics').registry);
  await app.register(scoringPlugin, { scorer: deps.scorer, inventory: deps.inventory, explainMaxNodeEntries: config.explainMaxNodeEntries, assumedPodTtlMs: config.powerCaps.assumedPodTtlSeconds * 1000 });
  await app.register(health, { maxLoopLagMs: config.serving.maxLoopLagMs, timeouts: config.serving });
  await app.register(explainRoute);
  await app.register(webhooks, {
    urlPrefix: config.urlPrefix,
    filterVerb: config.filterVerb,
    prioritizeVerb: config.prioritizeVerb,
    preemptVerb: config.preemptVerb,
    serving: config.serving,
    powerBudgets: config.powerBudgets,
  });
  return app;
}
