// TargetLoadPacking-style placement (scheduler-plugins pkg/trimaran/targetloadpacking): fill nodes towards a target
// CPU utilisation, then spread. The pod's predicted CPU is 1.5 × its request (the trace gives no limits).
import type { Policy } from '../policy.js';

export const TLP_TARGET_PERCENT = 40;
export const TLP_REQUEST_MULTIPLIER = 1.5;

/** U ≤ T: round((100 − T)·U/T + T); T < U ≤ 100: round(T·(100 − U)/(100 − T)); above 100: 0. */
export function tlpScore(capacityMilli: number, usedMilli: number, podRequestMilli: number, target = TLP_TARGET_PERCENT): number {
  const u = (100 * (usedMilli + TLP_REQUEST_MULTIPLIER * podRequestMilli)) / capacityMilli;
  if (u <= target) return Math.round(((100 - target) * u) / target + target);
  if (u <= 100) return Math.round((target * (100 - u)) / (100 - target));
  return 0;
}

export const tlpPolicy: Policy = {
  name: 'tlp',
  score: (pod, candidates, v) => candidates.map((i) => tlpScore(v.nodes[i]!.capacityMilli, v.usageMilli[i] as number, pod.cpuMilli)),
};
