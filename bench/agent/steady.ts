// The agent's steady state in one process, without the machine's noise: 200 pod-shaped cgroups (one container
// each) read by a scripted collector, the real report, attribution, ledger and /metrics registry, one tick per
// "second" as fast as they run. Reports CPU time and bytes allocated per tick, the figures that decide the agent's
// CPU at 200 busy pods (bench/agent/attribution.ts measures the real thing, under whatever load the machine has).
//   node --expose-gc --single-threaded --max-semi-space-size=1 dist/bench/agent/steady.js [--pods 200] [--ticks 3000]   (CPU, GC: as launched)
//   node --expose-gc --max-semi-space-size=64 --min-semi-space-size=64 dist/bench/agent/steady.js     (bytes allocated)
import { randomBytes, randomUUID } from 'node:crypto';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { EnergyLedger } from '../../src/agent/attribution/ledger.js';
import type { Collector, CollectorReading } from '../../src/agent/collector/types.js';
import { createMetrics } from '../../src/agent/exporter/metrics.js';
import { NodePower } from '../../src/agent/meter/layers.js';
import { ModelMeter } from '../../src/agent/meter/model.js';
import { EnergyAccounting } from '../../src/agent/monitor/energy.js';
import { Monitor } from '../../src/agent/monitor/monitor.js';
import { StandalonePods } from '../../src/agent/resource/pods.js';

const { values: args } = parseArgs({ options: { pods: { type: 'string', default: '200' }, ticks: { type: 'string', default: '3000' } } });
const NPODS = Number(args.pods);
const TICKS = Number(args.ticks);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const paths = Array.from({ length: NPODS }, () => `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${randomUUID().replaceAll('-', '_')}.slice/cri-containerd-${randomBytes(32).toString('hex')}.scope`);
paths.push('/', '/system.slice/containerd.service', '/system.slice/kubelet.service', '/user.slice');

/** Every cgroup runs 5 ms and switches 20 times a second, as the bench's busy pods do. */
class SteadyCollector implements Collector {
  readonly name = 'ebpf' as const;
  private n = 0;
  status() {
    return { name: 'ebpf' as const, variant: 'steady', reason: null, attempts: [] };
  }
  counters() {
    const on = { live: true, detail: '' };
    const off = { live: false, detail: '' };
    return { cpu_time: on, context_switches: on, cycles: off, instructions: off, cache_misses: off, cpu_pressure: off };
  }
  async read(): Promise<CollectorReading> {
    this.n++;
    return {
      monotonicNs: this.n * 1e9,
      dropped: 0,
      cgroups: paths.map((path, i) => ({ id: String(1000 + i), path, exited: false, counters: { cpuSeconds: this.n * 0.005, contextSwitches: this.n * 20 } })),
    };
  }
  async close() {}
}

const energy = new EnergyAccounting({
  power: new NodePower([new ModelMeter({ curve: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200], id: 'bench', errorPercent: null, detail: '' })], [], []),
  nodeCpu: () => ({ utilisation: 0.6, busySeconds: 1.2 }),
  ledger: new EnergyLedger({ retentionMs: 300_000, maxPods: 5000 }),
  policy: 'even',
  checkpointPath: null,
  wallMs: () => 0,
});
const monitor = new Monitor({ collector: new SteadyCollector(), pods: new StandalonePods('bench'), layout: { name: 'v2', v2Path: '/x' }, node: 'n', energy });
const { registry } = createMetrics(monitor, { keplerNames: false, node: 'n' });

let gcMs = 0;
let gcs = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    gcMs += e.duration;
    gcs += 1;
  }
}).observe({ entryTypes: ['gc'] });

/** One interval as the agent runs it: a tick, and a /metrics scrape every 15th. */
const step = async (i: number) => {
  await monitor.tick();
  if (i % 15 === 14) await registry.metrics();
};
for (let i = 0; i < 300; i++) await step(i); // warm-up: JIT, maps at their steady sizes

// Bytes allocated, measured with the young generation large enough from the start (--min- and
// --max-semi-space-size=64) that nothing is collected in between: heap growth is then allocation. With the maximum
// alone V8 starts from a small young generation and scavenges within the measurement, which undercounts.
const allocated = async (f: () => Promise<unknown>, n: number): Promise<number> => {
  gc();
  const h0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) await f();
  return (process.memoryUsage().heapUsed - h0) / n;
};
const tickBytes = await allocated(() => monitor.tick(), 10);
const scrapeBytes = await allocated(() => registry.metrics(), 3);

gcMs = 0;
gcs = 0;
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < TICKS; i++) await step(i);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(c0);
await new Promise((r) => setTimeout(r, 10));
const out = {
  pods: NPODS,
  ticks: TICKS,
  cpuUsPerTick: (cpu.user + cpu.system) / TICKS,
  wallUsPerTick: (wallMs * 1000) / TICKS,
  gcUsPerTick: (gcMs * 1000) / TICKS,
  gcsPerTick: gcs / TICKS,
  kbAllocatedPerTick: tickBytes / 1024,
  kbAllocatedPerScrape: scrapeBytes / 1024,
};
console.log(JSON.stringify(out, null, 2));
