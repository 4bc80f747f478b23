// The ablation: the fewest extra watts right now, from measured use, and nothing else. A node that power-down has
// switched off costs its whole power with the pod, since placing there wakes it.
import { nodeWatts } from '../energy.js';
import type { Policy } from '../policy.js';

export function greedyCost(curve: readonly number[], capacityMilli: number, usedMilli: number, podUsageMilli: number, on: boolean): number {
  const after = nodeWatts(curve, capacityMilli, usedMilli + podUsageMilli);
  return on ? after - nodeWatts(curve, capacityMilli, usedMilli) : after;
}

export const greedyPolicy: Policy = {
  name: 'greedy',
  score: (pod, candidates, v) => candidates.map((i) => -greedyCost(v.nodes[i]!.curve, v.nodes[i]!.capacityMilli, v.usageMilli[i] as number, pod.usageMilli, v.on[i] === 1)),
};
