import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import type { SimNode, SimPod } from '../../src/sim/data.js';
import { simulate } from '../../src/sim/engine.js';
import type { ClusterView, PodAsk } from '../../src/sim/policy.js';
import { balancedScore, defaultPolicy, fitScore, leastAllocated } from '../../src/sim/policies/default.js';
import { greedyCost, greedyPolicy } from '../../src/sim/policies/greedy.js';
import { createPeaks, fitPeaks, peaksJump, peaksNormalize } from '../../src/sim/policies/peaks.js';
import { tlpPolicy, tlpScore } from '../../src/sim/policies/tlp.js';
import { createWattsched, SHIPPED_EXTENDER_WEIGHT } from '../../src/sim/policies/wattsched.js';

const LINEAR = [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];
// Cheap start, steep end: 10 W per 10 % up to 50 %, then 30 W per 10 %.
const KNEE = [50, 60, 70, 80, 90, 100, 130, 160, 190, 220, 250];
// The same start, then 70 W per 10 %.
const STEEP_KNEE = [50, 60, 70, 80, 90, 100, 170, 240, 310, 380, 450];
// Concave: +100 W over the first 10 %, then +10 W per 10 %.
const CONCAVE = [50, 150, 160, 170, 180, 190, 200, 210, 220, 230, 240];
const node = (name: string, curve: number[], capacityMilli = 10_000, memoryMiB = 1e6): SimNode => ({ name, server: 0, capacityMilli, memoryMiB, curve });
const pod = (name: string, cpuMilli: number, createdS: number, deletedS: number, memoryMiB = 0): SimPod => ({ name, cpuMilli, memoryMiB, createdS, deletedS });
const usage = (pods: SimPod[]): Float64Array => Float64Array.from(pods, (p) => p.cpuMilli);
const view = (nodes: SimNode[], requested: number[], requestedMem: number[] = requested.map(() => 0), on = nodes.map(() => 1), powerDown = false): ClusterView => ({
  nodes,
  requestedMilli: Float64Array.from(requested),
  requestedMemMiB: Float64Array.from(requestedMem),
  usageMilli: Float64Array.from(requested),
  pods: Int32Array.from(requested, (r) => (r > 0 ? 1 : 0)),
  on: Uint8Array.from(on),
  powerDown,
});
const ask = (cpuMilli: number, memoryMiB = 0): PodAsk => ({ index: 0, name: 'p', cpuMilli, memoryMiB, usageMilli: cpuMilli });

describe('default: NodeResourcesFit LeastAllocated + BalancedAllocation', () => {
  test.for([
    // [alloc, requested incl. pod, score]
    [4000, 2000, 50], [4000, 4000, 0], [4000, 4001, 0], [3000, 1000, 66], [0, 0, 0],
  ] as const)('LeastAllocated alloc %d req %d → %d', ([a, r, s]) => {
    expect(leastAllocated(a, r)).toBe(s);
  });
  test('fit is the integer mean over cpu and memory; balanced is ⌊(1 − |f_cpu − f_mem|/2)·100⌋', () => {
    // cpu 2000/4000 → 50, memory 2048/8192 → 75: ⌊125/2⌋ = 62. Fractions 0.5 and 0.25: ⌊(1 − 0.125)·100⌋ = 87.
    expect(fitScore(4000, 2000, 8192, 2048)).toBe(62);
    expect(balancedScore(4000, 2000, 8192, 2048)).toBe(87);
    // Over-requested fractions are capped at 1.
    expect(balancedScore(1000, 3000, 1000, 500)).toBe(75);
  });
  test('spreads: three equal nodes, three pods, one per node', async () => {
    const nodes = [node('a', LINEAR), node('b', LINEAR), node('c', LINEAR)];
    const pods = [pod('1', 2000, 0, 10), pod('2', 2000, 1, 10), pod('3', 2000, 2, 10)];
    const r = await simulate(pods, nodes, defaultPolicy, { usageMilli: usage(pods) });
    expect(new Set(r.placement)).toEqual(new Set([0, 1, 2]));
  });
  test('prefers the less allocated node, balanced over cpu and memory', () => {
    const nodes = [node('a', LINEAR, 4000, 8192), node('b', LINEAR, 4000, 8192)];
    // a: cpu 1000 + 1000 of 4000 (50), mem 0 + 2048 of 8192 (75) → 62 + 87 = 149.
    // b: cpu 0 + 1000 (75), mem 4096 + 2048 (25) → 50 + ⌊(1 − |0.25 − 0.75|/2)·100⌋ = 50 + 75 = 125.
    expect(defaultPolicy.score(ask(1000, 2048), [0, 1], view(nodes, [1000, 0], [0, 4096]))).toEqual([149, 125]);
  });
});

