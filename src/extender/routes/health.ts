// Liveness and readiness. Ready means the extender can give a real answer: its event loop turns, a scorer is loaded
// and the node inventory has finished its first load. Not ready still answers webhooks (failing open), so
// kube-scheduler is never blocked by our start-up. kubelet probes the health thread (serving/health-thread.ts),
// which answers from the loop's heartbeat on serving.healthPort; the same answers are served here on the main port,
// where they wait for the loop like any request. Named and shared (fastify-plugin) for its `healthServer`
// decorator, which the command calls once the main port listens.
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ServerTimeouts } from '../../shared/http-limits.js';
import { SCORING_PLUGIN, type Scoring } from '../plugins/scoring.js';
import { healthz, readyz, type HealthAnswer, type HealthIdentity } from '../serving/health-answer.js';
import { BEAT_MS, HealthThread } from '../serving/health-thread.js';
import { LoopHeartbeat, readHeartbeat } from '../serving/heartbeat.js';

export interface HealthOptions {
  maxLoopLagMs: number;
  /** The health port's request, header and keep-alive timeouts, as the main port's. */
  timeouts: ServerTimeouts;
}

export interface HealthServer {
  /** Starts the health thread listening; resolves to its port. Closed with the app. */
  listen(opts: { port: number; host: string }): Promise<number>;
}

const send = (reply: FastifyReply, a: HealthAnswer) => reply.code(a.status).send(a.body);

const health: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  const { inventory, scorer } = app.getDecorator<Scoring>('scoring');
  const identity: HealthIdentity = { scorer: scorer.name, inventory: inventory.source, maxLoopLagMs: opts.maxLoopLagMs };
  const heartbeat = new LoopHeartbeat();
  const beat = () => heartbeat.beat(inventory.ready(), inventory.size());
  beat();
  const timer = setInterval(beat, BEAT_MS).unref();
  let thread: HealthThread | undefined;

  const server: HealthServer = {
    listen: async ({ port, host }) => {
      if (thread) throw new Error('the health thread is already listening');
      thread = await HealthThread.start({ heartbeat, identity, port, host, timeouts: opts.timeouts, onError: (err) => app.log.error({ err }, 'health thread died; probes will fail') });
      return thread.port;
    },
  };
  app.decorate('healthServer', server);
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await thread?.close();
  });

  // Inventory state read now, not as last beaten: this loop is the one answering.
  const snapshot = () => ({ ...readHeartbeat(heartbeat.buffer), inventoryReady: inventory.ready(), nodes: inventory.size() });
  app.get('/healthz', async (_req, reply) => send(reply, healthz(snapshot(), identity)));
  app.get('/readyz', async (_req, reply) => send(reply, readyz(snapshot(), identity)));
};

export const HEALTH_PLUGIN = 'wattsched-health';
export default fp(health, { name: HEALTH_PLUGIN, dependencies: [SCORING_PLUGIN], fastify: '5.x' });
