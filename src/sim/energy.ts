// The simulator's power accounting, as pure functions of plain numbers: what a node draws, how long an empty node
// stays on before it is switched off, and the energy of one interval.
import { powerAt, type PowerCurve } from '../model/curve.js';

/** Watts at `usageMilli` on a node of `capacityMilli`, interpolated on the node's own curve (clamped at 100 %). */
export function nodeWatts(curve: PowerCurve, capacityMilli: number, usageMilli: number): number {
  return powerAt(curve, usageMilli / capacityMilli);
}

/**
 * Seconds within [from, to] that a node, empty since `emptySince`, is still powered: it is switched off once it has
 * been empty for `delayS` (Infinity = always on). An empty node that is off draws nothing.
 */
export function emptyOnSeconds(emptySince: number, from: number, to: number, delayS: number): number {
  if (!(to > from)) return 0;
  const offAt = emptySince + delayS;
  return Math.max(0, Math.min(to, offAt) - from);
}

/** Whether an empty node is powered at instant `t` (switched off exactly when the delay has elapsed). */
export const emptyNodeOn = (emptySince: number, t: number, delayS: number): boolean => t < emptySince + delayS;

/** Average of a step-wise cumulative energy series over fixed bins: watts per bin, for plots. */
export function binnedWatts(t: ArrayLike<number>, cumulativeJ: ArrayLike<number>, bins: number): { centreS: Float64Array; watts: Float64Array } {
  const n = t.length;
  const centre = new Float64Array(bins);
  const watts = new Float64Array(bins);
  if (n < 2) return { centreS: centre, watts };
  const t0 = t[0] as number;
  const width = ((t[n - 1] as number) - t0) / bins;
  // Between events power is constant except where power-down switches a node off; reading the cumulative energy
  // at a bin edge by linear interpolation is therefore exact at event times and close in between, which is all a
  // plot needs (the reported energies come from the engine, not from here).
  let j = 0;
  const at = (x: number): number => {
    while (j < n - 2 && (t[j + 1] as number) < x) j++;
    const ta = t[j] as number;
    const tb = t[j + 1] as number;
    const ea = cumulativeJ[j] as number;
    const eb = cumulativeJ[j + 1] as number;
    return tb > ta ? ea + ((eb - ea) * (Math.min(Math.max(x, ta), tb) - ta)) / (tb - ta) : eb;
  };
  let prev = at(t0);
  for (let b = 0; b < bins; b++) {
    const hi = b === bins - 1 ? (t[n - 1] as number) : t0 + width * (b + 1);
    const e = at(hi);
    centre[b] = t0 + width * (b + 0.5);
    watts[b] = width > 0 ? (e - prev) / width : 0;
    prev = e;
  }
  return { centreS: centre, watts };
}
