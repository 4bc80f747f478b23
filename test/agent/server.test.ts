// The HTTP surface, built from its factory with a scripted collector, a model curve and a scripted /proc/stat, and
// served through inject(). Power numbers are worked out by hand in the comments.
import { test as base, describe, expect } from 'vitest';
import { promtoolLint } from '../promtool.js';
import Value from 'typebox/value';
import type { FastifyInstance } from 'fastify';
import type { Collector, CollectorReading } from '../../src/agent/collector/types.js';
import { EnergyLedger } from '../../src/agent/attribution/ledger.js';
import { type FormatOne, createMetrics } from '../../src/agent/exporter/metrics.js';
import { type Metric, Registry } from 'prom-client';
import { buildServer } from '../../src/agent/exporter/server.js';
import { NodePower } from '../../src/agent/meter/layers.js';
import { ModelMeter } from '../../src/agent/meter/model.js';
import { EnergyAccounting } from '../../src/agent/monitor/energy.js';
import { Monitor } from '../../src/agent/monitor/monitor.js';
import { StandalonePods } from '../../src/agent/resource/pods.js';
import { type CounterName, type CounterStatus, NodeReportSchema } from '../../src/shared/wire/agent.js';

const POD = '0f5b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';

/**
 * A scripted collector: each read returns the next reading, its clock advancing one second. The pod's container
 * uses 0.5 CPU s/s and the root 1 CPU s/s; from the third reading on the container has been replaced by a new one
 * (new cgroup, counters from 0), as when a container restarts.
 */
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
        this.n < 3
          ? { id: '42', path: `/kubepods/besteffort/pod${POD}/${'c'.repeat(64)}`, exited: false, counters: { cpuSeconds: this.n * 0.5, contextSwitches: this.n * 100 } }
          : { id: '43', path: `/kubepods/besteffort/pod${POD}/${'d'.repeat(64)}`, exited: false, counters: { cpuSeconds: (this.n - 2) * 0.5, contextSwitches: (this.n - 2) * 100 } },
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
    // Curve 100..200 W; /proc/stat: 2 busy CPU s per interval, utilisation 0.5 -> 150 W, idle 100 W, dynamic 50 W.
    const power = new NodePower([new ModelMeter({ curve: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200], id: 'config', errorPercent: null, detail: 'test' })], [], [{ name: 'rapl', reason: 'no zones' }]);
    const energy = new EnergyAccounting({
      power,
      nodeCpu: () => ({ utilisation: 0.5, busySeconds: 2 }),
      ledger: new EnergyLedger({ retentionMs: 60_000, maxPods: 100 }),
      policy: 'none',
      checkpointPath: null,
    });
    const monitor = new Monitor({ collector, pods: new StandalonePods('test'), layout: { name: 'v2', v2Path: '/x' }, node: 'n1', energy });
    await use(monitor);
  },
  app: async ({ monitor }, use) => {
    const { registry, observeRead } = createMetrics(monitor, { keplerNames: true, node: 'n1' });
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
    // Charged 1.5 CPU s of 2 busy: kernel 0.5. Dynamic 50 W / 2 s = 25 W per CPU second: pod 12.5, root 25, kernel 12.5.
    expect(body.pods[0]).toMatchObject({ uid: POD, rates: { cpuSeconds: 0.5, contextSwitches: 100 }, energy: { watts: 12.5, joules: 12.5, cpuSecondsTotal: 0.5 } });
    expect(body.power).toMatchObject({ source: 'model', watts: 150, idleWatts: 100, model: { id: 'config' }, cpuUtilisation: 0.5, idlePolicy: 'none', residualRatio: 0 });
    expect(Object.fromEntries(body.power.system.map((r: { name: string; watts: number }) => [r.name, r.watts]))).toEqual({ kernel: 12.5, idle: 100, gpu: 0, root: 25 });
    expect(body.power.meters).toEqual([
      { name: 'model', source: 'model', state: 'active', detail: null, failures: 0 },
      { name: 'rapl', source: null, state: 'unavailable', detail: 'no zones', failures: 0 },
    ]);
    expect((await app.inject('/healthz')).json()).toMatchObject({ status: 'ok', collector: 'fallback' });
  });

  test('/metrics: collector, node power by source, per-pod watts and joules, residual, meters', async ({ app, monitor }) => {
    await monitor.tick();
    await monitor.tick();
    const text = (await app.inject('/metrics')).body;
    expect(text).toContain('wattsched_agent_measurement_available{counter="cpu_time"} 1');
    expect(text).toContain('wattsched_agent_measurement_available{counter="cycles"} 0');
    expect(text).toMatch(/wattsched_agent_collector_active\{collector="fallback",variant="scripted",reason="eBPF unavailable: test"\} 1/);
    expect(text).toContain('wattsched_node_watts{source="model"} 150');
    expect(text).toContain('wattsched_node_joules_total{source="model"} 150');
    expect(text).toContain(`wattsched_pod_watts{pod="${POD}",namespace="",workload=""} 12.5`);
    expect(text).toContain(`wattsched_pod_joules_total{pod="${POD}",namespace="",workload=""} 12.5`);
    expect(text).toContain(`wattsched_container_joules_total{pod="${POD}",namespace="",container="unknown"} 12.5`);
    expect(text).toContain('wattsched_system_watts{workload="idle"} 100');
    expect(text).toContain('wattsched_attribution_residual_ratio 0');
    expect(text).toContain('wattsched_agent_meter_state{meter="rapl",state="unavailable"} 1');
    expect(text).toContain('wattsched_node_model_info{source="model",model="config"} 1');
    expect(text).toContain(`kepler_pod_cpu_joules_total{pod_id="${POD}",pod_name="${POD}",pod_namespace="",state="running",zone="package"} 12.5`);
    expect(text).toContain('kepler_node_cpu_joules_total{zone="node",path="",node_name="n1"} 150');
    expect(text).toContain('wattsched_agent_read_duration_seconds_count 1');
    expect(text).toContain('wattsched_agent_tracked_cgroups 2');
    expect(text).toContain('wattsched_agent_process_resident_memory_bytes');
    // Only the documented label names: no cgroup ids, paths, container ids or PIDs on any wattsched series.
    const labelNames = new Set([...text.matchAll(/^wattsched_[a-z_]+\{([^}]*)\}/gm)].flatMap((m) => [...(m[1] as string).matchAll(/([a-z_]+)="/g)].map((x) => x[1])));
    for (const l of ['cgroup_id', 'path', 'pod_uid', 'container_id', 'pid']) expect(labelNames.has(l)).toBe(false);
  });

  test('pod CPU seconds and joules never go down when a container is replaced', async ({ app, monitor }) => {
    const cpu: number[] = [];
    const joules: number[] = [];
    for (let i = 0; i < 5; i++) {
      await monitor.tick();
      const text = (await app.inject('/metrics')).body;
      cpu.push(Number(/wattsched_pod_cpu_seconds_total\{[^}]*\} ([\d.e-]+)/.exec(text)?.[1]));
      joules.push(Number(/wattsched_pod_joules_total\{[^}]*\} ([\d.e-]+)/.exec(text)?.[1]));
    }
    // 0.5 CPU s per interval after the first reading, through the replacement at the third (the old re-sum fell
    // back to 0.5 there): 0, 0.5, 1, 1.5, 2; joules 12.5 per interval.
    expect(cpu).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(joules).toEqual([0, 12.5, 25, 37.5, 50]);
  });

  test('promtool check metrics is clean on /metrics', async ({ app, monitor }) => {
    await monitor.tick();
    await monitor.tick();
    const text = (await app.inject('/metrics')).body;
    expect(promtoolLint(text)).toBe('');
  });

  test('/metrics label sets: escaped as the text format says, renamed pods shown by their new name only, equal sets merged', async ({ app, monitor }) => {
    const ledger = monitor.energy!.ledger;
    const entry = (podUid: string, pod: string, watts: number) => ({ podUid, labels: { pod, namespace: 'ns', workload: '' }, container: 'app', watts, cpuSeconds: 0, contextSwitches: 0 });
    const iv = (containers: ReturnType<typeof entry>[]) => ({ atMs: 0, seconds: 1, containers, system: [], zones: [], node: { source: 'model', watts: 10 } });
    const watts = async () => [...(await app.inject('/metrics')).body.matchAll(/^wattsched_pod_watts\{(.*)\} (.*)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    // Backslash, double quote and newline in a label value become \\, \" and \n (Prometheus text format 0.0.4).
    ledger.apply(iv([entry('u1', 'we"b\\1\nx', 2)]));
    expect(await watts()).toEqual(['pod="we\\"b\\\\1\\nx",namespace="ns",workload="" 2']);
    expect(await watts()).toEqual(['pod="we\\"b\\\\1\\nx",namespace="ns",workload="" 2']);
    // The pod watch names the pod later: the same series (by UID in the ledger) now carries the new name, once.
    ledger.apply(iv([entry('u1', 'web-1', 3)]));
    expect(await watts()).toEqual(['pod="web-1",namespace="ns",workload="" 3']);
    // Two UIDs with one pod name (a StatefulSet pod recreated) are one label set: a gauge keeps the last value.
    ledger.apply(iv([entry('u1', 'web-1', 3), entry('u2', 'web-1', 4)]));
    expect(await watts()).toEqual(['pod="web-1",namespace="ns",workload="" 4']);
  });

  test('/metrics: every metric family is written exactly as prom-client formats the same series', async ({ monitor }) => {
    const { registry } = createMetrics(monitor, { keplerNames: true, node: 'n1' });
    await monitor.tick();
    await monitor.tick();
    // A label value with every character the text format escapes, and two UIDs merged into one label set.
    const entry = (podUid: string, watts: number) => ({ podUid, labels: { pod: 'a\\b"c\nd', namespace: 'ns', workload: 'ns/Deployment/w' }, container: 'app', watts, cpuSeconds: 1, contextSwitches: 2 });
    monitor.energy!.ledger.apply({ atMs: 1, seconds: 1, containers: [entry('u1', 2), entry('u2', 3)], system: [{ name: 'kernel', watts: 1, cpuSeconds: 0, contextSwitches: 0 }], zones: [], node: { source: 'model', watts: 6 } });
    const own = registry as unknown as FormatOne;
    const promClient = (Registry.prototype as unknown as FormatOne).getMetricsAsString;
    let compared = 0;
    for (const m of registry.getMetricsAsArray()) {
      const name = (m as unknown as { name: string }).name;
      if (name.includes('_process_') || name.includes('_nodejs_')) continue; // their values move between two calls
      const metric = m as unknown as Metric;
      expect(await own.getMetricsAsString(metric), name).toBe(await promClient.call(registry, metric));
      compared += 1;
    }
    expect(compared).toBeGreaterThan(30);
    expect(await registry.metrics()).toContain('wattsched_pod_joules_total{pod="a\\\\b\\"c\\nd",namespace="ns",workload="ns/Deployment/w"} 5');
  });

  test('unknown routes are 404, not a crash', async ({ app }) => {
    expect((await app.inject('/v1/nodes')).statusCode).toBe(404);
  });
});
