// Pod metadata for the cgroups we see: a node-scoped watch (fieldSelector spec.nodeName=<node>) feeding an index by
// UID, or nothing at all in standalone mode, where cgroups are named by path.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Qos, Workload } from '../../shared/wire/agent.js';
import { cpuMillicores } from '../../shared/quantity.js';
import { type PodLike, qosOf, workloadOf } from './workload.js';

export interface PodMeta {
  uid: string;
  namespace: string;
  name: string;
  qos: Qos | null;
  workload: Workload;
  /** Sum of the containers' CPU requests, cores (0 when none request CPU): the cpu-request idle policy's weight. */
  cpuRequestCores: number;
  /** Runtime container ID (without the "containerd://" scheme) -> container name. */
  containerNames: ReadonlyMap<string, string>;
}

/** CPU requests and container names from the pod object (the parts attribution needs). */
export function podResources(pod: PodLike): { cpuRequestCores: number; containerNames: Map<string, string> } {
  let milli = 0;
  for (const c of pod.spec?.containers ?? []) {
    const q = c.resources?.requests?.['cpu'];
    const m = q === undefined ? undefined : cpuMillicores(q);
    if (m !== undefined) milli += m;
  }
  const containerNames = new Map<string, string>();
  for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
    if (s.containerID) containerNames.set(s.containerID.replace(/^[a-z-]+:\/\//, ''), s.name);
  }
  return { cpuRequestCores: milli / 1000, containerNames };
}

export interface PodDirectory {
  lookup(uid: string): PodMeta | undefined;
  status(): { mode: 'watch' | 'standalone'; detail: string };
  close(): Promise<void>;
}

/** UID → metadata, kept current by add/update/delete events. */
export class PodIndex {
  private readonly byUid = new Map<string, PodMeta>();

  apply(verb: 'add' | 'update' | 'delete', pod: PodLike): void {
    const uid = pod.metadata?.uid;
    if (uid === undefined) return;
    if (verb === 'delete') {
      this.byUid.delete(uid);
      return;
    }
    this.byUid.set(uid, {
      uid,
      namespace: pod.metadata?.namespace ?? 'default',
      name: pod.metadata?.name ?? uid,
      qos: qosOf(pod),
      workload: workloadOf(pod),
      ...podResources(pod),
    });
  }

  get(uid: string): PodMeta | undefined {
    return this.byUid.get(uid);
  }

  get size(): number {
    return this.byUid.size;
  }
}

export class StandalonePods implements PodDirectory {
  constructor(private readonly why: string) {}
  lookup(): undefined {
    return undefined;
  }
  status(): { mode: 'standalone'; detail: string } {
    return { mode: 'standalone', detail: this.why };
  }
  async close(): Promise<void> {}
}

/** Where a Kubernetes client configuration would come from, or null when there is none. */
export function kubeconfigSource(explicit: string | undefined, env: NodeJS.ProcessEnv): string | null {
  if (explicit !== undefined) return explicit;
  if (env.KUBECONFIG) return env.KUBECONFIG;
  if (env.KUBERNETES_SERVICE_HOST && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return 'in-cluster';
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? home : null;
}

const RESTART_DELAY_MS = 5000;

export class KubePodDirectory implements PodDirectory {
  private readonly index = new PodIndex();
  private detail = 'starting';
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly informer: { start(): Promise<void>; stop(): Promise<void> },
    private readonly node: string,
    private readonly log: Logger,
  ) {}

  static async create(source: string, node: string, log: Logger): Promise<KubePodDirectory> {
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    if (source === 'in-cluster') kc.loadFromCluster();
    else kc.loadFromFile(source);
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const fieldSelector = `spec.nodeName=${node}`;
    // ListWatch takes the field selector for both its list and its watch; makeInformer would not.
    const informer = new k8s.ListWatch<V1Pod>(
      '/api/v1/pods',
      new k8s.Watch(kc),
      () => api.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    const dir = new KubePodDirectory(informer, node, log);
    informer.on('add', (p) => dir.index.apply('add', p as PodLike));
    informer.on('update', (p) => dir.index.apply('update', p as PodLike));
    informer.on('delete', (p) => dir.index.apply('delete', p as PodLike));
    informer.on('connect', () => {
      dir.detail = `watching pods with spec.nodeName=${node} (${dir.index.size} known)`;
    });
    informer.on('error', (err: unknown) => dir.scheduleRestart(err));
    try {
      await informer.start();
      // start() reports a failed list through the error callback, not by throwing: keep that reason.
      if (dir.restartTimer === undefined) dir.detail = `watching pods with spec.nodeName=${node} (${dir.index.size} known)`;
    } catch (err) {
      dir.scheduleRestart(err);
    }
    return dir;
  }

  private scheduleRestart(err: unknown): void {
    this.detail = `pod watch failed, retrying: ${(err as Error)?.message ?? String(err)}`;
    this.log.warn({ err }, 'pod watch failed; retrying');
    if (this.stopped || this.restartTimer !== undefined) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) this.informer.start().catch((e: unknown) => this.scheduleRestart(e));
    }, RESTART_DELAY_MS);
    this.restartTimer.unref();
  }

  lookup(uid: string): PodMeta | undefined {
    return this.index.get(uid);
  }

  status(): { mode: 'watch'; detail: string } {
    return { mode: 'watch', detail: this.detail.replace(/\(\d+ known\)/, `(${this.index.size} known)`) + ` node=${this.node}` };
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    await this.informer.stop();
  }
}
