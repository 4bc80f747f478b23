import { describe, expect, test } from 'vitest';
import type { SimNode, SimPod } from '../../src/sim/data.js';
import { binnedWatts, emptyOnSeconds } from '../../src/sim/energy.js';
import { eventsOf, feasibleNodesToFind, selectHost, simulate } from '../../src/sim/engine.js';
import type { Policy } from '../../src/sim/policy.js';
import { mulberry32 } from '../../src/shared/random.js';

const LINEAR = [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];
const node = (name: string, curve = LINEAR, capacityMilli = 1000, memoryMiB = 1e9): SimNode => ({ name, server: 0, capacityMilli, memoryMiB, curve });
const pod = (name: string, cpuMilli: number, createdS: number, deletedS: number, memoryMiB = 0): SimPod => ({ name, cpuMilli, memoryMiB, createdS, deletedS });
const first: Policy = { name: 'first', score: (_p, c) => c.map((_, k) => -k) };
const usage = (pods: SimPod[]): Float64Array => Float64Array.from(pods, (p) => p.cpuMilli);

describe('power-down accounting', () => {
  test.for([
    // [emptySince, from, to, delay, on-seconds]
    [0, 0, 100, Infinity, 100],
    [0, 0, 100, 30, 30],
    [0, 50, 100, 30, 0],
    [40, 50, 100, 30, 20],
    [0, 0, 100, 0, 0],
    [0, 10, 10, 30, 0],
  ] as const)('empty since %d, [%d, %d], delay %d → on %d s', ([since, from, to, delay, on]) => {
    expect(emptyOnSeconds(since, from, to, delay)).toBe(on);
  });

  // One linear node (100 W idle, 150 W at 50 %). Pod a: 500m over [0, 100]; pod b: 500m over [1000, 1100].
  const pods = [pod('a', 500, 0, 100), pod('b', 500, 1000, 1100)];
  test('always on: 150 W, 900 s of idle, 150 W', async () => {
    const r = await simulate(pods, [node('n')], first, { usageMilli: usage(pods) });
    expect(r.energyKWh * 3.6e6).toBeCloseTo(100 * 150 + 900 * 100 + 100 * 150, 6);
    expect(r.peakWatts).toBe(150);
    expect(r.meanNodesOn).toBe(1);
    expect(r.unschedulable).toBe(0);
  });
  test('power-down after 300 s: idle only for 300 s of the gap, off for the rest, on again when b lands', async () => {
    const r = await simulate(pods, [node('n')], first, { usageMilli: usage(pods), powerDownAfterS: 300 });
    expect(r.energyKWh * 3.6e6).toBeCloseTo(100 * 150 + 300 * 100 + 100 * 150, 6);
    expect(r.meanNodesOn).toBeCloseTo((100 + 300 + 100) / 1100, 12);
    // Nodes start empty: with power-down after 0 s an unused node never draws anything.
    const two = await simulate(pods, [node('n'), node('spare')], first, { usageMilli: usage(pods), powerDownAfterS: 0 });
    expect(two.energyKWh * 3.6e6).toBeCloseTo(2 * 100 * 150, 6);
    expect(two.meanNodesOn).toBeCloseTo(200 / 1100, 12);
  });
  test('usage, not request, sets the power: a pod using half its request', async () => {
    const r = await simulate([pod('a', 1000, 0, 10)], [node('n')], first, { usageMilli: [500] });
    expect(r.energyKWh * 3.6e6).toBeCloseTo(10 * 150, 9);
  });
  test('binned watts average the cumulative energy per bin', () => {
    const { watts, centreS } = binnedWatts([0, 10, 20], [0, 1000, 1500], 2);
    expect([...watts]).toEqual([100, 50]);
    expect([...centreS]).toEqual([5, 15]);
  });
});

describe('replay', () => {
  test('deletions free room before creations at the same instant; zero-length pods never run', () => {
    const ev = eventsOf([pod('a', 1, 0, 5), pod('b', 1, 5, 9), pod('z', 1, 7, 7)]);
    expect(ev.map((e) => `${e.create ? '+' : '-'}${e.pod}@${e.t}`)).toEqual(['+0@0', '-0@5', '+1@5', '-2@7', '+2@7', '-1@9']);
  });
  test('a pod that fits nowhere is unschedulable; CPU, memory and pod slots are filtered', async () => {
    const pods = [pod('a', 800, 0, 10), pod('b', 300, 1, 10), pod('c', 200, 2, 10, 600), pod('d', 100, 3, 10)];
    const r = await simulate(pods, [node('n', LINEAR, 1000, 500)], first, { usageMilli: usage(pods) });
    // b: 800 + 300 > 1000 CPU; c: 600 MiB > 500 MiB; d fits.
    expect([...r.placement]).toEqual([0, -1, -1, 0]);
    expect(r.unschedulable).toBe(2);
  });
  test.for([
    [10, 10], [99, 99], [100, 100], [200, 100], [1000, 420], [5000, 500], [10000, 500],
  ] as const)('percentageOfNodesToScore: %d nodes → %d feasible nodes searched', ([n, k]) => {
    expect(feasibleNodesToFind(n)).toBe(k);
  });
  test('sampling: with 200 nodes each pod sees 100 candidates, the window rotating by the nodes visited', async () => {
    const nodes = Array.from({ length: 200 }, (_, i) => node(`n${i}`));
    const seen: number[][] = [];
    const spy: Policy = { name: 'spy', score: (_p, c) => (seen.push([...c]), c.map(() => 0)) };
    const pods = [pod('a', 100, 0, 10), pod('b', 100, 1, 10)];
    await simulate(pods, nodes, spy, { usageMilli: usage(pods) });
    expect(seen[0]).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(seen[1]).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));
  });
  test('selectHost takes the maximum and breaks ties at random among the tied', () => {
    expect(selectHost([1, 5, 3], () => 0.99)).toBe(1);
    const picks = new Set<number>();
    const rand = mulberry32(3);
    for (let i = 0; i < 60; i++) picks.add(selectHost([2, 7, 7, 1, 7], rand));
    expect(picks).toEqual(new Set([1, 2, 4]));
  });
});
