import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { createBound, type BoundNode } from '../../src/sim/bound.js';
import { powerAt } from '../../src/model/curve.js';

// Linear 100 → 200 W.
const LINEAR = [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];
// Concave: 50 W idle, +100 W over the first 10 %, then +10 W per 10 % (150 W at 10 %, 240 W at 100 %).
const CONCAVE = [50, 150, 160, 170, 180, 190, 200, 210, 220, 230, 240];
const node = (curve: number[], capacityMilli = 1000): BoundNode => ({ curve, capacityMilli });

describe('exact bound, always-on', () => {
  test.for([
    // [load milli, watts, why]
    [0, 150, 'both idle: 100 + 50'],
    [500, 200, 'all on the linear node (1 W per 10 milli) beats the concave one (190 W for 500 milli on top of 50 W idle)'],
    [1000, 250, 'linear full 200 + concave idle 50'],
    [1500, 390, 'linear full 200 + concave at 50 % 190'],
    [2000, 440, 'both full'],
    [2600, 440, 'load beyond capacity is clamped'],
  ] as const)('linear + concave at %d milli → %d W (%s)', ([load, watts]) => {
    expect(createBound([node(LINEAR), node(CONCAVE)], false).watts(load)).toBeCloseTo(watts, 9);
  });

  test('non-convex: two concave nodes carrying 1.5 nodes of load are not the convex relaxation', () => {
    // One full (240 W) and one at 50 % (190 W) = 430 W; any even split is dearer (2 × P(75 %) = 2 × 215 = 430 W,
    // equal here; 0.9 + 0.6 = 230 + 200 = 430). The convex envelope (a 190 W/unit line) would claim 100 + 285 = 385 W.
    expect(createBound([node(CONCAVE), node(CONCAVE)], false).watts(1500)).toBeCloseTo(430, 9);
    // At one node of load, fill one node: 240 + 50 = 290 W, not 150 + 150 + … (two at 50 %: 380 W).
    expect(createBound([node(CONCAVE), node(CONCAVE)], false).watts(1000)).toBeCloseTo(290, 9);
  });
});

describe('exact bound, power-down (empty nodes draw nothing)', () => {
  test.for([
    [0, 0, 'everything off'],
    [10, 60, 'the concave node on at 1 % (50 + 10 W) beats the linear one (101 W)'],
    [500, 150, 'linear node alone at 50 %: 150 W (concave alone would be 190 W)'],
    [1000, 200, 'linear node full'],
    [1500, 390, 'linear full 200 + concave 190'],
  ] as const)('linear + concave at %d milli → %d W (%s)', ([load, watts]) => {
    expect(createBound([node(LINEAR), node(CONCAVE)], true).watts(load)).toBeCloseTo(watts, 9);
  });

  test('two concave nodes at half a node of load: one on, one off', () => {
    expect(createBound([node(CONCAVE), node(CONCAVE)], true).watts(500)).toBeCloseTo(190, 9);
  });
});

describe('exact bound agrees with brute force over every integer split', () => {
  const curveArb = fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 10, maxLength: 10 }).chain((steps) =>
    // Arbitrary non-decreasing curves, not convex in general.
    fc.integer({ min: 0, max: 300 }).map((idle) => steps.reduce<number[]>((c, s) => [...c, (c[c.length - 1] as number) + s], [idle])),
  );
  test('three nodes, random curves and loads', () => {
    fc.assert(
      fc.property(
        fc.tuple(curveArb, curveArb, curveArb),
        fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
        fc.boolean(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        ([c1, c2, c3], [t1, t2, t3], powerDown, frac) => {
          const caps = [t1 * 1000, t2 * 1000, t3 * 1000];
          const total = caps[0]! + caps[1]! + caps[2]!;
          const load = 10 * Math.round((frac * total) / 10);
          const curves = [c1, c2, c3];
          const p = (k: number, x: number): number => (x === 0 && powerDown ? 0 : powerAt(curves[k]!, x / caps[k]!));
          let best = Infinity;
          // Step 10 milli: every breakpoint is a multiple of 100 milli and the load a multiple of 10, so the optimum
          // (one free node, the rest at breakpoints) lies on this grid.
          for (let x1 = 0; x1 <= caps[0]!; x1 += 10) {
            for (let x2 = 0; x2 <= caps[1]!; x2 += 10) {
              const x3 = load - x1 - x2;
              if (x3 < 0 || x3 > caps[2]!) continue;
              best = Math.min(best, p(0, x1) + p(1, x2) + p(2, x3));
            }
          }
          const got = createBound(curves.map((c, k) => ({ curve: c, capacityMilli: caps[k]! })), powerDown).watts(load);
          expect(got).toBeCloseTo(best, 6);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });
});
