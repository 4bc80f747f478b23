// The extension point for "how many watts would this pod add on that node". One method, batched over all
// candidate nodes so a learned model can score them in one inference call. Expected gaps (no curve, no profile,
// no allocatable CPU) are `skip` results, never exceptions.
import type { NodeState } from '../nodes/state.js';
import type { PodDemand } from '../protocol/pod.js';

export interface NodeEstimate {
  readonly kind: 'estimate';
  /** Predicted node power increase if the pod lands here, watts. */
  readonly marginalWatts: number;
  /** Predicted node power with the pod running, watts (what a power cap is checked against). */
  readonly powerWithPodWatts: number;
  /** Where the prediction came from, for /explain (e.g. "annotation", "label node.kubernetes.io/instance-type=m5"). */
  readonly basis: string;
}

export interface Skip {
  readonly kind: 'skip';
  readonly reason: string;
}

export type NodeOutcome = NodeEstimate | Skip;

export interface Scorer {
  readonly name: string;
  /** One outcome per node, in the order given; a Skip for the whole call when the pod itself cannot be scored. */
  score(pod: PodDemand, nodes: readonly NodeState[]): Promise<readonly NodeOutcome[] | Skip>;
}
