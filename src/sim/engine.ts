// Event-driven replay of a pod trace onto a cluster: creations and deletions in time order, each creation filtered
// and sampled as kube-scheduler does, scored by a policy, bound to the winner; between events every node draws the
// power its own curve gives for its usage, or nothing once power-down has switched it off.
import { MAX_PODS_PER_NODE, type SimNode, type SimPod } from './data.js';
import { emptyNodeOn, emptyOnSeconds, nodeWatts } from './energy.js';
import type { ClusterView, PodAsk, Policy } from './policy.js';
import { mulberry32 } from '../shared/random.js';

export interface SimOptions {
  /** Seconds an empty node waits before it is switched off; Infinity (the default) = always on. */
  readonly powerDownAfterS?: number;
  /** What each pod uses, millicores, indexed like the pods. */
  readonly usageMilli: ArrayLike<number>;
  /** Seeds selectHost's tie-breaking. */
  readonly seed?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SimResult {
  readonly policy: string;
  readonly energyKWh: number;
  readonly unschedulable: number;
  readonly peakWatts: number;
  readonly meanNodesOn: number;
  /** Node index per pod; -1 unschedulable. */
  readonly placement: Int32Array;
  /** Event times with the cluster's cumulative energy (J) and instantaneous power (W) right after them. */
  readonly timeline: { readonly t: Float64Array; readonly energyJ: Float64Array; readonly watts: Float64Array };
}

/** kube-scheduler's adaptive percentageOfNodesToScore (numFeasibleNodesToFind with the default 0 setting). */
export function feasibleNodesToFind(n: number): number {
  if (n < 100) return n;
  const pct = Math.max(5, 50 - Math.floor(n / 125));
  return Math.max(100, Math.floor((n * pct) / 100));
}

/** NodeResourcesFit's filter: the pod's requests fit in what is left, and the node has a pod slot. */
export function fits(pod: PodAsk, i: number, v: ClusterView): boolean {
  const n = v.nodes[i] as SimNode;
  return (
    (v.pods[i] as number) < MAX_PODS_PER_NODE &&
    (v.requestedMilli[i] as number) + pod.cpuMilli <= n.capacityMilli &&
    (v.requestedMemMiB[i] as number) + pod.memoryMiB <= n.memoryMiB
  );
}

/** selectHost: the highest score, ties broken uniformly at random (reservoir sampling, as upstream). */
export function selectHost(scores: ArrayLike<number>, rand: () => number): number {
  let best = 0;
  let count = 1;
  for (let i = 1; i < scores.length; i++) {
    const s = scores[i] as number;
    const b = scores[best] as number;
    if (s > b) {
      best = i;
      count = 1;
    } else if (s === b) {
      count++;
      if (Math.floor(rand() * count) === 0) best = i;
    }
  }
  return best;
}

interface Event {
  readonly t: number;
  readonly pod: number;
  readonly create: boolean;
}

/** Creations and deletions in time order; at one instant deletions go first (they free room), then creations in trace order. */
export function eventsOf(pods: readonly SimPod[]): Event[] {
  const ev: Event[] = [];
  pods.forEach((p, i) => {
    ev.push({ t: p.createdS, pod: i, create: true });
    ev.push({ t: p.deletedS, pod: i, create: false });
  });
  return ev.sort((a, b) => a.t - b.t || Number(a.create) - Number(b.create) || a.pod - b.pod);
}

export async function simulate(pods: readonly SimPod[], nodes: readonly SimNode[], policy: Policy, opts: SimOptions): Promise<SimResult> {
  const n = nodes.length;
  const delay = opts.powerDownAfterS ?? Infinity;
  const rand = mulberry32(opts.seed ?? 1);
  const view: ClusterView = {
    nodes,
    requestedMilli: new Float64Array(n),
    requestedMemMiB: new Float64Array(n),
    usageMilli: new Float64Array(n),
    pods: new Int32Array(n),
    on: new Uint8Array(n).fill(1),
    powerDown: Number.isFinite(delay),
  };
  const events = eventsOf(pods);
  const placement = new Int32Array(pods.length).fill(-1);
  const deleted = new Uint8Array(pods.length);
  const t0 = events.length > 0 ? (events[0] as Event).t : 0;
  const emptySince = new Float64Array(n).fill(t0);
  const watts = new Float64Array(n);
  for (let i = 0; i < n; i++) watts[i] = nodeWatts((nodes[i] as SimNode).curve, (nodes[i] as SimNode).capacityMilli, 0);

  const times: number[] = [];
  const cumJ: number[] = [];
  const instW: number[] = [];
  let energyJ = 0;
  let onSeconds = 0;
  let peak = 0;
  let unschedulable = 0;
  let last = t0;
  let start = 0;
  const toFind = feasibleNodesToFind(n);

  // Integrates every node from `last` to `t` at its state since `last`.
  const advance = (t: number): void => {
    if (!(t > last)) return;
    for (let i = 0; i < n; i++) {
      if ((view.pods[i] as number) > 0) {
        energyJ += (watts[i] as number) * (t - last);
        onSeconds += t - last;
      } else {
        const s = emptyOnSeconds(emptySince[i] as number, last, t, delay);
        energyJ += (watts[i] as number) * s;
        onSeconds += s;
      }
    }
    last = t;
  };
  const refresh = (i: number): void => {
    const node = nodes[i] as SimNode;
    watts[i] = nodeWatts(node.curve, node.capacityMilli, view.usageMilli[i] as number);
  };

  const place = async (p: number): Promise<void> => {
    const sp = pods[p] as SimPod;
    const ask: PodAsk = { index: p, name: sp.name, cpuMilli: sp.cpuMilli, memoryMiB: sp.memoryMiB, usageMilli: opts.usageMilli[p] as number };
    const candidates: number[] = [];
    let visited = 0;
    while (visited < n && candidates.length < toFind) {
      const i = (start + visited) % n;
      if (fits(ask, i, view)) candidates.push(i);
      visited++;
    }
    start = (start + visited) % n;
    if (candidates.length === 0) {
      unschedulable++;
      return;
    }
    // With one feasible node kube-scheduler runs no scoring at all.
    const chosen = candidates.length === 1 ? (candidates[0] as number) : (candidates[selectHost(await policy.score(ask, candidates, view), rand)] as number);
    placement[p] = chosen;
    view.requestedMilli[chosen] = (view.requestedMilli[chosen] as number) + ask.cpuMilli;
    view.requestedMemMiB[chosen] = (view.requestedMemMiB[chosen] as number) + ask.memoryMiB;
    view.usageMilli[chosen] = (view.usageMilli[chosen] as number) + ask.usageMilli;
    view.pods[chosen] = (view.pods[chosen] as number) + 1;
    view.on[chosen] = 1;
    refresh(chosen);
  };
  const remove = (p: number): void => {
    deleted[p] = 1;
    const i = placement[p] as number;
    if (i < 0) return;
    const sp = pods[p] as SimPod;
    view.requestedMilli[i] = (view.requestedMilli[i] as number) - sp.cpuMilli;
    view.requestedMemMiB[i] = (view.requestedMemMiB[i] as number) - sp.memoryMiB;
    view.usageMilli[i] = (view.usageMilli[i] as number) - (opts.usageMilli[p] as number);
    view.pods[i] = (view.pods[i] as number) - 1;
    if (view.pods[i] === 0) {
      // Float sums drift; an empty node has exactly nothing on it.
      view.requestedMilli[i] = 0;
      view.requestedMemMiB[i] = 0;
      view.usageMilli[i] = 0;
      emptySince[i] = last;
    }
    refresh(i);
  };

  const progressEvery = Math.max(1, Math.floor(events.length / 100));
  for (let e = 0; e < events.length; ) {
    const t = (events[e] as Event).t;
    advance(t);
    for (let i = 0; i < n; i++) if ((view.pods[i] as number) === 0) view.on[i] = emptyNodeOn(emptySince[i] as number, t, delay) ? 1 : 0;
    for (; e < events.length && (events[e] as Event).t === t; e++) {
      const ev = events[e] as Event;
      // A zero-length pod's deletion sorts before its creation: it never runs, so it is neither placed nor unschedulable.
      if (ev.create) {
        if (!deleted[ev.pod]) await place(ev.pod);
      } else remove(ev.pod);
      if (opts.onProgress && e % progressEvery === 0) opts.onProgress(e, events.length);
    }
    let w = 0;
    for (let i = 0; i < n; i++) if ((view.pods[i] as number) > 0 || emptyNodeOn(emptySince[i] as number, t, delay)) w += watts[i] as number;
    if (w > peak) peak = w;
    times.push(t);
    cumJ.push(energyJ);
    instW.push(w);
  }
  opts.onProgress?.(events.length, events.length);
  const horizon = last - t0;
  return {
    policy: policy.name,
    energyKWh: energyJ / 3.6e6,
    unschedulable,
    peakWatts: peak,
    meanNodesOn: horizon > 0 ? onSeconds / horizon : n,
    placement,
    timeline: { t: Float64Array.from(times), energyJ: Float64Array.from(cumJ), watts: Float64Array.from(instW) },
  };
}
