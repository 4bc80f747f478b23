// The live scorer keeps what it derived for the last candidate list and reads it back while nodes, reports and
// report ages are unchanged. These calls repeat one list and change one input at a time: each answer must be what
// the inputs say (worked out by hand), never the previous call's.
import { expect, test } from 'vitest';
import { create } from '../../../src/extender/live/scorer.js';
import { MemoryProfileStore } from '../../../src/extender/profiles/store.js';
import { TelemetryStore } from '../../../src/extender/telemetry/node-telemetry.js';
import { ingest } from '../../../src/extender/telemetry/agent-feed.js';
import type { NodeState } from '../../../src/extender/nodes/state.js';
import { podDemand } from '../../../src/extender/protocol/pod.js';
import type { ScoreBatch } from '../../../src/extender/scoring/scorer.js';
import { nodeReport, pendingPod } from './fixtures.js';

// P(u) = 100 + 100·u on 4 CPUs: linear, so it is its own envelope and a 1-core pod adds 25 W at any load below 75 %.
const LINEAR = '100,110,120,130,140,150,160,170,180,190,200';
const node = (name: string, over: Partial<NodeState> = {}): NodeState => ({ name, labels: {}, annotations: { 'wattsched.io/power-curve': LINEAR }, allocatableMilliCPU: 4000, requestedMilliCPU: 0, ...over });

test('a repeated candidate list follows new reports, report age, bound CPU and the pod', async () => {
  let now = 1_000_000;
  const telemetry = new TelemetryStore(60_000);
  const profiles = new MemoryProfileStore({ halfLifeSeconds: 3600, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 1 });
  const scorer = create({ curves: { nodeLabel: 'x', byLabelValue: {}, emptyNodes: 'idle' }, telemetry, profiles, now: () => now });
  const score = async (pod: ReturnType<typeof podDemand>, nodes: NodeState[]): Promise<ScoreBatch> => {
    const r = await scorer.score(pod, nodes);
    if (r.kind !== 'batch') throw new Error(r.reason);
    return r;
  };
  const report = (name: string, u: number) => ingest(nodeReport(name, u, 150), now, `http://agent-${name}`, telemetry, profiles);
  const one = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
  const two = podDemand(pendingPod('q', 'api', { request: '2' }) as never);
  report('a', 0.25);
  report('b', 0.5);
  const list = [node('a'), node('b'), node('c')];

  let b = await score(one, list);
  // a: 0.25 → 0.5, 150 W with the pod; b: 0.5 → 0.75, 175 W; c has no agent: 0 → 0.25, 125 W.
  expect(Array.from(b.powerWithPodWatts)).toEqual([150, 175, 125]);
  expect(b.marginalWatts[0]).toBeCloseTo(25, 9);
  expect(b.basis[1]).toBe('curve: annotation; load: measured 50.0% (agent, 0 s old, node 150.0 W from rapl (model test-model))');
  expect(b.basis[2]).toBe('curve: annotation; load: requested CPU (no agent report)');

  // Same list, 2 s later, a new report for a only: a's load is the new 10 %, b's text says 2 s.
  now += 2000;
  report('a', 0.1);
  b = await score(one, list);
  expect(b.powerWithPodWatts[0]).toBeCloseTo(135, 9);
  expect(b.basis[0]).toBe('curve: annotation; load: measured 10.0% (agent, 0 s old, node 150.0 W from rapl (model test-model))');
  expect(b.basis[1]).toBe('curve: annotation; load: measured 50.0% (agent, 2 s old, node 150.0 W from rapl (model test-model))');

  // Same list, another pod: 2 cores take b from 50 % to 100 % (200 W, still within capacity) and a to 60 %.
  b = await score(two, list);
  expect(Array.from(b.powerWithPodWatts).map((w) => Math.round(w * 1e9) / 1e9)).toEqual([160, 200, 150]);
  expect(b.marginalWatts[1]).toBeCloseTo(50, 9);

  // b gets a new NodeState with 1 core bound since its report: its load is 50 % + 1 core = 75 %, and 2 more
  // cores no longer fit (saturated), while a and c keep their answers.
  const list2 = [list[0] as NodeState, node('b', { requestedMilliCPU: 1000 }), list[2] as NodeState];
  b = await score(two, list2);
  expect(Number.isNaN(b.marginalWatts[1])).toBe(true);
  expect(b.skipped.get(1)).toBe('saturated: load 3.00 + predicted 2.00 cores exceeds 4.00 allocatable');
  expect(b.basis[1]).toBe('curve: annotation; load: measured 50.0% (agent, 2 s old, node 150.0 W from rapl (model test-model)) + 1000m requested since');
  expect(b.powerWithPodWatts[0]).toBeCloseTo(160, 9);

  // Past staleAfter (60 s) both reports are stale: the stale text rather than the kept one, and a neutral score
  // (the median of the live estimates: c's 25 W alone).
  now += 61_000;
  b = await score(one, list2);
  expect(b.basis[0]).toBe('curve: annotation; load: requested CPU; telemetry stale (61 s old), neutral score');
  expect(b.basis[1]).toBe('curve: annotation; load: requested CPU; telemetry stale (63 s old), neutral score');
  expect(b.scoreBy?.[0]).toBeCloseTo(25, 9);
  expect(b.scoreBy?.[1]).toBeCloseTo(25, 9);
});

test('one node judged with and without assumed CPU in turn, then with another curve or size: each answer from its own inputs', async () => {
  const telemetry = new TelemetryStore(60_000);
  const profiles = new MemoryProfileStore({ halfLifeSeconds: 3600, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 1 });
  const scorer = create({ curves: { nodeLabel: 'x', byLabelValue: {}, emptyNodes: 'idle' }, telemetry, profiles });
  const one = podDemand(pendingPod('p', 'web', { request: '1' }) as never);
  const withPod = async (n: NodeState): Promise<number> => {
    const r = await scorer.score(one, [n]);
    if (r.kind !== 'batch') throw new Error(r.reason);
    return r.powerWithPodWatts[0] as number;
  };
  const bound = node('a');
  // The filter's copy of the node with 2 cores assumed: 2 + 1 cores of 4 is 75 %, 175 W; the node as bound: 25 %, 125 W.
  const assumed = { ...bound, requestedMilliCPU: 2000 };
  for (let round = 0; round < 3; round++) {
    expect(await withPod(assumed)).toBeCloseTo(175, 9);
    expect(await withPod(bound)).toBeCloseTo(125, 9);
  }
  // Same name, another curve (P(u) = 200 + 100·u): 225 W at 25 %.
  expect(await withPod(node('a', { annotations: { 'wattsched.io/power-curve': '200,210,220,230,240,250,260,270,280,290,300' } }))).toBeCloseTo(225, 9);
  // Same name, 8 CPUs: 1 core is 12.5 %, 112.5 W on the first curve.
  expect(await withPod(node('a', { allocatableMilliCPU: 8000 }))).toBeCloseTo(112.5, 9);
  expect(await withPod(bound)).toBeCloseTo(125, 9);
});
