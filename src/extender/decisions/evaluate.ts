// One scheduling question, answered once: given the pod and the candidate nodes (with whatever the extender knows
// of each), what does the scorer predict, which nodes break a power cap, and what score does each get. Filter,
// prioritize and preempt all read from this, and /explain shows it.
import { ANNOTATIONS } from '../../shared/names.js';
import type { NodeState } from '../nodes/state.js';
import type { PodDemand } from '../protocol/pod.js';
import type { DemandExplanation, Scorer } from '../scoring/scorer.js';
import { parsePowerCap, scoresFromWatts } from '../scoring/scores.js';

export type FailOpenReason = 'inventory_not_ready' | 'scorer_skip' | 'scorer_error' | 'no_estimates';

export interface Evaluation {
  readonly pod: PodDemand;
  readonly scorer: string;
  /** Node names in request order; every column below is indexed the same way. */
  readonly names: readonly string[];
  /** NaN where there is no estimate. */
  readonly marginalWatts: Float64Array;
  readonly powerWithPodWatts: Float64Array;
  /** Prediction source; undefined for nodes the extender knows nothing of. */
  readonly basis: readonly (string | undefined)[];
  readonly skipped: ReadonlyMap<number, string>;
  /** What the priorities come from when not marginalWatts (see ScoreBatch.scoreBy). */
  readonly scoreBy?: Float64Array;
  /** Each node's load fraction before the pod, the tie-break among the cheapest (see ScoreBatch.loadBefore). */
  readonly loadBefore?: Float64Array;
  readonly demand?: DemandExplanation;
  /** Set when the extender cannot judge at all: every node passes and gets the same score. */
  readonly failOpen?: string;
  readonly failOpenKind?: FailOpenReason;
}

/** Which known candidates to score, and the basis /explain shows for the ones left out. */
export interface ScoreSubset {
  readonly select: (i: number) => boolean;
  readonly leftOutBasis: string;
}

const nanColumn = (n: number): Float64Array => new Float64Array(n).fill(NaN);

/**
 * Scores the known candidates (all of them, or the `subset`) in one scorer call. Unknown nodes and nodes left
 * out keep NaN columns; only unknown nodes count towards "no node could be scored".
 */
export async function evaluate(
  scorer: Scorer,
  pod: PodDemand,
  names: readonly string[],
  states: readonly (NodeState | undefined)[],
  inventoryReady: boolean,
  subset?: ScoreSubset,
): Promise<Evaluation> {
  const n = names.length;
  const empty = (failOpenKind: FailOpenReason, failOpen: string): Evaluation => ({
    pod, scorer: scorer.name, names, failOpen, failOpenKind,
    marginalWatts: nanColumn(n), powerWithPodWatts: nanColumn(n), basis: new Array<undefined>(n), skipped: new Map(),
  });
  if (!inventoryReady) return empty('inventory_not_ready', 'node inventory has not finished its initial load');

  // Usually every node is known and scored, and the scorer's columns are used as they are; otherwise score the
  // selected known ones and spread their columns back to request positions.
  const allKnown = !subset && states.every((s) => s !== undefined);
  const index: number[] = [];
  const known: NodeState[] = allKnown ? (states as NodeState[]) : [];
  let leftOut = 0;
  if (!allKnown) {
    states.forEach((s, i) => {
      if (!s) return;
      if (subset && !subset.select(i)) leftOut++;
      else known.push(s), index.push(i);
    });
  }
  if (known.length === 0 && leftOut > 0) {
    const basis = states.map((s) => (s ? subset?.leftOutBasis : undefined));
    return { pod, scorer: scorer.name, names, marginalWatts: nanColumn(n), powerWithPodWatts: nanColumn(n), basis, skipped: new Map() };
  }

  let batch: Awaited<ReturnType<Scorer['score']>>;
  try {
    batch = known.length > 0 ? await scorer.score(pod, known) : { kind: 'skip', reason: 'no candidate node is known to the extender' };
  } catch (err) {
    return empty('scorer_error', `scorer ${scorer.name} failed: ${(err as Error).message}`);
  }
  if (batch.kind === 'skip') {
    return known.length > 0 ? empty('scorer_skip', `scorer ${scorer.name} skipped the pod: ${batch.reason}`) : empty('no_estimates', `no node could be scored: ${batch.reason}`);
  }

  let ev: Evaluation;
  if (allKnown) {
    ev = { pod, scorer: scorer.name, names, marginalWatts: batch.marginalWatts, powerWithPodWatts: batch.powerWithPodWatts, basis: batch.basis, skipped: batch.skipped, ...(batch.scoreBy ? { scoreBy: batch.scoreBy } : {}), ...(batch.loadBefore ? { loadBefore: batch.loadBefore } : {}), ...(batch.demand ? { demand: batch.demand } : {}) };
  } else {
    const marginal = nanColumn(n);
    const withPod = nanColumn(n);
    // Known nodes the subset left out get its basis; scored ones are overwritten below.
    const basis: (string | undefined)[] = states.map((s) => (s ? subset?.leftOutBasis : undefined));
    const skipped = new Map<number, string>();
    const scoreBy = batch.scoreBy ? nanColumn(n) : undefined;
    const loadBefore = batch.loadBefore ? nanColumn(n) : undefined;
    index.forEach((to, from) => {
      if (scoreBy) scoreBy[to] = batch.scoreBy?.[from] as number;
      if (loadBefore) loadBefore[to] = batch.loadBefore?.[from] as number;
      marginal[to] = batch.marginalWatts[from] as number;
      withPod[to] = batch.powerWithPodWatts[from] as number;
      basis[to] = batch.basis[from];
      const why = batch.skipped.get(from);
      if (why !== undefined) skipped.set(to, why);
    });
    ev = { pod, scorer: scorer.name, names, marginalWatts: marginal, powerWithPodWatts: withPod, basis, skipped, ...(scoreBy ? { scoreBy } : {}), ...(loadBefore ? { loadBefore } : {}), ...(batch.demand ? { demand: batch.demand } : {}) };
  }
  if (ev.skipped.size === known.length) {
    const first = ev.skipped.values().next().value as string;
    return { ...ev, failOpen: `no node could be scored: ${first}`, failOpenKind: 'no_estimates' };
  }
  return ev;
}

/** Priorities in request order; equal (and neutral) when failing open. */
export function priorities(ev: Evaluation): Uint8Array {
  if (ev.failOpen) return new Uint8Array(ev.names.length);
  return scoresFromWatts(ev.scoreBy ?? ev.marginalWatts, ev.loadBefore);
}

/** Reasons for nodes to fail the filter: predicted power with the pod over the node's cap. */
export function capViolations(ev: Evaluation, states: readonly (NodeState | undefined)[]): Map<number, string> {
  const failed = new Map<number, string>();
  if (ev.failOpen) return failed;
  states.forEach((s, i) => {
    const text = s?.annotations[ANNOTATIONS.powerCapWatts];
    if (text === undefined) return;
    const cap = parsePowerCap(text);
    const withPod = ev.powerWithPodWatts[i] as number;
    if (typeof cap !== 'number' || !(withPod > cap)) return;
    failed.set(i, `wattsched: predicted ${withPod.toFixed(1)} W with this pod exceeds the node's power cap of ${cap} W (${ANNOTATIONS.powerCapWatts})`);
  });
  return failed;
}