describe('peaks', () => {
  test('recovers an exponential model exactly and predicts the jump from it', () => {
    const curve = Array.from({ length: 11 }, (_, k) => 50 + 20 * Math.exp(0.01 * k * 10));
    const m = fitPeaks(curve);
    expect(m.k0).toBeCloseTo(50, 3);
    expect(m.k1).toBeCloseTo(20, 3);
    expect(m.k2).toBeCloseTo(0.01, 6);
    // Empty node, pod half its capacity: 20·(e^0.5 − 1) = 12.974 W.
    expect(peaksJump({ k0: 50, k1: 20, k2: 0.01 }, 1000, 0, 500)).toBeCloseTo(20 * (Math.exp(0.5) - 1), 9);
    // Over capacity: upstream's raw 0.
    expect(peaksJump({ k0: 50, k1: 20, k2: 0.01 }, 1000, 600, 500)).toBe(0);
  });
  test('normalises inverted: least jump 100, most 0, all equal 100', () => {
    expect(peaksNormalize([0, 5, 10])).toEqual([100, 50, 0]);
    expect(peaksNormalize([3, 3])).toEqual([100, 100]);
  });
  test('places on the node whose curve rises least', async () => {
    const pods = [pod('1', 1000, 0, 10)];
    // LINEAR rises 10 W per 1000m of 10,000m; a node with twice the slope (idle 100 → 300 W) rises 20 W.
    const steep = LINEAR.map((w) => 100 + 2 * (w - 100));
    const r = await simulate(pods, [node('steep', steep), node('flat', LINEAR)], createPeaks(), { usageMilli: usage(pods) });
    expect(r.placement[0]).toBe(1);
  });
});

describe('tlp', () => {
  test.for([
    // [used, pod request, score] on 10,000m, target 40 %: predicted pod = 1.5 × request.
    [0, 0, 40], [0, 1000, 63], [2500, 1000, 100], [5500, 1000, 20], [8500, 1000, 0], [9000, 1000, 0],
  ] as const)('used %d + pod %d → %d', ([used, req, score]) => {
    expect(tlpScore(10_000, used, req)).toBe(score);
  });
  test('packs towards the target before spreading', () => {
    const nodes = [node('a', LINEAR), node('b', LINEAR)];
    // a at 20 % → U = 35 → round(60·35/40 + 40) = 93 (U 35 %); b empty → U = 15 → 63.
    expect(tlpPolicy.score(ask(1000), [0, 1], view(nodes, [2000, 0]))).toEqual([93, 63]);
  });
});

describe('greedy', () => {
  test('fewest watts now; waking an off node costs its whole power', () => {
    expect(greedyCost(LINEAR, 10_000, 0, 1000, true)).toBeCloseTo(10, 9);
    expect(greedyCost(LINEAR, 10_000, 0, 1000, false)).toBeCloseTo(110, 9);
    const nodes = [node('linear', LINEAR), node('knee', KNEE)];
    // knee at 50 %: next 1000m costs 30 W; linear empty: 10 W.
    expect(greedyPolicy.score(ask(1000), [0, 1], view(nodes, [0, 5000]))).toEqual([-10, -30].map((x) => expect.closeTo(x, 9)));
  });
});

