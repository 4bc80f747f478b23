// Workload profiles: decayed aggregation, the store's bounds, and the cold-start chain. Every expected value is
// worked out by hand in the comment beside it.
import { describe, expect, test } from 'vitest';
import { decayWeight, summarise, weightedQuantile } from '../../../src/extender/profiles/profile.js';
import { MemoryProfileStore, type MemoryStoreLimits } from '../../../src/extender/profiles/store.js';
import { predictDemand } from '../../../src/extender/profiles/demand.js';
import { podDemand } from '../../../src/extender/protocol/pod.js';
import type { Workload } from '../../../src/shared/wire/agent.js';
import { pendingPod } from './fixtures.js';

const HOUR = 3600_000;
const wl = (namespace: string, name: string): Workload => ({ kind: 'Deployment', namespace, name, id: `${namespace}/Deployment/${name}` });
const limits = (over: Partial<MemoryStoreLimits> = {}): MemoryStoreLimits => ({ halfLifeSeconds: 3600, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 1, ...over });

describe('profile maths', () => {
  test('a sample one half-life old weighs half, two weigh a quarter', () => {
    expect(decayWeight(0, HOUR)).toBe(1);
    expect(decayWeight(HOUR, HOUR)).toBe(0.5);
    expect(decayWeight(2 * HOUR, HOUR)).toBe(0.25);
  });

  test('weighted quantiles: nearest rank with equal weights, shifted by weight', () => {
    // [1,2,3,4] equal weights: half the weight is reached at 2, 95 % only at 4.
    expect(weightedQuantile([4, 1, 3, 2], [1, 1, 1, 1], 0.5)).toBe(2);
    expect(weightedQuantile([4, 1, 3, 2], [1, 1, 1, 1], 0.95)).toBe(4);
    // Weight 3 on 1 and 1 on 9: 1 carries 75 % of the weight, so p50 is 1 and p95 is 9.
    expect(weightedQuantile([1, 9], [3, 1], 0.5)).toBe(1);
    expect(weightedQuantile([1, 9], [3, 1], 0.95)).toBe(9);
  });

  test('decayed mean, quantiles and watts over two samples an hour apart', () => {
    const now = 10 * HOUR;
    // Weights 1 (now: 2 cores, 10 W) and 0.5 (an hour ago: 4 cores, 20 W): mean (2 + 2) / 1.5, watts (10 + 10) / 1.5.
    const s = summarise({ workload: 'w', namespace: 'n', name: 'w' }, [
      { at: now - HOUR, cores: 4, watts: 20 },
      { at: now, cores: 2, watts: 10 },
    ], now, HOUR);
    expect(s?.cores.mean).toBeCloseTo(4 / 1.5, 12);
    expect(s?.watts).toBeCloseTo(20 / 1.5, 12);
    // Total weight 1.5: 2 cores alone carry 1 ≥ 0.75 (p50) but < 1.425 (p95).
    expect(s?.cores.p50).toBe(2);
    expect(s?.cores.p95).toBe(4);
    expect(s?.effectiveSamples).toBeCloseTo(1.5, 12);
    expect(s?.samples).toBe(2);
    expect(s?.ageSeconds).toBe(0);
    // Two hours later both have decayed by a quarter more: the mean is unchanged, age is 7200 s.
    const later = summarise({ workload: 'w', namespace: 'n', name: 'w' }, [{ at: now - HOUR, cores: 4, watts: 20 }, { at: now, cores: 2, watts: 10 }], now + 2 * HOUR, HOUR);
    expect(later?.cores.mean).toBeCloseTo(4 / 1.5, 12);
    expect(later?.effectiveSamples).toBeCloseTo(1.5 / 4, 12);
    expect(later?.ageSeconds).toBe(7200);
  });

  test('samples without watts count for cores only', () => {
    const s = summarise({ workload: 'w', namespace: 'n', name: 'w' }, [{ at: 0, cores: 1, watts: null }, { at: 0, cores: 3, watts: 8 }], 0, HOUR);
    expect(s?.cores.mean).toBe(2);
    expect(s?.watts).toBe(8);
  });
});

