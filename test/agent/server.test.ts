// The HTTP surface, built from its factory with a fake collector and served through inject().
import { test as base, describe, expect } from 'vitest';
import Value from 'typebox/value';
import type { FastifyInstance } from 'fastify';
import type { Collector, CollectorReading } from '../../src/agent/collector/types.js';
XX
import { Monitor } from '../../src/agent/monitor/monitor.js';
import { StandalonePods } from '../../src/agent/resource/pods.js';
import { type CounterName, type CounterStatus, NodeReportSchema } from '../../src/shared/wire/agent.js';

/** A scripted collector: each read returns the next reading, its clock advancing one second. */
class ScriptedCollector implements Collector {
  readonly name = 'fallback' as const;
  private n = 0;
  closed = false;
  status() {
    return { name: 'fallback' as const, variant: 'scripted', reason: 'eBPF unavailable: test', attempts: [{ name: 'ebpf', error: 'test' }] };
  }
  counters(): Record<CounterName, CounterStatus> {
    const off = { live: false, detail: 'no' };
    return { cpu_time: { live: true, detail: 'x' }, context_switches: { live: true, detail: 'x' }, cycles: off, instructions: off, cache_misses: off, cpu_pressure: off };
  }
  async read(): Promise<CollectorReading> {
    this.n++;
    return {
      monotonicNs: this.n * 1e9,
      dropped: 0,
      cgroups: [
        { id: '42', path: `/kubepods/besteffort/pod0f5b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b/${'c'.repeat(64)}`, exited: false, counters: { cpuSeconds: this.n * 0.5, contextSwitches: this.n * 100 } },
        { id: '1', path: '/', exited: false, counters: { cpuSeconds: this.n } },
      ],
    };
  }
  async close() {
    this.closed = true;
  }
}

const test = base.extend<{ app: FastifyInstance; monitor: Monitor }>({
  monitor: async ({}, use) => {
    const collector = new ScriptedCollector();
    const monitor = new Monitor({ collector, pods: new StandalonePods('test'), layout: { name: 'v2', v2Path: '/x' }, node: 'n1' });
    await use(monitor);
  },
  app: async ({ monitor }, use) => {
    const { registry, observeRead } = createMetrics(monitor);
    observeRead(0.002);
    const app = await buildServer({ monitor, intervalMs: 1000, registry });
    await use(app);
    await app.close();
  },
});

describe('agent HTTP', () => {
  test('before the first reading: /healthz 503 starting, /v1/node 503', async ({ app }) => {
    const h = await app.inject('/healthz');
    expect(h.statusCode).toBe(503);
    expect(h.json()).toMatchObject({ status: 'starting' });
    expect((await app.inject('/v1/node')).statusCode).toBe(503);
  });

  test('/v1/node serves the report, valid against its schema, with rates', async ({ app, monitor }) => {
    await monitor.tick();
    await monitor.tick();
    const res = await app.inject('/v1/node');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Value.Check(NodeReportSchema, body)).toBe(true);
    expect(body.collector).toMatchObject({ name: 'fallback', reason: 'eBPF unavailable: test' });
    expect(body.pods[0]).toMatchObject({ uid: '0f5b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b', rates: { cpuSeconds: 0.5, contextSwitches: 100 } });
    expect((await app.inject('/healthz')).json()).toMatchObject({ status: 'ok', collector: 'fallback' });
  });

  test('/metrics exports counter availability, the collector and per-cgroup counters', async ({ app, monitor }) => {
    await monitor.tick();
    const text = (await app.inject('/metrics')).body;
    expect(text).toContain('wattsched_agent_counter_available{counter="cpu_time"} 1');
    expect(text).toContain('wattsched_agent_counter_available{counter="cycles"} 0');
    expect(text).toMatch(/wattsched_agent_collector_active\{collector="fallback",variant="scripted",reason="eBPF unavailable: test"\} 1/);
    expect(text).toMatch(/wattsched_cgroup_cpu_seconds_total\{cgroup_id="42",[^}]*kind="pod"[^}]*\} 0.5/);
    expect(text).toMatch(/wattsched_pod_cpu_seconds_total\{pod_uid="0f5b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"[^}]*\} 0.5/);
    expect(text).toContain('wattsched_agent_read_duration_seconds_count 1');
    expect(text).toContain('wattsched_agent_tracked_cgroups 2');
    expect(text).toContain('wattsched_agent_process_resident_memory_bytes');
  });

  test('unknown routes are 404, not a crash', async ({ app }) => {
    expect((await app.inject('/v1/nodes')).statusCode).toBe(404);
  });
});
