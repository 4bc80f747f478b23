// Maps predicted marginal watts to extender priorities. The only place a score is made, so the wire range holds.
import { MAX_EXTENDER_PRIORITY, MIN_EXTENDER_PRIORITY } from '../../shared/wire/extender.js';

/**
 * Fewer marginal watts, higher score: linear between the cheapest candidate (MaxExtenderPriority) and the dearest
 * (MinExtenderPriority), rounded to the integers kube-scheduler's int64 field accepts. Only the cheapest candidates
 * get the maximum: any dearer one is held at most one below it, because rounding would otherwise tie nodes within
 * a twentieth of the span and hand the choice to the default plugins, which spread (LeastAllocated) exactly where
 * packing saves energy (`wattsched sim` measures it). When every candidate costs the same, all get the maximum, so
 * the extender expresses no preference. Nodes without an estimate (NaN) get the minimum: a node we cannot predict
 * is never preferred over one we can.
 */
export function scoresFromWatts(watts: ArrayLike<number>): Uint8Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < watts.length; i++) {
    const w = watts[i] as number;
    if (w < lo) lo = w;
    if (w > hi) hi = w;
  }
  const span = hi - lo;
  const out = new Uint8Array(watts.length);
  for (let i = 0; i < watts.length; i++) {
    const w = watts[i] as number;
    if (Number.isNaN(w)) out[i] = MIN_EXTENDER_PRIORITY;
    else if (!(span > 1e-9)) out[i] = MAX_EXTENDER_PRIORITY;
    else if (w - lo <= 1e-9 * span) out[i] = MAX_EXTENDER_PRIORITY;
    else out[i] = Math.min(MAX_EXTENDER_PRIORITY - 1, Math.max(MIN_EXTENDER_PRIORITY, Math.round((MAX_EXTENDER_PRIORITY * (hi - w)) / span)));
  }
  return out;
}

/** The cap annotation's value in watts; undefined when absent, and an error text when it is not a positive number. */
export function parsePowerCap(text: string | undefined): number | undefined | { error: string } {
  if (text === undefined) return undefined;
  const v = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0) return { error: `not a positive number of watts: ${JSON.stringify(text.slice(0, 60))}` };
  return v;
}
