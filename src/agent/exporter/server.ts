// The agent's HTTP surface: /healthz, /metrics (Prometheus) and GET /v1/node (the latest node report as JSON). Every
// handler reads the monitor's latest frozen report; nothing here computes counters or touches the collector.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { pino, type Logger } from 'pino';
import Type from 'typebox';
import { METRICS } from '../../shared/names.js';
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

/** A counter whose value is whatever the latest report says: reset and refilled on each scrape. */
function mirrorCounter(reg: Registry, name: string, help: string, labelNames: string[], fill: (set: (labels: Record<string, string>, v: number) => void) => void): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [reg],
    collect() {
      this.reset();
      fill((labels, v) => this.inc(labels, v));
    },
  });
}

export function createMetrics(monitor: Monitor): { registry: Registry; observeRead: (s: number) => void } {
  const reg = new Registry();
  // The event-loop-lag monitor samples every 10 ms by default, which alone cost 0.6% of a core here; once a second
  // keeps the metric and keeps the agent's idle cost near zero.
  collectDefaultMetrics({ register: reg, prefix: 'wattsched_agent_', eventLoopMonitoringPrecision: 1000 });
  const M = METRICS.agent;
  const latest = () => monitor.latest();
  new Gauge({
    name: M.counterAvailable,
    help: 'Whether a counter is measured live by the active collector (1) or not (0).',
    labelNames: ['counter'],
    registers: [reg],
    collect() {
      this.reset();
      const r = latest();
      const counters = r?.counters ?? monitor.collector.counters();
      for (const [counter, s] of Object.entries(counters)) this.set({ counter }, s.live ? 1 : 0);
    },
  });
  new Gauge({
    name: M.collectorActive,
    help: 'The collector in use (value 1), with the reason when it is the fallback.',
    labelNames: ['collector', 'variant', 'reason'],
    registers: [reg],
    collect() {
      this.reset();
      const s = monitor.collector.status();
      this.set({ collector: s.name, variant: s.variant, reason: s.reason ?? '' }, 1);
    },
  });
  new Gauge({
    name: M.trackedCgroups,
    help: 'Cgroups in the latest reading.',
    registers: [reg],
    collect() {
      this.set(latest()?.cgroups.length ?? 0);
    },
  });
  new Gauge({
    name: M.droppedCgroups,
    help: 'Cgroups the eBPF map had no room for since start.',
    registers: [reg],
    collect() {
      this.set(latest()?.droppedCgroups ?? 0);
    },
  });
  const cgLabels = ['cgroup_id', 'path', 'kind', 'pod_uid', 'container_id'];
  const cgroupSeries = (pick: (c: NonNullable<ReturnType<typeof latest>>['cgroups'][number]) => number | undefined) =>
    (set: (labels: Record<string, string>, v: number) => void) => {
      for (const c of latest()?.cgroups ?? []) {
        const v = pick(c);
        if (v === undefined) continue;
        set({ cgroup_id: c.id, path: c.path ?? '', kind: c.owner.kind, pod_uid: c.owner.podUid ?? '', container_id: c.owner.containerId ?? '' }, v);
      }
    };
  mirrorCounter(reg, M.cgroupCpuSeconds, 'On-CPU seconds of tasks directly in the cgroup.', cgLabels, cgroupSeries((c) => c.cumulative.cpuSeconds));
  mirrorCounter(reg, M.cgroupContextSwitches, 'Context switches of tasks in the cgroup.', cgLabels, cgroupSeries((c) => c.cumulative.contextSwitches));
  mirrorCounter(reg, M.cgroupCycles, 'CPU cycles of tasks in the cgroup (PMU).', cgLabels, cgroupSeries((c) => c.cumulative.cycles));
  mirrorCounter(reg, M.cgroupInstructions, 'Instructions retired by tasks in the cgroup (PMU).', cgLabels, cgroupSeries((c) => c.cumulative.instructions));
  mirrorCounter(reg, M.cgroupCacheMisses, 'Cache misses of tasks in the cgroup (PMU).', cgLabels, cgroupSeries((c) => c.cumulative.cacheMisses));
  const podLabels = ['pod_uid', 'namespace', 'pod', 'workload'];
  const podSeries = (pick: (p: NonNullable<ReturnType<typeof latest>>['pods'][number]) => number | undefined) =>
    (set: (labels: Record<string, string>, v: number) => void) => {
      for (const p of latest()?.pods ?? []) {
        const v = pick(p);
        if (v !== undefined) set({ pod_uid: p.uid, namespace: p.namespace ?? '', pod: p.name ?? '', workload: p.workload?.id ?? '' }, v);
      }
    };
  mirrorCounter(reg, M.podCpuSeconds, 'On-CPU seconds of all cgroups of the pod.', podLabels, podSeries((p) => p.cumulative.cpuSeconds));
  mirrorCounter(reg, M.podContextSwitches, 'Context switches of all cgroups of the pod.', podLabels, podSeries((p) => p.cumulative.contextSwitches));
  const readDuration = new Histogram({
    name: M.readDuration,
    help: 'Time one collector reading takes.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [reg],
  });
  return { registry: reg, observeRead: (s) => readDuration.observe(s) };
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
    const reg = app.agentRegistry;
    return reply.type(reg.contentType).send(await reg.metrics());
  });
  app.get(
    '/v1/node',
    { schema: { response: { 200: NodeReportSchema, 503: Type.Object({ error: Type.String() }) } } },
    async (_req, reply) => {
      const r = monitor.latest();
      if (r === null) return reply.code(503).send({ error: 'no reading yet' });
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
