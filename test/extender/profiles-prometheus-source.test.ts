// The Prometheus profile source's pure parts and its configuration: how query rows become summaries, the quantile
// read from the weighted histogram (the rule of PromQL's histogram_quantile), the config rules checked once at
// load, and a Prometheus that answers nonsense. The source against a real Prometheus: test/profiles-prometheus/.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import { bucketQuantile, nameFromId, PrometheusProfileStore, profileQuery, summariesFromRows } from '../../src/extender/profiles/prometheus.js';
import { MemoryProfileStore, type MemoryStoreLimits } from '../../src/extender/profiles/store.js';
import { predictDemand } from '../../src/extender/profiles/demand.js';
import { ExtenderConfigSchema, extenderConfigProblems } from '../../src/shared/config/extender.js';
import { loadConfig } from '../../src/shared/config/load.js';
import { TelemetryStore } from '../../src/extender/telemetry/node-telemetry.js';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { promtoolLint } from '../promtool.js';

const limits: MemoryStoreLimits = { halfLifeSeconds: 3600, maxWorkloads: 2, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 1 };

describe('bucketQuantile', () => {
  test('linear inside the bucket that reaches the rank, from 0 below the first bound', () => {
    // Total 10; cumulative 2 at 0.1, 6 at 0.5, 10 at 1. p50: rank 5, in (0.1, 0.5]: 0.1 + 0.4 * (5 - 2) / 4 = 0.4.
    const b = [{ le: 0.5, weight: 6 }, { le: 0.1, weight: 2 }, { le: 1, weight: 10 }];
    expect(bucketQuantile(0.5, b, 10)).toBeCloseTo(0.4, 12);
    // p10: rank 1, in the first bucket (0, 0.1]: 0.1 * 1 / 2 = 0.05.
    expect(bucketQuantile(0.1, b, 10)).toBeCloseTo(0.05, 12);
    // More weight than the last finite bound holds (values above 1): the quantile is that bound, as PromQL answers.
    expect(bucketQuantile(0.95, [{ le: 1, weight: 5 }], 10)).toBe(1);
  });
});

describe('summariesFromRows', () => {
  const row = (workload: string, stat: string, v: number, le?: string) => ({ metric: { namespace: 'shop', workload, stat, ...(le ? { le } : {}) }, value: [100, String(v)] as [number, string] });
  test('groups rows by workload and reads each stat', () => {
    const rows = [
      row('shop/Deployment/web', 'mean', 0.3),
      row('shop/Deployment/web', 'weight', 4),
      row('shop/Deployment/web', 'samples', 6),
      row('shop/Deployment/web', 'newest', 90),
      row('shop/Deployment/web', 'watts', 12),
      row('shop/Deployment/web', 'bucket', 0, '0.1'),
      row('shop/Deployment/web', 'bucket', 4, '0.5'),
      // No weight: not a usable profile.
      row('shop/Job/batch', 'mean', 1),
      // Without watts rows (no power accounting) watts is null.
      row('custom-id', 'mean', 2),
      row('custom-id', 'weight', 1),
    ];
    const out = summariesFromRows(rows, 100);
    expect(out).toEqual([
      // All weight in (0.1, 0.5]: p50 0.1 + 0.4 * 2/4 = 0.3, p95 0.1 + 0.4 * 3.8/4 = 0.48. Newest step 10 s ago.
      { workload: 'shop/Deployment/web', namespace: 'shop', name: 'web', cores: { mean: 0.3, p50: expect.closeTo(0.3, 12), p95: expect.closeTo(0.48, 12) }, watts: 12, samples: 6, effectiveSamples: 4, ageSeconds: 10, origin: 'prometheus' },
      { workload: 'custom-id', namespace: 'shop', name: 'custom-id', cores: { mean: 2, p50: 0, p95: 0 }, watts: null, samples: 0, effectiveSamples: 1, ageSeconds: 0, origin: 'prometheus' },
    ]);
  });
  test('names: the part after namespace and kind; an annotation override is kept whole', () => {
    expect(nameFromId('shop/Deployment/web', 'shop')).toBe('web');
    expect(nameFromId('shop/Other/Rollout/canary', 'shop')).toBe('Rollout/canary');
    expect(nameFromId('team-a/batch', 'shop')).toBe('team-a/batch');
  });
});

describe('profileQuery', () => {
  test('weighs each step by 2^((step − now)/halfLife) over the lookback, only pods with a workload', () => {
    const q = profileQuery({ lookbackSeconds: 86400, stepSeconds: 300, rateWindowSeconds: 300 }, 21600, 1_700_000_000.5);
    expect(q).toContain('rate(wattsched_pod_cpu_seconds_total{workload!=""}[300s])');
    expect(q).toContain('rate(wattsched_pod_joules_total{workload!=""}[300s])');
    expect(q).toContain('2 ^ ((time() - 1700000000.5) / 21600)');
    expect(q).toContain('[86400s:300s]');
    for (const stat of ['mean', 'weight', 'samples', 'newest', 'watts', 'bucket']) expect(q).toContain(`"stat", "${stat}"`);
  });
});

