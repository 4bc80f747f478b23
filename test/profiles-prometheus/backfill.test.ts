// The Prometheus profile source against a real Prometheus whose history is known exactly: the agents' per-pod
// counters are written as OpenMetrics with chosen slopes, turned into TSDB blocks by promtool (Prometheus's own
// backfill), and served by a Prometheus started on them. The decayed mean, quantiles and watts the PromQL returns are
// worked out by hand below; an extender restart (a new store) reads back the same profile; a Prometheus that stops
// answering is counted and the agents' feed takes over.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PrometheusProfileStore } from '../../src/extender/profiles/prometheus.js';
import { MemoryProfileStore, type MemoryStoreLimits } from '../../src/extender/profiles/store.js';
import { freePort, hasBinary, sleep, startPrometheus, type RunningPrometheus } from './prom.js';

const cli = resolve('dist/src/cli/main.js');
const why = !hasBinary('prometheus') || !hasBinary('promtool') ? 'needs the prometheus package (prometheus and promtool)' : null;

// Ten minutes in the past, on a minute: every 15 s sample and every 60 s step fall on the same grid.
const N = Math.floor(Date.now() / 60_000) * 60 - 600;
const SCRAPE = 15;
const H = 1800; // half-life, s
const source = { url: '', queryIntervalSeconds: 60, timeoutMs: 10_000, lookbackSeconds: 3600, stepSeconds: 60, rateWindowSeconds: 120 };
const limits: MemoryStoreLimits = { halfLifeSeconds: H, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 3 };

// Three pods, each a piecewise-linear counter from N−7200 to N:
//   web-a (shop/Deployment/web): 0.2 cores and 5 W throughout;
//   web-b (shop/Deployment/web): idle until N−1800, then 1 core and 20 W;
//   db-0  (shop/StatefulSet/db): 0.5 cores and 8 W throughout.
// A system row without a workload must be left out.
interface Series { pod: string; workload: string; coresAt: (t: number) => number; wattsAt: (t: number) => number }
const after = (t0: number, slope: number) => (t: number) => Math.max(0, t - t0) * slope;
const series: Series[] = [
  { pod: 'web-a', workload: 'shop/Deployment/web', coresAt: after(N - 7200, 0.2), wattsAt: after(N - 7200, 5) },
  { pod: 'web-b', workload: 'shop/Deployment/web', coresAt: after(N - 1800, 1), wattsAt: after(N - 1800, 20) },
  { pod: 'db-0', workload: 'shop/StatefulSet/db', coresAt: after(N - 7200, 0.5), wattsAt: after(N - 7200, 8) },
  { pod: 'kernel', workload: '', coresAt: after(N - 7200, 3), wattsAt: after(N - 7200, 50) },
];

