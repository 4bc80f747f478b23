// Writing wattsched's annotations onto pods, for the extender (predicted-watts) and the agent (observed-watts): a
// JSON merge patch of metadata.annotations only, from a bounded queue drained at a fixed rate by one worker, so a
// burst of bindings or a slow API server costs a bounded amount of memory and API load, and nothing waits on it.
// Failures are counted by outcome; each kind of failure is logged once until a patch succeeds again (a missing RBAC
// grant would otherwise log once per pod).
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { totalsCounter } from './totals-counter.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/** Sends one merge patch; rejects with an error carrying the HTTP status as `code` (client-node's ApiException). */
export type PatchFn = (pod: PodRef, body: { metadata: { annotations: Record<string, string> } }) => Promise<void>;

export type PatchOutcome = 'ok' | 'forbidden' | 'not_found' | 'rejected' | 'error' | 'dropped';

export function classify(err: unknown): Exclude<PatchOutcome, 'ok' | 'dropped'> {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 401 || code === 403) return 'forbidden';
  if (code === 404) return 'not_found';
  if (code === 409 || code === 422) return 'rejected';
  return 'error';
}

export interface AnnotationQueueOptions {
  patch: PatchFn;
  /** Pods waiting at most; past it the oldest waiting pod is dropped (counted). */
  maxPending: number;
  /** Patches per second at most (one worker, spaced evenly). */
  perSecond: number;
  log?: Logger | undefined;
  /** Who is patching, for the log: "extender" or "agent". */
  component: string;
}

interface Pending {
  pod: PodRef;
  annotations: Record<string, string>;
}

export class AnnotationQueue {
  private readonly pending = new Map<string, Pending>();
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** The failure kind last logged; cleared by a success, so a recurring failure is logged again after one. */
  private logged: string | undefined;
  readonly counts: Record<PatchOutcome, number> = { ok: 0, forbidden: 0, not_found: 0, rejected: 0, error: 0, dropped: 0 };
  /** Resolves whenever the queue has drained (tests and shutdown). */
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: AnnotationQueueOptions) {}

  /**
   * Queues `annotations` for pod `uid`; a pod already waiting keeps its place and takes the newer values, so a pod
   * is patched at most once per turn however often it is offered.
   */
  offer(uid: string, pod: PodRef, annotations: Record<string, string>): void {
    if (this.stopped) return;
    const waiting = this.pending.get(uid);
    if (waiting) {
      Object.assign(waiting.annotations, annotations);
      return;
    }
    if (this.pending.size >= this.opts.maxPending) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
      this.counts.dropped++;
      if (this.logged !== 'dropped') {
        this.logged = 'dropped';
        this.opts.log?.warn({ maxPending: this.opts.maxPending }, `${this.opts.component}: annotation queue full; dropping the oldest pods' annotations (counted as outcome=dropped)`);
      }
    }
    this.pending.set(uid, { pod, annotations: { ...annotations } });
    this.pump();
  }

  size(): number {
    return this.pending.size;
  }

  /** Resolves once nothing is waiting and no patch is in flight. */
  drained(): Promise<void> {
    if (!this.running && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  private pump(): void {
    if (this.running) return;
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private async drain(): Promise<void> {
    const spacingMs = 1000 / this.opts.perSecond;
    while (!this.stopped) {
      const next = this.pending.entries().next();
      if (next.done) return;
      const [uid, item] = next.value;
      this.pending.delete(uid);
      await this.send(item);
      // Spacing after each patch, not a burst budget: the API server sees a steady trickle at most.
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, spacingMs);
        this.timer.unref();
      });
    }
  }

  private async send(item: Pending): Promise<void> {
    try {
      await this.opts.patch(item.pod, { metadata: { annotations: item.annotations } });
      this.counts.ok++;
      if (this.logged !== undefined && this.logged !== 'dropped') this.opts.log?.info(`${this.opts.component}: pod annotations are being written again`);
      this.logged = undefined;
    } catch (err) {
      const outcome = classify(err);
      this.counts[outcome]++;
      // A pod deleted between binding (or measuring) and its patch is ordinary churn, not worth a warning.
      if (outcome === 'not_found') return;
      const kind = outcome === 'error' ? `error:${(err as Error)?.message ?? String(err)}` : outcome;
      if (this.logged === kind) return;
      this.logged = kind;
      if (outcome === 'forbidden') {
        this.opts.log?.warn(
          { pod: `${item.pod.namespace}/${item.pod.name}` },
          `${this.opts.component}: not allowed to patch pods (RBAC): pod annotations are not written until its service account may "patch" "pods" (the chart grants it); further refusals are only counted (outcome=forbidden)`,
        );
      } else {
        this.opts.log?.warn({ err, pod: `${item.pod.namespace}/${item.pod.name}`, outcome }, `${this.opts.component}: annotating a pod failed; further failures of this kind are only counted until one succeeds`);
      }
    }
  }

  registerMetrics(registry: Registry, names: { patches: string; queued: string }): void {
    totalsCounter({
      name: names.patches,
      help: 'Pod annotation patches by outcome: ok, forbidden (RBAC), not_found (pod gone), rejected, error, dropped (queue full).',
      registry,
      labelName: 'outcome',
      read: () => this.counts,
    });
    const self = this;
    new Gauge({
      name: names.queued,
      help: 'Pods waiting for their annotation patch.',
      registers: [registry],
      collect() {
        this.set(self.size());
      },
    });
  }
}

/** Formats watts for an annotation: milliwatt resolution, no exponent. */
export function formatWatts(w: number): string {
  return w.toFixed(3);
}

/**
 * A PatchFn over @kubernetes/client-node, loaded lazily (the agent starts without it when there is no cluster).
 * `load` fills the KubeConfig (from a file or the in-cluster service account).
 */
export async function kubePatcher(load: (kc: import('@kubernetes/client-node').KubeConfig) => void): Promise<PatchFn> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  load(kc);
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const asMergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  return async (pod, body) => {
    await api.patchNamespacedPod({ name: pod.name, namespace: pod.namespace, body }, asMergePatch);
  };
}
