// The live scorer: measured load and predicted demand on each node's curve, the model chain, saturation, stale
// telemetry and policies. Curves are chosen so the expected watts are worked out by hand in the comments.
import { describe, expect, test } from 'vitest';
import { create, parsePolicy } from '../../../src/extender/live/scorer.js';
import { EMBEDDED_CURVE_CPUS, scaledEmbeddedCurve } from '../../../src/extender/live/curves.js';
import { MemoryProfileStore } from '../../../src/extender/profiles/store.js';
import { TelemetryStore } from '../../../src/extender/telemetry/node-telemetry.js';
import { ingest } from '../../../src/extender/telemetry/agent-feed.js';
import type { NodeState } from '../../../src/extender/nodes/state.js';
import { podDemand } from '../../../src/extender/protocol/pod.js';
import { evaluate, priorities } from '../../../src/extender/decisions/evaluate.js';
import type { ScoreBatch } from '../../../src/extender/scoring/scorer.js';
import { DEFAULT_POWER_CURVE } from '../../../src/model/curve.js';
import { nodeReport, pendingPod } from './fixtures.js';

// Linear curves are their own convex envelope, so marginal watts = (P(1) − P(0)) × cores / CPUs exactly.
const LINEAR_100_200 = '100,110,120,130,140,150,160,170,180,190,200'; // 25 W per core on 4 CPUs
const LINEAR_100_300 = '100,120,140,160,180,200,220,240,260,280,300'; // 50 W per core on 4 CPUs

const node = (name: string, over: Partial<NodeState> = {}): NodeState => ({ name, labels: {}, annotations: {}, allocatableMilliCPU: 4000, requestedMilliCPU: 0, ...over });
const curved = (name: string, curve: string, over: Partial<NodeState> = {}) => node(name, { annotations: { 'wattsched.io/power-curve': curve }, ...over });

function setup(over: { staleAfterMs?: number } = {}) {
  let now = 1_000_000;
  const telemetry = new TelemetryStore(over.staleAfterMs ?? 60_000);
  const profiles = new MemoryProfileStore({ halfLifeSeconds: 3600, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 1 });
  const scorer = create({ curves: { nodeLabel: 'node.kubernetes.io/instance-type', byLabelValue: { m5: [50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150] }, emptyNodes: 'idle' }, telemetry, profiles, now: () => now });
  const report = (name: string, u: number, pods: Parameters<typeof nodeReport>[3] = []) => ingest(nodeReport(name, u, 123, pods), now, `http://agent-${name}`, telemetry, profiles);
  return { scorer, telemetry, profiles, report, advance: (ms: number) => (now += ms) };
}

const batch = (r: Awaited<ReturnType<ReturnType<typeof create>['score']>>): ScoreBatch => {
  if (r.kind !== 'batch') throw new Error(`expected a batch, got skip: ${r.reason}`);
  return r;
};

