// A cluster-backed NodeInventory: informers on Nodes and Pods (list + watch through @kubernetes/client-node), so
// names-mode requests can be scored and every node's requested CPU reflects the pods already bound to it.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Node, Pod } from '../../shared/wire/extender.js';
import { podCpuRequestMilli } from '../protocol/pod.js';
import type { BoundPod, NodeInventory } from './inventory.js';
import { nodeStateFromNode, type NodeState } from './state.js';

/** Where a kubeconfig would come from, in client-go's order; undefined when there is no cluster to talk to. */
export function findKubeconfig(explicit: string | undefined, env: Record<string, string | undefined>): { kind: 'file'; path: string } | { kind: 'in-cluster' } | undefined {
  if (explicit) return { kind: 'file', path: explicit };
  if (env.KUBECONFIG) return { kind: 'file', path: env.KUBECONFIG };
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return { kind: 'file', path: home };
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return { kind: 'in-cluster' };
  return undefined;
}

const RESTART_DELAY_MS = 3000;

interface PodPlacement {
  node: string;
  cpuMilli: number;
}

/** Tracks requested CPU per node from pod events; terminal and unbound pods hold no capacity. */
export class RequestedCpuLedger {
  private readonly byPod = new Map<string, PodPlacement>();
  private readonly byNode = new Map<string, number>();

  /** Records the pod's placement; returns the nodes whose requested CPU changed. */
  apply(key: string, pod: Pod & { status?: { phase?: string } }): string[] {
    const changed = this.remove(key);
    const node = pod.spec?.nodeName;
    const phase = pod.status?.phase;
    if (!node || phase === 'Succeeded' || phase === 'Failed') return changed;
    const cpuMilli = podCpuRequestMilli(pod);
    this.byPod.set(key, { node, cpuMilli });
    this.byNode.set(node, (this.byNode.get(node) ?? 0) + cpuMilli);
    return [...changed, node];
  }

  remove(key: string): string[] {
    const prev = this.byPod.get(key);
    if (!prev) return [];
    this.byPod.delete(key);
    const left = (this.byNode.get(prev.node) ?? 0) - prev.cpuMilli;
    if (left > 0) this.byNode.set(prev.node, left);
    else this.byNode.delete(prev.node);
    return [prev.node];
  }

  requested(node: string): number {
    return this.byNode.get(node) ?? 0;
  }

  placement(key: string): PodPlacement | undefined {
    return this.byPod.get(key);
  }
}

const podKey = (p: k8s.V1Pod): string => p.metadata?.uid ?? `${p.metadata?.namespace}/${p.metadata?.name}`;

export async function kubeInventory(kubeconfig: { kind: 'file'; path: string } | { kind: 'in-cluster' }, log: Logger): Promise<NodeInventory> {
  const kc = new k8s.KubeConfig();
  if (kubeconfig.kind === 'file') kc.loadFromFile(kubeconfig.path);
  else kc.loadFromCluster();
  const core = kc.makeApiClient(k8s.CoreV1Api);

  // Parsed once per node event, not per request: names-mode requests look up thousands of nodes. `states` holds
  // the node with its current requested CPU, rebuilt only when that node or a pod on it changes, so callers get
  // the same object between changes (scorers memoise per object).
  const nodes = new Map<string, NodeState>();
  const states = new Map<string, NodeState>();
  const ledger = new RequestedCpuLedger();
  let synced = { nodes: false, pods: false };
  let stopped = false;

  const nodeInformer = k8s.makeInformer(kc, '/api/v1/nodes', () => core.listNode());
  const podInformer = k8s.makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());

  const onNode = (n: k8s.V1Node): void => {
    const state = nodeStateFromNode(n as Node, 0);
    if (!state) return;
    nodes.set(state.name, state);
    states.delete(state.name);
  };
  nodeInformer.on('add', onNode);
  nodeInformer.on('update', onNode);
  nodeInformer.on('delete', (n) => {
    if (!n.metadata?.name) return;
    nodes.delete(n.metadata.name);
    states.delete(n.metadata.name);
  });
  const settled = new Set<(uid: string) => void>();
  const settle = (key: string): void => {
    for (const l of settled) l(key);
  };
  const bound = new Set<(pod: BoundPod) => void>();
  const onPod = (p: k8s.V1Pod): void => {
    const key = podKey(p);
    for (const node of ledger.apply(key, p as Pod & { status?: { phase?: string } })) states.delete(node);
    // Bound (now counted on its node by the ledger above) or finished: no longer pending anywhere.
    if (p.spec?.nodeName || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') settle(key);
    const md = p.metadata;
    if (bound.size > 0 && p.spec?.nodeName && md?.uid && md.name) {
      const pod: BoundPod = { uid: md.uid, namespace: md.namespace ?? 'default', name: md.name, node: p.spec.nodeName, annotations: md.annotations ?? {} };
      for (const l of bound) l(pod);
    }
  };
  podInformer.on('add', onPod);
  podInformer.on('update', onPod);
  podInformer.on('delete', (p) => {
    const key = podKey(p);
    for (const node of ledger.remove(key)) states.delete(node);
    settle(key);
  });

  // client-node's start() resolves even when its list failed (it only emits 'error'), so a load counts as synced
  // only if no error arrived while it ran. Informers stop on any error; restarting after a pause is the recovery.
  const errors = { nodes: 0, pods: 0 };
  const startOne = async (kind: 'nodes' | 'pods', inf: k8s.Informer<k8s.KubernetesObject>): Promise<void> => {
    const before = errors[kind];
    await inf.start();
    if (errors[kind] === before && !stopped) {
      if (!synced[kind]) log.info({ kind }, 'cluster watch synced');
      synced = { ...synced, [kind]: true };
    }
  };
  for (const [kind, inf] of [['nodes', nodeInformer], ['pods', podInformer]] as const) {
    inf.on('error', (err: unknown) => {
      errors[kind] += 1;
      log.warn({ err, kind }, 'cluster watch failed; restarting');
      if (!stopped) setTimeout(() => void startOne(kind, inf).catch(() => {}), RESTART_DELAY_MS).unref();
    });
    // Start without awaiting: the extender serves (and fails open) while the initial lists load.
    void startOne(kind, inf).catch((err: unknown) => log.error({ err, kind }, 'cluster watch could not start'));
  }

  const get = (name: string): NodeState | undefined => {
    let s = states.get(name);
    if (s) return s;
    const n = nodes.get(name);
    if (!n) return undefined;
    s = { ...n, requestedMilliCPU: ledger.requested(name) };
    states.set(name, s);
    return s;
  };
  return {
    source: 'cluster watch',
    ready: () => synced.nodes && synced.pods,
    get,
    list: () => [...nodes.keys()].map((name) => get(name) as NodeState),
    size: () => nodes.size,
    boundPod: (uid) => ledger.placement(uid),
    onPodSettled: (listener) => {
      settled.add(listener);
      return () => settled.delete(listener);
    },
    onPodBound: (listener) => {
      bound.add(listener);
      return () => bound.delete(listener);
    },
    close: async () => {
      stopped = true;
      await Promise.allSettled([nodeInformer.stop(), podInformer.stop()]);
    },
  };
}
