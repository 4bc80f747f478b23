// The view of a node that scoring needs, built from whichever source the request mode offers: a Node object in
// the request body (full mode) or the extender's own inventory (names mode).
import { cpuMillicores } from '../../shared/quantity.js';
import type { Node } from '../../shared/wire/extender.js';

export interface NodeState {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Allocatable CPU in millicores; 0 when the node does not say. */
  readonly allocatableMilliCPU: number;
  /** CPU already requested by pods bound to the node, millicores. */
  readonly requestedMilliCPU: number;
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/** Returns undefined for a Node without a name: it cannot be answered for. */
export function nodeStateFromNode(node: Node, requestedMilliCPU: number): NodeState | undefined {
  const name = node.metadata?.name;
  if (!name) return undefined;
  const alloc = node.status?.allocatable?.cpu ?? node.status?.capacity?.cpu;
  return {
    name,
    labels: node.metadata?.labels ?? EMPTY,
    annotations: node.metadata?.annotations ?? EMPTY,
    allocatableMilliCPU: alloc !== undefined ? (cpuMillicores(alloc) ?? 0) : 0,
    requestedMilliCPU,
  };
}