describe('config', () => {
  test('source prometheus needs a URL; the rule is checked once at load with the schema', () => {
    expect(() => loadConfig(ExtenderConfigSchema, { flags: { profiles: { source: 'prometheus' } } }, extenderConfigProblems)).toThrow(/profiles\.prometheus\.url: required when profiles\.source is prometheus/);
    const c = loadConfig(ExtenderConfigSchema, { flags: { profiles: { source: 'prometheus', prometheus: { url: 'http://prom:9090' } } } }, extenderConfigProblems);
    expect(c.profiles.prometheus).toMatchObject({ url: 'http://prom:9090', queryIntervalSeconds: 60, timeoutMs: 10000, lookbackSeconds: 86400, stepSeconds: 300, rateWindowSeconds: 300 });
    expect(loadConfig(ExtenderConfigSchema, {}, extenderConfigProblems).profiles.source).toBe('agents');
    expect(() => loadConfig(ExtenderConfigSchema, { flags: { profiles: { prometheus: { url: 'prom:9090' } } } }, extenderConfigProblems)).toThrow(/profiles\.prometheus\.url/);
    expect(() => loadConfig(ExtenderConfigSchema, { env: { WATTSCHED_EXTENDER_PROFILES__SOURCE: 'influx' }, envPrefix: 'WATTSCHED_EXTENDER_' }, extenderConfigProblems)).toThrow(/profiles\.source/);
    expect(() => loadConfig(ExtenderConfigSchema, { flags: { telemetry: { staleAfterSeconds: 60, forgetAfterSeconds: 30 } } }, extenderConfigProblems)).toThrow(/forgetAfterSeconds: must be at least/);
  });
});

describe('a Prometheus that answers badly', () => {
  test('HTTP errors and non-vectors are failures: counted, the agents’ feed answers, /explain says so', async () => {
    let answer = { status: 500, body: '{"status":"error","error":"query timed out"}' };
    const server = createServer((_req, res) => res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const feed = new MemoryProfileStore(limits);
      const lines: { level: number; msg: string; error?: string }[] = [];
      const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
      const s = new PrometheusProfileStore({ url, queryIntervalSeconds: 1, timeoutMs: 2000, lookbackSeconds: 60, stepSeconds: 1, rateWindowSeconds: 2 }, limits, feed, log, () => 1000);
      expect(await s.refresh()).toBe(false);
      expect(await s.refresh()).toBe(false); // the same reason again: counted, not logged again
      answer = { status: 200, body: '{"status":"success","data":{"resultType":"matrix","result":[]}}' };
      expect(await s.refresh()).toBe(false);
      answer = { status: 200, body: '<html>proxy error</html>' };
      expect(await s.refresh()).toBe(false);
      expect(s.queries).toEqual({ ok: 0, failed: 4 });
      // One warning per change of reason, each naming it.
      expect(lines.map((l) => [l.level, l.error])).toEqual([
        [40, 'HTTP 500: query timed out'],
        [40, 'expected a vector, got matrix'],
        [40, 'HTTP 200: not a Prometheus API answer: <html>proxy error</html>'],
      ]);
      expect(s.healthy(1000)).toBe(false);
      // The new series pass Prometheus's own linter, as every /metrics must.
      const registry = new Registry();
      s.registerMetrics(registry);
      new TelemetryStore(1000).registerMetrics(registry);
      const text = await registry.metrics();
      expect(text).toContain('wattsched_extender_profile_queries_total{outcome="failed"} 4');
      expect(text).toContain('wattsched_extender_profile_source_up 0');
      expect(text).toContain('wattsched_extender_telemetry_forgotten_nodes_total 0');
      expect(promtoolLint(text)).toBe('');
      // Records reach the agents' feed, which answers.
      s.record({ kind: 'Deployment', namespace: 'shop', name: 'web', id: 'shop/Deployment/web' }, { at: 1000, cores: 1.5, watts: null });
      const pod = { namespace: 'shop', name: 'web-1', uid: 'u1', cpuMilli: 100, explicitCpuRequest: true, workload: { kind: 'Deployment' as const, namespace: 'shop', name: 'web', id: 'shop/Deployment/web' } };
      const d = predictDemand(pod, s, 1000);
      expect(d).toMatchObject({ source: 'history', cores: 1.5 });
      expect(d.detail).toContain("from the agents' feed");
      // Now a good answer with that workload: Prometheus is current and named in /explain.
      answer = { status: 200, body: JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [
        { metric: { namespace: 'shop', workload: 'shop/Deployment/web', stat: 'mean' }, value: [1, '0.25'] },
        { metric: { namespace: 'shop', workload: 'shop/Deployment/web', stat: 'weight' }, value: [1, '5'] },
      ] } }) };
      expect(await s.refresh()).toBe(true);
      expect(lines.at(-1)).toMatchObject({ level: 30, msg: 'Prometheus profile source answering again' });
      const d2 = predictDemand(pod, s, 1000);
      expect(d2).toMatchObject({ source: 'history', cores: 0.25 });
      expect(d2.detail).toContain('from Prometheus');
    } finally {
      server.close();
    }
  });

  test('the cache keeps the best-supported workloads when its bounds bite', async () => {
    const rows = ['a', 'b', 'c'].flatMap((w, i) => [
      { metric: { namespace: 'n', workload: `n/Deployment/${w}`, stat: 'mean' }, value: [1, '1'] },
      { metric: { namespace: 'n', workload: `n/Deployment/${w}`, stat: 'weight' }, value: [1, String([5, 2, 9][i])] },
    ]);
    const server = createServer((_req, res) => res.writeHead(200).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: rows } })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const s = new PrometheusProfileStore({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, queryIntervalSeconds: 1, timeoutMs: 2000, lookbackSeconds: 60, stepSeconds: 1, rateWindowSeconds: 2 }, limits, new MemoryProfileStore(limits), undefined, () => 1000);
      expect(await s.refresh()).toBe(true);
      // maxWorkloads 2: b (weight 2) is dropped, a (5) and c (9) stay.
      expect(s.inNamespace('n', 1000).map((p) => p.workload).sort()).toEqual(['n/Deployment/a', 'n/Deployment/c']);
      expect(s.profile('n/Deployment/b', 1000)).toBeUndefined();
    } finally {
      server.close();
    }
  });
});