describe('node model chain', () => {
  test('embedded curve is scaled to the node CPU count: a 4-CPU VM is not a 2-socket server', async () => {
    const { scorer } = setup();
    const pod = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
    const b = batch(await scorer.score(pod, [node('vm', { allocatableMilliCPU: 4000 }), node('big', { allocatableMilliCPU: 240_000 })]));
    // Embedded curve envelope: (0,123) → (0.6,389) → … . 1 core of 4 is load 0.25: envelope 266 × 0.25/0.6 = 110.833 W,
    // curve 272.5 − 123 = 149.5 W; mixed half and half (always-on) 130.1667 W, × 4/240 = 2.1694 W. With the pod:
    // 272.5 × 4/240.
    expect(b.marginalWatts[0]).toBeCloseTo(130.1666667 / 60, 6);
    expect(b.powerWithPodWatts[0]).toBeCloseTo(272.5 / 60, 9);
    // 1 core of 240 is load 1/240: envelope 266/0.6/240 = 1.84722 W, curve 94/24 = 3.91667 W → mixed 2.88194 W.
    expect(b.marginalWatts[1]).toBeCloseTo(2.8819444, 6);
    expect(b.basis[0]).toBe('curve: embedded SPECpower median scaled to 4 CPUs; load: requested CPU (no agent report)');
    expect(scaledEmbeddedCurve(EMBEDDED_CURVE_CPUS)).toEqual(DEFAULT_POWER_CURVE);
  });

  test('with an agent report and no curve of its own, the embedded shape is calibrated to the reported watts', async () => {
    const { scorer, telemetry, profiles } = setup();
    // The agent reports 177 W at 50 %: the embedded curve gives 354 W there, so k = 0.5.
    ingest(nodeReport('n', 0.5, 177), 1_000_000, 'x', telemetry, profiles);
    const b = batch(await scorer.score(podDemand(pendingPod('p', 'web', { request: '1' }) as never), [node('n')]));
    // 1 core of 4 from 0.5 to 0.75: envelope 470.5 − 344.667 = 125.833 W, curve 470.5 − 354 = 116.5 W,
    // mixed half and half 121.1667 W; × 0.5 = 60.5833 W. With the pod: 470.5 × 0.5.
    expect(b.marginalWatts[0]).toBeCloseTo(0.5 * 121.1666667, 6);
    expect(b.powerWithPodWatts[0]).toBeCloseTo(235.25, 9);
    expect(b.basis[0]).toMatch(/^curve: embedded SPECpower shape calibrated to the agent's 177.0 W at this load;/);
  });

  test('annotation > labelled curve > embedded; an invalid annotation falls through with the reason', async () => {
    const { scorer } = setup();
    const pod = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
    const labelled = { 'node.kubernetes.io/instance-type': 'm5' };
    const b = batch(await scorer.score(pod, [
      curved('annotated', LINEAR_100_200, { labels: labelled }),
      node('labelled', { labels: labelled }),
      curved('bad', '1,2,3', { labels: labelled }),
    ]));
    expect(b.marginalWatts[0]).toBeCloseTo(25, 9); // (200 − 100) / 4
    expect(b.marginalWatts[1]).toBeCloseTo(25, 9); // labelled curve: (150 − 50) / 4
    expect(b.basis[0]).toMatch(/^curve: annotation;/);
    expect(b.basis[1]).toMatch(/^curve: label node.kubernetes.io\/instance-type=m5;/);
    expect(b.basis[2]).toMatch(/^curve: label node.kubernetes.io\/instance-type=m5 \(ignored invalid annotation: /);
  });
});

describe('measured load and predicted demand', () => {
  test('u is the agent-measured utilisation, not requests; d is the workload history, not the request', async () => {
    const { scorer, report } = setup();
    // The agent saw two pods of shop/web using 2 cores each, on node "a" at 50 % load.
    report('a', 0.5, [
      { uid: 'w1', namespace: 'shop', name: 'web-1', deployment: 'web', cores: 2, watts: 20 },
      { uid: 'w2', namespace: 'shop', name: 'web-2', deployment: 'web', cores: 2, watts: 20 },
    ]);
    const pod = podDemand(pendingPod('web-3', 'web', { request: '100m' }) as never);
    // Node a: requests say 0, the agent says 2 of 4 cores busy. The curve 100 + 100x² is convex, so curve = envelope.
    const quad = '100,101,104,109,116,125,136,149,164,181,200';
    const b = batch(await scorer.score(pod, [curved('a', quad, { requestedMilliCPU: 0 }), curved('b', quad, { requestedMilliCPU: 2000 })]));
    // a: measured load 0.5, d = 2 cores → 0.5 to 1.0: 200 − 125 = 75 W.
    expect(b.marginalWatts[0]).toBeCloseTo(75, 9);
    // b: no agent, requested 2000m → same load by requests: also 75 W. With d = the 100m request it would be
    // 0.5 → 0.525: 125 → 125 + 0.25 × (136 − 125) = 2.75 W, so the history changed the prediction 27-fold.
    expect(b.marginalWatts[1]).toBeCloseTo(75, 9);
    expect(b.demand).toMatchObject({ source: 'history', cores: 2, policy: 'energy' });
    expect(b.basis[0]).toBe('curve: annotation; load: measured 50.0% (agent, 0 s old, node 123.0 W from rapl (model test-model))');
  });
});

describe('requests bound since the last report', () => {
  test('are added to the measured load until the next report replaces it', async () => {
    const { scorer, report } = setup();
    // 100 + 100x² sampled every 10 % (convex), linear between samples: P(0.25) = 106.5, P(0.75) = 156.5.
    const quad = '100,101,104,109,116,125,136,149,164,181,200';
    const pod = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
    report('n', 0.25);
    // First use of the report: 1 core measured, 1000m requested at that moment. 0.25 → 0.5: 125 − 106.5 W.
    expect(batch(await scorer.score(pod, [curved('n', quad, { requestedMilliCPU: 1000 })])).marginalWatts[0]).toBeCloseTo(18.5, 9);
    // Two more cores bound before the next poll: load 0.25 + 0.5 = 0.75 → 1.0: 200 − 156.5 W.
    const b = batch(await scorer.score(pod, [curved('n', quad, { requestedMilliCPU: 3000 })]));
    expect(b.marginalWatts[0]).toBeCloseTo(43.5, 9);
    expect(b.basis[0]).toMatch(/\+ 2000m requested since$/);
    // The next report measures them (75 %) and becomes the new base: the same 43.5 W, nothing counted twice.
    report('n', 0.75);
    expect(batch(await scorer.score(pod, [curved('n', quad, { requestedMilliCPU: 3000 })])).marginalWatts[0]).toBeCloseTo(43.5, 9);
  });
});

describe('saturation', () => {
  test('a node at capacity is never priced as free, and scores the minimum', async () => {
    const { scorer, report } = setup();
    report('full', 0.9);
    report('idle', 0.1);
    const pod = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
    const nodes = [curved('full', LINEAR_100_200), curved('idle', LINEAR_100_200)];
    const b = batch(await scorer.score(pod, nodes));
    // full: 3.6 + 1 cores > 4: no estimate (clamping at 100 % would have said 200 − 190 = 10 W, the cheapest).
    expect(b.marginalWatts[0]).toBeNaN();
    expect(b.skipped.get(0)).toMatch(/^saturated: load 3.60 \+ predicted 1.00 cores exceeds 4.00 allocatable/);
    expect(b.powerWithPodWatts[0]).toBe(200); // a cap still sees the node at full power
    expect(b.marginalWatts[1]).toBeCloseTo(25, 9);
    const ev = await evaluate(scorer, pod, ['full', 'idle'], nodes, true);
    expect([...priorities(ev)]).toEqual([0, 10]);
  });

  test('exactly at capacity after the pod still has an estimate', async () => {
    const { scorer, report } = setup();
    report('n', 0.75);
    const b = batch(await scorer.score(podDemand(pendingPod('p', 'web', { request: '1' }) as never), [curved('n', LINEAR_100_200)]));
    expect(b.marginalWatts[0]).toBeCloseTo(25, 9); // 175 → 200
  });
});

describe('stale telemetry', () => {
  test('a stale node gets a neutral score (the median of live candidates), counted; requests judge its cap', async () => {
    const { scorer, report, advance } = setup({ staleAfterMs: 60_000 });
    report('stale', 0.0);
    advance(61_000);
    report('fresh', 0.0);
    const pod = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
    const nodes = [curved('fresh', LINEAR_100_200), curved('stale', LINEAR_100_200, { requestedMilliCPU: 1000 }), curved('noagent', LINEAR_100_300)];
    const b = batch(await scorer.score(pod, nodes));
    // fresh 25 W, noagent 50 W; the stale one is priced by requests (1 → 2 cores: 25 W) but ranked at the median 37.5.
    expect([...b.marginalWatts]).toEqual([25, 25, 50].map((w) => expect.closeTo(w, 9)) as never);
    expect(b.scoreBy?.[1]).toBeCloseTo(37.5, 9);
    expect(b.basis[1]).toMatch(/telemetry stale \(61 s old\), neutral score/);
    expect(scorer.stats.staleNodeScores).toBe(1);
    const ev = await evaluate(scorer, pod, nodes.map((n) => n.name), nodes, true);
    // Linear from 25 W (10) to 50 W (0): 37.5 W is 5.
    expect([...priorities(ev)]).toEqual([10, 5, 0]);
  });

  test('every candidate stale: fail open', async () => {
    const { scorer, report, advance } = setup({ staleAfterMs: 60_000 });
    report('a', 0.1);
    report('b', 0.1);
    advance(60_001);
    const pod = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
    const nodes = [curved('a', LINEAR_100_200), curved('b', LINEAR_100_300)];
    const ev = await evaluate(scorer, pod, ['a', 'b'], nodes, true);
    expect(ev.failOpen).toMatch(/no live estimate: telemetry is stale on 2 of 2 candidates/);
    expect([...priorities(ev)]).toEqual([0, 0]);
  });

  test('a stale node that is also saturated does not hide a scorable node without an agent', async () => {
    const { scorer, report, advance } = setup({ staleAfterMs: 60_000 });
    report('a', 0.9);
    advance(60_001);
    const pod = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
    // a: stale, priced by requests 3.5 + 1 > 4 cores (saturated); b: no agent, 25 W.
    const nodes = [curved('a', LINEAR_100_200, { requestedMilliCPU: 3500 }), curved('b', LINEAR_100_200)];
    const ev = await evaluate(scorer, pod, ['a', 'b'], nodes, true);
    expect(ev.failOpen).toBeUndefined();
    expect([...priorities(ev)]).toEqual([0, 10]);
  });

  test('a report without an interval yet (the agent\'s first reading) is not live state', () => {
    const { telemetry, profiles } = setup();
    expect(ingest(nodeReport('n', 0.5, 100, [], 0), 0, 'x', telemetry, profiles)).toBe(false);
    expect(telemetry.state('n', 0).kind).toBe('none');
  });
});

describe('policy annotation', () => {
  const nodes = [curved('busy', LINEAR_100_200), curved('empty', LINEAR_100_300)];
  const scored = async (policy?: string) => {
    const { scorer, report } = setup();
    report('busy', 0.75);
    report('empty', 0);
    const pod = podDemand(pendingPod('p', 'web', { request: '1', ...(policy ? { annotations: { 'wattsched.io/policy': policy } } : {}) }) as never);
    return evaluate(scorer, pod, ['busy', 'empty'], nodes, true);
  };

  test('energy (the default) prefers the cheaper node', async () => {
    // busy: 25 W, empty: 50 W.
    expect([...priorities(await scored())]).toEqual([10, 0]);
    expect([...priorities(await scored('energy'))]).toEqual([10, 0]);
  });

  test('balanced blends the energy rank with spreading', async () => {
    // busy: 0.5 × 25/50 + 0.5 × 1.0 = 0.75; empty: 0.5 × 50/50 + 0.5 × 0.25 = 0.625 → empty wins.
    const ev = await scored('balanced');
    expect(ev.scoreBy?.[0]).toBeCloseTo(0.75, 12);
    expect(ev.scoreBy?.[1]).toBeCloseTo(0.625, 12);
    expect([...priorities(ev)]).toEqual([0, 10]);
  });

  test('off gives every node the same score; the prediction is still shown', async () => {
    const ev = await scored('off');
    expect([...priorities(ev)]).toEqual([10, 10]);
    expect(ev.marginalWatts[0]).toBeCloseTo(25, 9);
    expect(ev.demand?.policy).toBe('off');
  });

  test('equally cheap nodes: the fuller one gets the maximum (energy), none is preferred (off)', async () => {
    // Two LINEAR_100_200 nodes at 25 % and 50 %: 1 core costs 25 W on either, a tie the default plugins would
    // break by spreading; the extender gives the fuller one 10 and the other 9.
    const { scorer, report } = setup();
    report('a', 0.25);
    report('b', 0.5);
    const twins = [curved('a', LINEAR_100_200), curved('b', LINEAR_100_200)];
    const ev = (policy: string) => evaluate(scorer, podDemand(pendingPod('p', 'web', { request: '1', annotations: { 'wattsched.io/policy': policy } }) as never), ['a', 'b'], twins, true);
    const energy = await ev('energy');
    expect(energy.marginalWatts[0]).toBeCloseTo(25, 9);
    expect(energy.marginalWatts[1]).toBeCloseTo(25, 9);
    expect([...priorities(energy)]).toEqual([9, 10]);
    expect([...priorities(await ev('off'))]).toEqual([10, 10]);
  });

  test('an unknown value means energy, with a warning', () => {
    expect(parsePolicy('greedy')).toMatchObject({ policy: 'energy', warning: expect.stringMatching(/not energy, balanced or off/) });
    expect(parsePolicy(' Balanced ')).toEqual({ policy: 'balanced' });
  });
});
