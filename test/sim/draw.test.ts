import { describe, expect, test } from 'vitest';
import { bootstrap, drawCase, halfCompressed } from '../../bench/sim/draw.js';
import type { SimPod, SimServer } from '../../src/sim/data.js';

const server = (i: number): SimServer => ({ id: `r${i}`, threads: 8 + i, memoryMiB: 1024, curve: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110] });
const pool = Array.from({ length: 60 }, (_, i) => server(i));
const pods: SimPod[] = Array.from({ length: 200 }, (_, i) => ({ name: `p${i}`, cpuMilli: 100 + i, memoryMiB: 0, createdS: i * 10, deletedS: i * 10 + 500 }));

describe('drawn cases for bench/sim', () => {
  test('a seed always draws the same case, and another seed another one', () => {
    const a = drawCase(201, pods, pool, new Set());
    const b = drawCase(201, pods, pool, new Set());
    expect(b.name).toBe(a.name);
    expect(b.mix.map((s) => s.id)).toEqual(a.mix.map((s) => s.id));
    expect(b.pods).toEqual(a.pods);
    const others = [202, 203, 204, 205].map((s) => drawCase(s, pods, pool, new Set()).mix.map((x) => x.id).join());
    expect(others.some((m) => m !== a.mix.map((x) => x.id).join())).toBe(true);
  });
  test('server mixes are distinct rows of the pool, of a listed size, never an excluded one', () => {
    const exclude = new Set(pool.slice(0, 20).map((s) => s.id));
    for (let seed = 1; seed <= 30; seed++) {
      const c = drawCase(seed, pods, pool, exclude);
      expect([15, 20, 25, 30]).toContain(c.mix.length);
      expect(new Set(c.mix.map((s) => s.id)).size).toBe(c.mix.length);
      expect(c.mix.some((s) => exclude.has(s.id))).toBe(false);
      expect([1, 2, 3]).toContain(c.copies);
      expect(['1', 'uniform:0.2,1', 'beta:2,3']).toContain(c.usage);
    }
  });
  test('resampled traces keep the invariants their names promise', () => {
    // Half at double speed: every pod kept has its times halved, and the kept set is a subset.
    const half = halfCompressed(pods, 5);
    for (const p of half) {
      const orig = pods.find((q) => q.name === p.name)!;
      expect([p.createdS, p.deletedS]).toEqual([orig.createdS / 2, orig.deletedS / 2]);
    }
    // Bootstrap 2×: twice the pods, sorted by creation, none outliving the original horizon.
    const boot = bootstrap(pods, 2, 6);
    expect(boot).toHaveLength(400);
    expect(boot.every((p, i) => i === 0 || p.createdS >= boot[i - 1]!.createdS)).toBe(true);
    expect(Math.max(...boot.map((p) => p.deletedS))).toBeLessThanOrEqual(Math.max(...pods.map((p) => p.deletedS)));
  });
});
