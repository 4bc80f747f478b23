// Once the agent has measured a pod, the pod is annotated with wattsched.io/observed-watts: the watts attributed to
// it, averaged over a window of reports (the first after `settleSeconds`, so start-up is diluted, then one window
// every `refreshSeconds`). A new value is patched only when it moved meaningfully from the last one written, so a
// steady pod is patched once and a pod's annotation never flaps with per-second noise. The patches leave through the
// shared bounded, rate-limited queue, never from the reading loop itself.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ANNOTATIONS, METRICS } from '../../shared/names.js';
import { AnnotationQueue, formatWatts, kubePatcher, type PatchFn } from '../../shared/pod-annotations.js';
import type { NodeReport } from '../../shared/wire/agent.js';

export interface ObservedAnnotatorOptions {
  patch: PatchFn;
  /** Seconds of measurement before a pod's first value. */
  settleSeconds?: number;
  /** Seconds per later window. */
  refreshSeconds?: number;
  /** A value is rewritten when it moved by at least this fraction of the last one written… */
  minChangeRatio?: number;
  /** …and by at least this many watts (tiny pods would otherwise flap on a 10 % change of nothing). */
  minChangeWatts?: number;
  maxPending?: number;
  perSecond?: number;
  log?: Logger | undefined;
}

/** A node holds at most a few hundred pods: 5 patches/s from each of thousands of agents stays modest in sum. */
export const DEFAULTS = { settleSeconds: 10, refreshSeconds: 60, minChangeRatio: 0.1, minChangeWatts: 0.05, maxPending: 1000, perSecond: 5 } as const;

interface PodWindow {
  joules: number;
  seconds: number;
  /** The value last queued for the pod; undefined before its first. */
  written: number | undefined;
}

/** Whether `next` differs enough from the value last written to be worth a patch. */
export function meaningfulChange(written: number | undefined, next: number, ratio: number, watts: number): boolean {
  if (written === undefined) return true;
  const d = Math.abs(next - written);
  return d >= watts && d >= ratio * written;
}

export class ObservedWattsAnnotator {
  readonly queue: AnnotationQueue;
  private readonly pods = new Map<string, PodWindow>();
  private readonly o: Required<Omit<ObservedAnnotatorOptions, 'patch' | 'log'>>;

  constructor(opts: ObservedAnnotatorOptions) {
    this.o = {
      settleSeconds: opts.settleSeconds ?? DEFAULTS.settleSeconds,
      refreshSeconds: opts.refreshSeconds ?? DEFAULTS.refreshSeconds,
      minChangeRatio: opts.minChangeRatio ?? DEFAULTS.minChangeRatio,
      minChangeWatts: opts.minChangeWatts ?? DEFAULTS.minChangeWatts,
      maxPending: opts.maxPending ?? DEFAULTS.maxPending,
      perSecond: opts.perSecond ?? DEFAULTS.perSecond,
    };
    this.queue = new AnnotationQueue({ patch: opts.patch, maxPending: this.o.maxPending, perSecond: this.o.perSecond, log: opts.log, component: 'agent' });
  }

  /** One report of the monitor: adds each measured pod's interval to its window and queues the windows that closed. */
  offer(report: NodeReport): void {
    const dt = report.intervalSeconds;
    if (!(dt > 0)) return;
    const present = new Set<string>();
    for (const pod of report.pods) {
      present.add(pod.uid);
      // Without the pod's name (standalone, or the watch has not seen it yet) there is nothing to patch.
      if (!pod.energy || pod.namespace === null || pod.name === null) continue;
      let w = this.pods.get(pod.uid);
      if (!w) this.pods.set(pod.uid, (w = { joules: 0, seconds: 0, written: undefined }));
      w.joules += pod.energy.watts * dt;
      w.seconds += dt;
      if (w.seconds < (w.written === undefined ? this.o.settleSeconds : this.o.refreshSeconds)) continue;
      const mean = w.joules / w.seconds;
      w.joules = w.seconds = 0;
      if (!meaningfulChange(w.written, mean, this.o.minChangeRatio, this.o.minChangeWatts)) continue;
      w.written = mean;
      this.queue.offer(pod.uid, { namespace: pod.namespace, name: pod.name }, { [ANNOTATIONS.observedWatts]: formatWatts(mean) });
    }
    // Pods gone from the node are forgotten: the map holds at most the node's current pods.
    for (const uid of this.pods.keys()) if (!present.has(uid)) this.pods.delete(uid);
  }

  tracked(): number {
    return this.pods.size;
  }

  registerMetrics(registry: Registry): void {
    this.queue.registerMetrics(registry, { patches: METRICS.agent.annotationPatches, queued: METRICS.agent.annotationQueue });
  }

  stop(): void {
    this.queue.stop();
  }
}

/** The annotator over the same kubeconfig source as the pod watch ('in-cluster' or a file path). */
export async function openObservedAnnotator(source: string, log: Logger): Promise<ObservedWattsAnnotator> {
  const patch = await kubePatcher((kc) => (source === 'in-cluster' ? kc.loadFromCluster() : kc.loadFromFile(source)));
  return new ObservedWattsAnnotator({ patch, log });
}
