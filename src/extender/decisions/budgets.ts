// Power budgets over groups of nodes (config `powerBudgets`): a candidate fails the filter when its group's
// predicted power, every member at its current load and this candidate with the pod, would exceed the budget.
// Loads are bound + assumed, as for node caps, so the same burst argument holds for the group: a pod passed onto
// several members counts on each of them until the watch settles it, which can only over-estimate (power curves
// do not fall as load rises).
import type { PowerBudget } from '../../shared/config/extender.js';
import type { NodeState } from '../nodes/state.js';
import type { Scorer } from '../scoring/scorer.js';
import type { Evaluation } from './evaluate.js';

export const inBudget = (b: PowerBudget, labels: Readonly<Record<string, string>>): boolean => {
  for (const k in b.selector) if (labels[k] !== b.selector[k]) return false;
  return true;
};

/**
 * Reasons, by candidate index, for budget failures. `members(b)` gives the group's nodes as the filter sees them
 * (bound + assumed load); candidates in the group that are not among them (full mode, unknown to the inventory) are
 * added. A member the scorer cannot estimate counts 0 W.
 */
export async function budgetViolations(
  scorer: Scorer,
  budgets: readonly PowerBudget[],
  ev: Evaluation,
  states: readonly (NodeState | undefined)[],
  members: (b: PowerBudget) => NodeState[],
): Promise<Map<number, string>> {
  const failed = new Map<number, string>();
  if (ev.failOpen) return failed;
  for (const b of budgets) {
    const candidates: number[] = [];
    states.forEach((s, i) => {
      if (s && inBudget(b, s.labels) && Number.isFinite(ev.powerWithPodWatts[i] as number)) candidates.push(i);
    });
    if (candidates.length === 0) continue;
    const group = members(b);
    const at = new Map(group.map((s, j) => [s.name, j]));
    for (const i of candidates) {
      const s = states[i] as NodeState;
      if (!at.has(s.name)) at.set(s.name, group.push(s) - 1);
    }
    // The group as it is, without the pod: a bare request of 0 (no workload to predict from) adds nothing.
    const now = await scorer.score({ namespace: ev.pod.namespace, name: ev.pod.name, uid: ev.pod.uid, cpuMilli: 0 }, group);
    if (now.kind === 'skip') continue;
    let sum = 0;
    for (const w of now.powerWithPodWatts) if (Number.isFinite(w)) sum += w;
    for (const i of candidates) {
      const here = now.powerWithPodWatts[at.get((states[i] as NodeState).name) as number] as number;
      const total = sum - (Number.isFinite(here) ? here : 0) + (ev.powerWithPodWatts[i] as number);
      if (total > b.watts && !failed.has(i)) {
        failed.set(i, `wattsched: predicted ${total.toFixed(1)} W for power budget ${b.name} (${group.length} nodes) with this pod exceeds its ${b.watts} W`);
      }
    }
  }
  return failed;
}