describe('wattsched (the extender as a library)', () => {
  test('the weight is the shipped scheduler configuration’s', () => {
    const cfg = parse(readFileSync(join(import.meta.dirname, '../../charts/wattsched/files/kube-scheduler-config.yaml'), 'utf8')) as { extenders: { weight: number }[] };
    expect(cfg.extenders[0]?.weight).toBe(SHIPPED_EXTENDER_WEIGHT);
  });
  test('the extender’s choice outweighs the default plugins, which only break its ties', async () => {
    const p = createWattsched();
    // linear: +10 W (priority 10); concave: envelope 50 → 240 W line, +19 W (priority 0). Default plugins would
    // prefer the emptier concave node, but 1,510 extender points win.
    const nodes = [node('linear', LINEAR), node('concave', CONCAVE)];
    const s = await p.score(ask(1000), [0, 1], view(nodes, [5000, 0]));
    expect(s[0]).toBeGreaterThan(s[1] as number);
    expect((s[0] as number) - (s[1] as number)).toBeGreaterThan(1500 - 200);
    // Two identical LINEAR nodes at 50 % and empty: +10 W on either. The fuller gets priority 10, the other 9, and
    // that point (1,510) outweighs LeastAllocated's preference for the emptier one: a 10 × 1,510 + 140 = 15,240,
    // b 9 × 1,510 + 190 = 13,780 (default plugins: a 70 + 70, b 95 + 95).
    const twins = [node('a', LINEAR), node('b', LINEAR)];
    const t = await p.score(ask(1000), [0, 1], view(twins, [5000, 0]));
    expect(Array.from(t)).toEqual([15_240, 13_780]);
  });
  test('always-on: half the concave node’s envelope opens it where greedy sees only its steep first step', async () => {
    // STEEP_KNEE is convex (envelope = curve): 10 W per 1000m up to 50 %, then 70 W. CONCAVE's envelope is the line
    // 50 → 240 W (19 W per 1000m), its curve's first 1000m +100 W: mixed half and half 59.5 W. Pods 1–5 go to
    // STEEP_KNEE (10 < 59.5); pod 6 costs 70 W there, so wattsched opens CONCAVE. Greedy compares 70 with the raw
    // +100 W and stays.
    const pods = Array.from({ length: 6 }, (_, i) => pod(`${i}`, 1000, i, 100));
    const nodes = [node('concave', CONCAVE), node('steep-knee', STEEP_KNEE)];
    const w = await simulate(pods, nodes, createWattsched(), { usageMilli: usage(pods) });
    expect([...w.placement]).toEqual([1, 1, 1, 1, 1, 0]);
    const g = await simulate(pods, nodes, greedyPolicy, { usageMilli: usage(pods) });
    expect([...g.placement]).toEqual([1, 1, 1, 1, 1, 1]);
  });
  test('with agents the node’s load is its pods’ measured use, not their requests', async () => {
    // a: CONCAVE with 5000m requested but 200m used; b: 30 W per 10 % on 10,000m, empty. A 1000m pod on a, by
    // measured use (2 % → 12 %): envelope 19 W, curve 70 → 152 = +82 W, mixed 50.5 W, dearer than b's 30 W. By
    // requests (50 % → 60 %): envelope 19 W, curve +10 W, mixed 14.5 W, cheaper than b.
    const nodes = [node('a', CONCAVE), node('b', [100, 130, 160, 190, 220, 250, 280, 310, 340, 370, 400])];
    const v: ClusterView = { ...view(nodes, [5000, 0]), usageMilli: Float64Array.from([200, 0]) };
    const measured = await createWattsched().score(ask(1000), [0, 1], v);
    expect(measured[1]).toBeGreaterThan(measured[0] as number);
    const requested = await createWattsched({ agents: false }).score(ask(1000), [0, 1], v);
    expect(requested[0]).toBeGreaterThan(requested[1] as number);
  });
  test('power-down: packs where waking costs least, and keeps the other node off', async () => {
    // emptyNodes: off → envelopes from (0, 0): KNEE's most efficient point is 100 W at 5000m, 20 W per 1000m; LINEAR
    // on 11,000m 200 W at 11,000m, 18.18 W per 1000m. Waking on the curve: KNEE 0 → 60 W, LINEAR 0 → 109.09 W.
    // Mixed at 0.1: KNEE 20 + 0.1·40 = 24 W, LINEAR 18.18 + 0.1·90.91 = 27.27 W, so the first pod wakes KNEE; the
    // next ones cost 20 + 0.1·(10 − 20) = 19 W there against 27.27 W. Four pods on KNEE draw 90 W; on LINEAR 136.4 W.
    const pods = Array.from({ length: 4 }, (_, i) => pod(`${i}`, 1000, i, 100));
    const r = await simulate(pods, [node('knee', KNEE), node('linear', LINEAR, 11_000)], createWattsched({ powerDown: true }), { usageMilli: usage(pods), powerDownAfterS: 0 });
    expect([...r.placement]).toEqual([0, 0, 0, 0]);
    expect(r.meanNodesOn).toBeCloseTo(1, 9);
  });
});
