import { describe, expect, test } from 'vitest';
import { convexEnvelope, CURVE_WEIGHT, envelopeAt, marginalWatts } from '../../src/extender/scorers/power-curve/index.js';
import { scoresFromWatts } from '../../src/extender/scoring/scores.js';

const LINEAR = [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];
const CONCAVE = [50, 150, 160, 170, 180, 190, 200, 210, 220, 230, 240];
// Xeon 3070 (SPECpower 2007): slopes 3.1, 3.3, 4.0, 5.0, 5.1, 5.4, 4.9, 4.4, 4.0, 3.0 W per 10 %.
const OLD = [66.8, 69.9, 73.2, 77.2, 82.2, 87.3, 92.7, 97.6, 102, 106, 109];

describe('convex envelope of a power curve', () => {
  test('a convex curve is its own envelope', () => {
    expect(convexEnvelope(LINEAR)).toEqual([[0, 100], [1, 200]]);
  });
  test('a concave curve becomes the chord from idle to full load', () => {
    expect(convexEnvelope(CONCAVE)).toEqual([[0, 50], [1, 240]]);
  });
  test('a real curve keeps its convex start and bridges the concave top', () => {
    // From (0.3, 77.2) the chord to (1, 109) rises 4.54 W per 10 %, below every later point.
    expect(convexEnvelope(OLD).map(([x, y]) => [Number(x.toFixed(1)), y])).toEqual([[0, 66.8], [0.1, 69.9], [0.2, 73.2], [0.3, 77.2], [1, 109]]);
  });
  test('emptyNodes off: the envelope starts at (0, 0) and runs to the most efficient point', () => {
    // CONCAVE from (0, 0): watts per unit load is 1500 at 10 %, 240 at 100 %: the chord to full load is lowest.
    expect(convexEnvelope(CONCAVE, true)).toEqual([[0, 0], [1, 240]]);
    expect(envelopeAt(convexEnvelope(CONCAVE, true), 0.25)).toBeCloseTo(60, 9);
  });
  test('marginal watts mix envelope and curve (always-on: half each), power with the pod on the curve', () => {
    // CONCAVE on 10,000m from 0 to 1000m: envelope +19 W, curve +100 W: 19 + 0.5·(100 − 19) = 59.5; 150 W with the pod.
    const m = marginalWatts(CONCAVE, 10_000, 0, 1000);
    expect(m.marginal).toBeCloseTo(59.5, 9);
    expect(m.withPod).toBeCloseTo(150, 9);
    // Convex curve: envelope and curve agree, the mix changes nothing.
    expect(marginalWatts(LINEAR, 10_000, 3000, 1000).marginal).toBeCloseTo(10, 12);
    // OLD from 30 % to 50 % on 10,000m: the envelope's piece (0.3, 77.2) → (1, 109) rises 31.8 / 0.7 = 45.4286 W
    // per unit load → +9.0857 W; curve 77.2 → 87.3 = +10.1 W; mixed: 9.0857 + 0.5·(10.1 − 9.0857) = 9.5929 W.
    expect(marginalWatts(OLD, 10_000, 3000, 2000).marginal).toBeCloseTo(9.592857, 5);
  });
  test('the curve share prefers the identical node already past its steep start', () => {
    // Two CONCAVE nodes, one empty, one at 50 %: the envelope charges both 19 W for 1000m; the curve 100 W vs 10 W.
    const empty = marginalWatts(CONCAVE, 10_000, 0, 1000).marginal;
    const half = marginalWatts(CONCAVE, 10_000, 5000, 1000).marginal;
    expect(half).toBeCloseTo(19 + 0.5 * (10 - 19), 9);
    expect(empty).toBeCloseTo(19 + 0.5 * (100 - 19), 9);
    expect(half).toBeLessThan(empty);
  });
  test('emptyNodes off: waking an empty node costs its whole power on the curve too, mixed at 0.1', () => {
    // Envelope from (0, 0) to (1, 240): +24 W for 1000m; curve: 0 → 150 W: 24 + 0.1·(150 − 24) = 36.6 W.
    expect(marginalWatts(CONCAVE, 10_000, 0, 1000, true).marginal).toBeCloseTo(36.6, 9);
    // A CONCAVE node at 50 % in the same cluster: envelope 24 W, curve 10 W: 24 + 0.1·(10 − 24) = 22.6 W, cheaper
    // than waking the empty one.
    expect(marginalWatts(CONCAVE, 10_000, 5000, 1000, true).marginal).toBeCloseTo(22.6, 9);
  });
  test('the weights are the documented ones', () => {
    expect(CURVE_WEIGHT).toEqual({ idle: 0.5, off: 0.1 });
  });
});

describe('priorities: only the cheapest candidates get the maximum', () => {
  test.for([
    // 0.4 W above the cheapest of a 10 W span would round to 10: it is held at 9.
    [[0, 0.4, 10], [10, 9, 0]],
    [[5, 5, 6], [10, 10, 0]],
    [[1, 2, 3], [10, 5, 0]],
  ] as const)('%j W → %j', ([watts, scores]) => {
    expect([...scoresFromWatts(watts)]).toEqual(scores);
  });
});
