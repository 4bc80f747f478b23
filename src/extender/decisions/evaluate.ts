// One scheduling question, answered once: given the pod and the candidate nodes (with whatever the extender knows
// of each), what does the scorer predict, which nodes break a power cap, and what score does each get. Filter,
// prioritize and preempt all read from this, and /explain shows it.
import { ANNOTATIONS } from '../../shared/names.js';
import type { NodeState } from '../nodes/state.js';
import type { PodDemand } from '../protocol/pod.js';
import type { NodeOutcome, Scorer } from '../scoring/scorer.js';
import { parsePowerCap, scoresFromWatts } from '../scoring/scores.js';

export interface Evaluation {
  readonly pod: PodDemand;
  readonly scorer: string;
  /** Node names in request order. */
  readonly names: readonly string[];
  /** Per node: the scorer's outcome, or undefined when the extender knows nothing of the node. */
  readonly outcomes: readonly (NodeOutcome | undefined)[];
  /** Set when the extender cannot judge at all: every node passes and gets the same score. */
  readonly failOpen?: string;
}

export type FailOpenReason = 'inventory_not_ready' | 'scorer_skip' | 'scorer_error' | 'no_estimates';

export async function evaluate(
  scorer: Scorer,
  pod: PodDemand,
  names: readonly string[],
  states: readonly (NodeState | undefined)[],
  inventoryReady: boolean,
): Promise<Evaluation & { failOpenKind?: FailOpenReason }> {
  const base = { pod, scorer: scorer.name, names };
  const unknown = names.map(() => undefined);
  if (!inventoryReady) return { ...base, outcomes: unknown, failOpen: 'node inventory has not finished its initial load', failOpenKind: 'inventory_not_ready' };

  const known: NodeState[] = [];
  const index: number[] = [];
  states.forEach((s, i) => {
    if (s) {
      known.push(s);
      index.push(i);
    }
  });
  let result: Awaited<ReturnType<Scorer['score']>>;
  try {
    result = known.length > 0 ? await scorer.score(pod, known) : [];
  } catch (err) {
    return { ...base, outcomes: unknown, failOpen: `scorer ${scorer.name} failed: ${(err as Error).message}`, failOpenKind: 'scorer_error' };
  }
  if (!Array.isArray(result)) {
    return { ...base, outcomes: unknown, failOpen: `scorer ${scorer.name} skipped the pod: ${(result as { reason: string }).reason}`, failOpenKind: 'scorer_skip' };
  }
  const outcomes: (NodeOutcome | undefined)[] = names.map(() => undefined);
  (result as readonly NodeOutcome[]).forEach((o, j) => {
    outcomes[index[j] as number] = o;
  });
  if (!outcomes.some((o) => o?.kind === 'estimate')) {
    const first = outcomes.find((o) => o?.kind === 'skip');
    const why = first?.kind === 'skip' ? first.reason : 'no candidate node is known to the extender';
    return { ...base, outcomes, failOpen: `no node could be scored: ${why}`, failOpenKind: 'no_estimates' };
  }
  return { ...base, outcomes };
}

/** Priorities in request order; equal (and neutral) when failing open. */
export function priorities(ev: Evaluation): number[] {
  if (ev.failOpen) return ev.names.map(() => 0);
  return scoresFromWatts(ev.outcomes.map((o) => (o?.kind === 'estimate' ? o.marginalWatts : undefined)));
}

/** Reasons for nodes to fail the filter: predicted power with the pod over the node's cap. */
export function capViolations(ev: Evaluation, states: readonly (NodeState | undefined)[]): Map<number, string> {
  const failed = new Map<number, string>();
  if (ev.failOpen) return failed;
  ev.outcomes.forEach((o, i) => {
    if (o?.kind !== 'estimate') return;
    const cap = parsePowerCap(states[i]?.annotations[ANNOTATIONS.powerCapWatts]);
    if (typeof cap !== 'number') return;
    if (o.powerWithPodWatts > cap) {
      failed.set(i, `wattsched: predicted ${o.powerWithPodWatts.toFixed(1)} W with this pod exceeds the node's power cap of ${cap} W (${ANNOTATIONS.powerCapWatts})`);
    }
  });
  return failed;
}
