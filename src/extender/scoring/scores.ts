// Maps predicted marginal watts to extender priorities. The only place a score is made, so the wire range holds.
import { MAX_EXTENDER_PRIORITY, MIN_EXTENDER_PRIORITY } from '../../shared/wire/extender.js';

/**
 * Fewer marginal watts, higher score: linear between the cheapest candidate (MaxExtenderPriority) and the dearest
 * (MinExtenderPriority), rounded to the integers kube-scheduler's int64 field accepts. Only the cheapest candidates
 * get the maximum: any dearer one is held at most one below it, because rounding would otherwise tie nodes within
 * a twentieth of the span and hand the choice to the default plugins, which spread (LeastAllocated) exactly where
 * packing saves energy (`wattsched sim` measures it). Nodes without an estimate (NaN) get the minimum: a node we
 * cannot predict is never preferred over one we can.
 *
 * `loadBefore` (each node's load fraction before the pod) breaks ties among the cheapest: only the fullest of them
 * keep the maximum, the others get one below. Equal prices happen on identical nodes whose loads lie on one linear
 * piece of their curve; the default plugins would then spread the pods over them, and every later pod pays for it
 * where the curve flattens further up (measured in docs/sim.md). Without it, or when every candidate costs the same
 * and is as full, all get the maximum, so the extender expresses no preference.
 */
export function scoresFromWatts(watts: ArrayLike<number>, loadBefore?: ArrayLike<number>): Uint8Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < watts.length; i++) {
    const w = watts[i] as number;
    if (w < lo) lo = w;
    if (w > hi) hi = w;
  }
  const span = hi - lo;
  // Equal within float noise: the marginals of identical nodes on one linear piece differ in the last bits.
  const cheapest = (w: number): boolean => !(span > 1e-9) || w - lo <= 1e-9 * span;
  let fullest = -Infinity;
  if (loadBefore) {
    for (let i = 0; i < watts.length; i++) {
      const l = loadBefore[i] as number;
      if (!Number.isNaN(watts[i] as number) && cheapest(watts[i] as number) && l > fullest) fullest = l;
    }
  }
  const out = new Uint8Array(watts.length);
  for (let i = 0; i < watts.length; i++) {
    const w = watts[i] as number;
    if (Number.isNaN(w)) out[i] = MIN_EXTENDER_PRIORITY;
    else if (cheapest(w)) out[i] = fullest > -Infinity && !((loadBefore?.[i] as number) >= fullest - 1e-9) ? MAX_EXTENDER_PRIORITY - 1 : MAX_EXTENDER_PRIORITY;
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
