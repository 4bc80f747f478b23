// PEAKS-style placement (scheduler-plugins pkg/trimaran/peaks): node power modelled as K0 + K1·e^(K2·x) over CPU
// percent x, fitted per node to its curve; the pod goes where the predicted power jump is least.
import type { PowerCurve } from '../../model/curve.js';
import type { Policy } from '../policy.js';

export interface PeaksModel {
  readonly k0: number;
  readonly k1: number;
  readonly k2: number;
}

/**
 * Least-squares fit of K0 + K1·e^(K2·x) to the curve's 11 points (x = 0, 10, …, 100 %): for each K2 on a fine
 * log grid K0 and K1 are linear, solved in closed form; the K2 with the smallest residual wins. K1 is kept positive
 * so that power rises with load, as the model assumes.
 */
export function fitPeaks(curve: PowerCurve): PeaksModel {
  let best: PeaksModel & { sse: number } = { k0: curve[0] as number, k1: 0, k2: 0, sse: Infinity };
  for (let g = 0; g <= 400; g++) {
    const k2 = 1e-5 * Math.pow(10, (g / 400) * 4); // 1e-5 … 1e-1 per percent
    let se = 0;
    let sy = 0;
    let see = 0;
    let sey = 0;
    const m = curve.length;
    for (let j = 0; j < m; j++) {
      const e = Math.exp(k2 * j * 10);
      const y = curve[j] as number;
      se += e;
      sy += y;
      see += e * e;
      sey += e * y;
    }
    const den = m * see - se * se;
    if (!(Math.abs(den) > 1e-12)) continue;
    const k1 = (m * sey - se * sy) / den;
    if (!(k1 > 0)) continue;
    const k0 = (sy - k1 * se) / m;
    let sse = 0;
    for (let j = 0; j < m; j++) sse += (k0 + k1 * Math.exp(k2 * j * 10) - (curve[j] as number)) ** 2;
    if (sse < best.sse) best = { k0, k1, k2, sse };
  }
  return { k0: best.k0, k1: best.k1, k2: best.k2 };
}

/**
 * PEAKS's raw score: the predicted jump K1·(e^(K2·p) − e^(K2·u)), u = current CPU % (measured use), p = u plus the
 * pod's request as a percentage of capacity; 0 when p exceeds 100 (upstream's quirk, kept).
 */
export function peaksJump(m: PeaksModel, capacityMilli: number, usedMilli: number, podRequestMilli: number): number {
  const u = (100 * usedMilli) / capacityMilli;
  const p = u + (100 * podRequestMilli) / capacityMilli;
  if (p > 100) return 0;
  return m.k1 * (Math.exp(m.k2 * p) - Math.exp(m.k2 * u));
}

/** PEAKS's NormalizeScore: 100 − ⌊100·(raw − min)/(max − min)⌋; all 100 when every jump is equal. */
export function peaksNormalize(raw: ArrayLike<number>): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < raw.length; i++) (lo = Math.min(lo, raw[i] as number)), (hi = Math.max(hi, raw[i] as number));
  return Array.from(raw, (r) => (hi > lo ? 100 - Math.floor((100 * (r - lo)) / (hi - lo)) : 100));
}

export function createPeaks(): Policy {
  const models = new Map<PowerCurve, PeaksModel>();
  const model = (c: PowerCurve): PeaksModel => {
    let m = models.get(c);
    if (!m) models.set(c, (m = fitPeaks(c)));
    return m;
  };
  return {
    name: 'peaks',
    score: (pod, candidates, v) =>
      peaksNormalize(candidates.map((i) => {
        const node = v.nodes[i]!;
        return peaksJump(model(node.curve), node.capacityMilli, v.usageMilli[i] as number, pod.cpuMilli);
      })),
  };
}
