// Where the extender learns about nodes it is only given names for (nodeCacheCapable: true), and about the load
// already placed on every node. Implementations: a static list from the config file, or a watch on the cluster.
import type { StaticNode } from '../../shared/config/extender.js';
import type { NodeState } from './state.js';

/** A pod the inventory saw bound to a node, as the pod annotator needs it. */
export interface BoundPod {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface NodeInventory {
  /** Human-readable origin, e.g. "config file (3 nodes)" or "cluster watch". */
  readonly source: string;
  /** False until the first full view has loaded (a cluster watch before its initial list). */
  ready(): boolean;
  get(name: string): NodeState | undefined;
  size(): number;
  /** Every known node (for power budgets over groups of nodes). */
  list(): NodeState[];
  /** A pod the inventory has seen bound, by UID: its node and CPU request; undefined when unknown. */
  boundPod(uid: string): { node: string; cpuMilli: number } | undefined;
  /** Calls `listener` with the UID of each pod the inventory sees bound, finished or deleted; returns an unsubscribe. */
  onPodSettled(listener: (uid: string) => void): () => void;
  /** Calls `listener` on every event of a bound pod (a cluster watch only: a config file knows no pods). */
  onPodBound?(listener: (pod: BoundPod) => void): () => void;
  close(): Promise<void>;
}

export function staticInventory(nodes: readonly StaticNode[]): NodeInventory {
  const byName = new Map<string, NodeState>(
    nodes.map((n) => [
      n.name,
      { name: n.name, labels: n.labels, annotations: n.annotations, allocatableMilliCPU: n.allocatableMilliCPU, requestedMilliCPU: n.requestedMilliCPU },
    ]),
  );
  return {
    source: `config file (${byName.size} nodes)`,
    ready: () => true,
    get: (name) => byName.get(name),
    size: () => byName.size,
    list: () => [...byName.values()],
    // A config file knows no pods: names-mode victims cannot be looked up, and nothing settles an assumed pod
    // before its assumption expires.
    boundPod: () => undefined,
    onPodSettled: () => () => {},
    close: async () => {},
  };
}
