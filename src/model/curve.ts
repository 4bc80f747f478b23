// SPECpower-style node power curves: watts at 0,10,…,100 % load, linearly interpolated. Pure maths, shared by the
// extender (marginal watts of a placement) and anything else that needs power(load) for a node without a meter.
import { WS_ERR_POWER_CURVE } from '../shared/errors.js';

export const CURVE_POINTS = 11;

/** Watts at load 0, 0.1, …, 1.0. Always CURVE_POINTS finite, non-negative numbers. */
export type PowerCurve = readonly number[];

/**
 * Median curve of the 178 compliant single-node 2-socket servers from 2018 on in SPECpower_ssj2008
 * (shared/data/specpower/specpower_train.csv: median of curves normalised to watts_100, times the median watts_100).
 * Used only for nodes that have neither an annotation nor a configured curve.
 */
export const DEFAULT_POWER_CURVE: PowerCurve = Object.freeze([123, 217, 255, 290, 326, 354, 389, 442, 499, 565, 629]);

export function validateCurve(values: readonly number[], origin: string): PowerCurve {
  if (values.length !== CURVE_POINTS) {
    throw new WS_ERR_POWER_CURVE(origin, `expected ${CURVE_POINTS} values (0,10,…,100 % load), got ${values.length}`);
  }
  values.forEach((w, i) => {
    if (!Number.isFinite(w) || w < 0) throw new WS_ERR_POWER_CURVE(origin, `value ${i} (${i * 10} % load) is not a non-negative number`);
  });
  return Object.freeze([...values]);
}

/** Parses "61,70,…" or "[61,70,…]" (the `wattsched.io/power-curve` annotation format). */
export function parseCurve(text: string, origin: string): PowerCurve {
  const body = text.trim().replace(/^\[/, '').replace(/\]$/, '');
  const parts = body.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(p))) {
    throw new WS_ERR_POWER_CURVE(origin, `not a comma-separated list of numbers: ${JSON.stringify(text.slice(0, 120))}`);
  }
  return validateCurve(parts.map(Number), origin);
}

/** Power at `load` (fraction of capacity); loads outside [0, 1] are clamped to the curve's ends. */
export function powerAt(curve: PowerCurve, load: number): number {
  const u = Math.min(1, Math.max(0, load)) * (CURVE_POINTS - 1);
  const i = Math.min(CURVE_POINTS - 2, Math.floor(u));
  const lo = curve[i] as number;
  const hi = curve[i + 1] as number;
  return lo + (hi - lo) * (u - i);
}