function openMetrics(): string {
  const lines: string[] = [];
  for (const [family, pick] of [
    ['wattsched_pod_cpu_seconds', (s: Series, t: number) => s.coresAt(t)],
    ['wattsched_pod_joules', (s: Series, t: number) => s.wattsAt(t)],
  ] as const) {
    lines.push(`# TYPE ${family} counter`);
    for (const s of series) {
      // Counters start at 1000, not 0, so rate() never meets the zero-crossing limit of its extrapolation.
      for (let t = N - 7200; t <= N; t += SCRAPE) lines.push(`${family}_total{namespace="shop",pod="${s.pod}",workload="${s.workload}"} ${1000 + pick(s, t)} ${t}`);
    }
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}

// By hand. Steps are t_k = N − 60k; Prometheus 2.x ranges include both ends, so k = 0..60 (61 steps). A step's
// weight is 2^((t_k − N)/H) = r^k with r = 2^(−60/1800). Every 120 s rate window has samples exactly on both edges,
// so rate() is the counter's increase over the window / 120 with no extrapolation:
//   web-a: 0.2 at every step; web-b: 1 for k ≤ 28, 0.5 at k = 29 (window N−1860..N−1740 holds 60 s of work), 0 for
//   k ≥ 30; db-0: 0.5 at every step.
const r = 2 ** (-60 / H);
const geo = (from: number, to: number) => (r ** from - r ** (to + 1)) / (1 - r); // Σ_{k=from}^{to} r^k
const G = geo(0, 60);
const webWeight = 2 * G;
const webMean = (0.2 * G + 1 * geo(0, 28) + 0.5 * r ** 29) / webWeight;
const webWatts = (5 * G + 20 * geo(0, 28) + 10 * r ** 29) / webWeight;
// Quantiles from the weighted histogram, read as histogram_quantile() reads classic buckets. The weight at or
// below each bound: web-b's zeros (k ≥ 30) are under 0.01; web-a's 0.2s join at 0.25; web-b's 0.5 at 0.5; its 1s at 1.
const zeros = geo(30, 60);
// p50: rank G lies between the 0.1 bound (zeros) and the 0.25 bound (zeros + G).
const webP50 = 0.1 + (0.25 - 0.1) * ((G - zeros) / G);
// p95: rank 0.95·2G lies between the 0.75 bound (zeros + G + r^29) and the 1 bound (2G).
const below75 = zeros + G + r ** 29;
const webP95 = 0.75 + (1 - 0.75) * ((0.95 * webWeight - below75) / (webWeight - below75));

let dir: string;
let prom: RunningPrometheus;
beforeAll(async () => {
  if (why) return;
  dir = mkdtempSync(join(tmpdir(), 'wattsched-prom-profiles-'));
  writeFileSync(join(dir, 'history.om'), openMetrics());
  execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'history.om'), join(dir, 'data')], { stdio: 'ignore' });
  prom = await startPrometheus(dir, join(dir, 'data'), []);
}, 120_000);
afterAll(async () => {
  await prom?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(why !== null)(`Prometheus profile source over a known history${why ? ` (skipped: ${why})` : ''}`, () => {
  const at = { ms: N * 1000 };
  const store = () => new PrometheusProfileStore({ ...source, url: prom.url }, limits, new MemoryProfileStore(limits), undefined, () => at.ms);

  test('the decayed mean, quantiles and watts are the ones worked out by hand', async () => {
    const s = store();
    expect(await s.refresh()).toBe(true);
    const web = s.profile('shop/Deployment/web', at.ms);
    expect(web).toBeDefined();
    expect(web!.cores.mean).toBeCloseTo(webMean, 9);
    expect(web!.cores.p50).toBeCloseTo(webP50, 9);
    expect(web!.cores.p95).toBeCloseTo(webP95, 9);
    expect(web!.watts).toBeCloseTo(webWatts, 9);
    expect(web!.effectiveSamples).toBeCloseTo(webWeight, 9);
    expect(web).toMatchObject({ workload: 'shop/Deployment/web', namespace: 'shop', name: 'web', samples: 122, ageSeconds: 0, origin: 'prometheus' });
    // One pod at a constant 0.5 cores: every quantile is inside the (0.25, 0.5] bucket, linearly placed.
    const db = s.profile('shop/StatefulSet/db', at.ms);
    expect(db!.cores.mean).toBeCloseTo(0.5, 9);
    expect(db!.cores.p50).toBeCloseTo(0.25 + 0.25 * 0.5, 9);
    expect(db!.cores.p95).toBeCloseTo(0.25 + 0.25 * 0.95, 9);
    expect(db!.watts).toBeCloseTo(8, 9);
    expect(db!.samples).toBe(61);
    expect(s.inNamespace('shop', at.ms).map((p) => p.workload).sort()).toEqual(['shop/Deployment/web', 'shop/StatefulSet/db']);
    expect(s.stats().workloads).toBe(2); // the workload-less system row is not a profile
  });

  test('an extender restart loses no history: a new store reads back the same profiles', async () => {
    const before = store();
    await before.refresh();
    const restarted = store(); // nothing carried over: a fresh process with an empty agents' feed
    expect(restarted.profile('shop/Deployment/web', at.ms)).toBeUndefined();
    expect(await restarted.refresh()).toBe(true);
    for (const id of ['shop/Deployment/web', 'shop/StatefulSet/db']) expect(restarted.profile(id, at.ms)).toEqual(before.profile(id, at.ms));
    // The agents-only store, restarted, has nothing until the agents are heard again.
    expect(new MemoryProfileStore(limits).profile('shop/Deployment/web', at.ms)).toBeUndefined();
  });

  test('a cached answer ages exactly: one half-life later it weighs half and is a half-life older', async () => {
    const s = store();
    await s.refresh();
    const now = at.ms + H * 1000; // no refresh in between (and Prometheus's result is then no longer current)
    const aged = s.profile('shop/StatefulSet/db', now);
    expect(aged!.effectiveSamples).toBeCloseTo(G / 2, 9);
    expect(aged!.ageSeconds).toBeCloseTo(H, 9);
    expect(aged!.cores.mean).toBeCloseTo(0.5, 9);
  });

  test('the extender process: /explain names Prometheus as the history, and a restarted process has it at once', { timeout: 120_000 }, async () => {
    if (!existsSync(cli)) throw new Error('needs the built CLI (npm run build)');
    const config = join(dir, 'extender.json');
    writeFileSync(config, JSON.stringify({
      kubernetes: { mode: 'off' },
      nodes: [{ name: 'node-a', annotations: { 'wattsched.io/power-curve': '100,110,120,130,140,150,160,170,180,190,200' }, allocatableMilliCPU: 4000 }],
      profiles: { source: 'prometheus', halfLifeSeconds: H, prometheus: { ...source, url: prom.url, queryIntervalSeconds: 2 } },
    }));
    const pod = { metadata: { name: 'web-9', namespace: 'shop', uid: 'uid-web-9', labels: { 'pod-template-hash': 'abc12' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc12', controller: true }] }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: '2' } } }] } };
    const demandOf = async (): Promise<{ cores: number; source: string; detail: string }> => {
      const port = await freePort();
      const child: ChildProcess = spawn(process.execPath, [cli, 'extender', '--config', config, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn'], { stdio: 'ignore' });
      try {
        const base = `http://127.0.0.1:${port}`;
        // Waits (bounded) for the process to listen and for its first background query to have answered.
        for (let i = 0; ; i++) {
          const up = await fetch(`${base}/metrics`).then((r) => r.text()).catch(() => '');
          // The sample line only: the metric's HELP text also begins "1 while Prometheus answered".
          if (/^wattsched_extender_profile_source_up 1$/m.test(up)) break;
          if (i > 200 || child.exitCode !== null) throw new Error(`extender never reported Prometheus up (exit ${child.exitCode})`);
          await sleep(200);
        }
        const res = await fetch(`${base}/prioritize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Pod: pod, NodeNames: ['node-a'] }) });
        expect(res.status).toBe(200);
        return ((await (await fetch(`${base}/explain/shop/web-9`)).json()) as { demand: { cores: number; source: string; detail: string } }).demand;
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    };
    const first = await demandOf();
    // The pod asks for 2 cores; its workload's history (web-a at 0.2, web-b at 0 then 1) says far less.
    expect(first).toMatchObject({ source: 'history', detail: expect.stringContaining('from Prometheus') });
    expect(first.cores).toBeGreaterThan(0.2);
    expect(first.cores).toBeLessThan(0.6);
    const second = await demandOf();
    expect(second).toMatchObject({ source: 'history', detail: expect.stringContaining('from Prometheus') });
    // Evaluated a few seconds later: the same history (a step may leave the window's old end: within 2 %).
    expect(Math.abs(second.cores - first.cores) / first.cores).toBeLessThan(0.02);
  });

  test('a failing Prometheus is counted and the agents’ feed answers instead', async () => {
    const feed = new MemoryProfileStore(limits);
    const s = new PrometheusProfileStore({ ...source, url: prom.url }, limits, feed, undefined, () => at.ms);
    const registry = new Registry();
    s.registerMetrics(registry);
    await s.refresh();
    const workload = { kind: 'Deployment' as const, namespace: 'shop', name: 'web', id: 'shop/Deployment/web' };
    for (let i = 0; i < 4; i++) feed.record(workload, { at: at.ms, cores: 3, watts: 40 });
    // Current: Prometheus's longer history wins over the feed's few samples.
    expect(s.profile('shop/Deployment/web', at.ms)!.cores.mean).toBeCloseTo(webMean, 9);
    await prom.stop();
    expect(await s.refresh()).toBe(false);
    expect(s.queries).toEqual({ ok: 1, failed: 1 });
    // Three query intervals after the last answer it is no longer current: the live feed answers ...
    const later = at.ms + 3 * source.queryIntervalSeconds * 1000 + 1;
    expect(s.profile('shop/Deployment/web', later)).toMatchObject({ cores: { mean: 3 }, samples: 4 });
    expect(s.profile('shop/Deployment/web', later)!.origin).toBeUndefined();
    // ... and where the feed has nothing, the last answer from Prometheus still beats a cold start.
    expect(s.profile('shop/StatefulSet/db', later)).toMatchObject({ origin: 'prometheus', cores: { mean: 0.5 } });
    at.ms = later;
    const text = await registry.metrics();
    expect(text).toContain('wattsched_extender_profile_queries_total{outcome="ok"} 1');
    expect(text).toContain('wattsched_extender_profile_queries_total{outcome="failed"} 1');
    expect(text).toContain('wattsched_extender_profile_source_up 0');
  });
});
