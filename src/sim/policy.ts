// What a placement policy sees and returns in the simulator. The engine filters (fit) and samples
// (percentageOfNodesToScore) exactly as kube-scheduler does, then asks the policy to score the candidates and picks
// the highest total as kube-scheduler's selectHost does.
import type { SimNode } from './data.js';

export interface ClusterView {
  readonly nodes: readonly SimNode[];
  /** Sum of the CPU requests of the pods bound to each node, millicores. */
  readonly requestedMilli: Float64Array;
  readonly requestedMemMiB: Float64Array;
  /** Sum of what those pods actually use, millicores (what the node's power follows). */
  readonly usageMilli: Float64Array;
  readonly pods: Int32Array;
  /** 1 while the node draws power (always, unless power-down switched it off). */
  readonly on: Uint8Array;
  /** True when empty nodes are switched off after a delay (the power-down scenario). */
  readonly powerDown: boolean;
}

export interface PodAsk {
  readonly index: number;
  readonly name: string;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  /** What the pod will use, millicores; load-aware policies see it as measured usage once it runs. */
  readonly usageMilli: number;
}

export interface Policy {
  readonly name: string;
  /** Higher is better; one entry per candidate, in candidate order. */
  score(pod: PodAsk, candidates: readonly number[], view: ClusterView): ArrayLike<number> | Promise<ArrayLike<number>>;
}
