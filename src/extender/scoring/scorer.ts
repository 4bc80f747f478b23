// The extension point for "how many watts would this pod add on that node". One method, batched over all
// candidate nodes and answered in columns (typed arrays), so a learned model can score them in one inference call
// and 5,000 nodes cost no per-node objects. Expected gaps (no curve, no profile, no allocatable CPU) are skips,
// never exceptions.
import type { NodeState } from '../nodes/state.js';
import type { PodDemand } from '../protocol/pod.js';

export interface ScoreBatch {
  readonly kind: 'batch';
  /** Predicted node power increase if the pod lands on node i, watts; NaN where skipped. */
  readonly marginalWatts: Float64Array;
  /** Predicted node power with the pod running, watts (what a power cap is checked against); NaN where skipped. */
  readonly powerWithPodWatts: Float64Array;
  /** Where each prediction came from, for /explain (e.g. "annotation", "label node.kubernetes.io/instance-type=m5"). */
  readonly basis: readonly string[];
  /** Nodes the scorer could not estimate, with the reason. */
  readonly skipped: ReadonlyMap<number, string>;
  /**
   * What the priorities are made from when not the marginal watts themselves (lower is better; NaN is the minimum):
   * a policy blend, or a neutral value for a node whose telemetry is stale.
   */
  readonly scoreBy?: Float64Array;
  /**
   * Each node's load fraction before the pod, as the prediction used it (NaN where skipped): among the cheapest
   * candidates the fullest is preferred (scoresFromWatts). Absent when the scorer expresses no preference.
   */
  readonly loadBefore?: Float64Array;
  /** The pod's predicted demand and policy, for /explain. */
  readonly demand?: DemandExplanation;
}

export interface DemandExplanation {
  readonly cores: number;
  readonly source: string;
  readonly detail: string;
  readonly policy: string;
  readonly warning?: string;
  readonly profile?: unknown;
}

export interface Skip {
  readonly kind: 'skip';
  readonly reason: string;
}

export interface Scorer {
  readonly name: string;
  /** Columns in the order of `nodes`; a Skip for the whole call when the pod itself cannot be scored. */
  score(pod: PodDemand, nodes: readonly NodeState[]): Promise<ScoreBatch | Skip>;
}