describe('MemoryProfileStore', () => {
  test('needs minEffectiveSamples of decayed weight before a history counts', () => {
    const store = new MemoryProfileStore(limits({ minEffectiveSamples: 1.5 }));
    store.record(wl('shop', 'web'), { at: 0, cores: 1, watts: null });
    expect(store.profile('shop/Deployment/web', 0)).toBeUndefined(); // weight 1 < 1.5
    store.record(wl('shop', 'web'), { at: 0, cores: 3, watts: null });
    expect(store.profile('shop/Deployment/web', 0)?.cores.mean).toBe(2); // weight 2
    expect(store.profile('shop/Deployment/web', HOUR)).toBeUndefined(); // weight 1 after one half-life
  });

  test('keeps the newest maxSamplesPerWorkload samples and drops ones older than ten half-lives', () => {
    const store = new MemoryProfileStore(limits({ maxSamplesPerWorkload: 3 }));
    for (const [at, cores] of [[0, 100], [1, 1], [2, 2], [3, 3]] as const) store.record(wl('shop', 'web'), { at, cores, watts: null });
    // 100 was pushed out; 1, 2, 3 at (almost) equal weight average 2.
    expect(store.profile('shop/Deployment/web', 3)?.samples).toBe(3);
    expect(store.profile('shop/Deployment/web', 3)?.cores.mean).toBeCloseTo(2, 6);
    store.record(wl('shop', 'web'), { at: 3 + 10 * HOUR + 1, cores: 7, watts: null });
    // Every earlier sample is now more than ten half-lives old and was dropped.
    expect(store.profile('shop/Deployment/web', 3 + 10 * HOUR + 1)).toMatchObject({ samples: 1, cores: { mean: 7 } });
  });

  test('bounded in workloads: the least recently used goes, and leaves its namespace index', () => {
    const store = new MemoryProfileStore(limits({ maxWorkloads: 2 }));
    store.record(wl('shop', 'a'), { at: 0, cores: 1, watts: null });
    store.record(wl('shop', 'b'), { at: 0, cores: 1, watts: null });
    store.record(wl('shop', 'c'), { at: 0, cores: 1, watts: null });
    expect(store.profile('shop/Deployment/a', 0)).toBeUndefined();
    expect(store.inNamespace('shop', 0).map((s) => s.name).sort()).toEqual(['b', 'c']);
    expect(store.stats().workloads).toBe(2);
  });

  test('bounded in estimated bytes', () => {
    // Each entry: 200 + 2·(len(id) + len(name) + len(ns)) + 48 per sample. "shop/Deployment/wN" (18), "wN" (2), "shop" (4):
    // 200 + 48 + 48 = 296 bytes with one sample. A 1024-byte bound holds three of them.
    const store = new MemoryProfileStore(limits({ maxBytes: 1024 }));
    for (let i = 0; i < 6; i++) store.record(wl('shop', `w${i}`), { at: 0, cores: 1, watts: null });
    expect(store.stats()).toEqual({ workloads: 3, bytes: 3 * 296 });
    expect(store.profile('shop/Deployment/w5', 0)).toBeDefined();
    expect(store.profile('shop/Deployment/w2', 0)).toBeUndefined();
  });
});

describe('predicted demand: history > hint > requests > limits > sibling > default', () => {
  const store = new MemoryProfileStore(limits());
  store.record(wl('shop', 'web-frontend'), { at: 0, cores: 2.5, watts: 30 });
  store.record(wl('shop', 'batch'), { at: 0, cores: 0.2, watts: 3 });
  store.record(wl('ops', 'web-other'), { at: 0, cores: 9, watts: 99 });

  const demand = (pod: ReturnType<typeof pendingPod>) => predictDemand(podDemand(pod as never), store, 0);

  test('history wins over a request, a hint and a limit', () => {
    const d = demand(pendingPod('web-frontend-x1', 'web-frontend', { request: '100m', limit: '4', annotations: { 'wattsched.io/expected-cpu': '1' } }));
    expect(d).toMatchObject({ source: 'history', cores: 2.5 });
  });

  test('without history: the expected-cpu hint, then requests, then limits', () => {
    expect(demand(pendingPod('api-1', 'api', { request: '250m', annotations: { 'wattsched.io/expected-cpu': '1.5' } }))).toMatchObject({ source: 'annotation', cores: 1.5 });
    expect(demand(pendingPod('api-1', 'api', { request: '250m', limit: '2' }))).toMatchObject({ source: 'requests', cores: 0.25 });
    expect(demand(pendingPod('api-1', 'api', { limit: '2' }))).toMatchObject({ source: 'limits', cores: 2 });
  });

  test('an invalid hint is skipped with a warning', () => {
    const d = demand(pendingPod('api-1', 'api', { request: '250m', annotations: { 'wattsched.io/expected-cpu': 'lots' } }));
    expect(d.source).toBe('requests');
    expect(d.warning).toMatch(/expected-cpu/);
  });

  test('nothing stated: the namespace sibling with the longest common name prefix', () => {
    // "web-backend" shares "web-" with web-frontend and nothing with batch; ops/web-other is another namespace.
    expect(demand(pendingPod('web-backend-1', 'web-backend'))).toMatchObject({ source: 'sibling', cores: 2.5 });
  });

  test('nothing stated and no sibling: the default request', () => {
    expect(demand(pendingPod('x-1', 'x', { namespace: 'empty' }))).toMatchObject({ source: 'default-request', cores: 0.1 });
  });
});
