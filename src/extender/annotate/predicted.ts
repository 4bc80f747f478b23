// After kube-scheduler binds a pod this extender scored, the pod is annotated with what was predicted for the node
// it landed on: wattsched.io/predicted-watts (the marginal watts) and wattsched.io/predicted-model (the curve the
// prediction came from). Driven by the cluster watch's pod events, never by a webhook: scheduling never waits on the
// API server for it. A pod is patched once: a pod already carrying the annotation, or patched already, is left alone,
// so the watch event our own patch causes ends the story (no patch loop).
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ANNOTATIONS, METRICS } from '../../shared/names.js';
import { AnnotationQueue, formatWatts, type PatchFn } from '../../shared/pod-annotations.js';
import type { BoundPod, NodeInventory } from '../nodes/inventory.js';
import type { PredictionLedger } from '../telemetry/predictions.js';

export interface PredictedAnnotatorOptions {
  patch: PatchFn;
  /** Pods waiting for their patch at most (the oldest is dropped past it, counted). */
  maxPending?: number;
  /** Patches per second at most. */
  perSecond?: number;
  log?: Logger | undefined;
}

/** Bindings arrive as fast as kube-scheduler schedules (tens to hundreds per second); 20 patches/s keeps the API
 * server's share small while a queue of 10,000 absorbs minutes of a burst. */
export const DEFAULTS = { maxPending: 10_000, perSecond: 20 } as const;

export class PredictedWattsAnnotator {
  readonly queue: AnnotationQueue;
  /** UIDs already queued, so status updates arriving before our patch is watched back do not queue it again. */
  private readonly done = new LRUCache<string, true>({ max: 20_000 });

  constructor(private readonly predictions: PredictionLedger, opts: PredictedAnnotatorOptions) {
    this.queue = new AnnotationQueue({
      patch: opts.patch,
      maxPending: opts.maxPending ?? DEFAULTS.maxPending,
      perSecond: opts.perSecond ?? DEFAULTS.perSecond,
      log: opts.log,
      component: 'extender',
    });
  }

  /** One watch event of a bound pod. */
  onBound(pod: BoundPod): void {
    if (pod.annotations[ANNOTATIONS.predictedWatts] !== undefined || this.done.has(pod.uid)) return;
    const p = this.predictions.prediction(pod.uid, pod.node);
    if (!p) return;
    this.done.set(pod.uid, true);
    this.queue.offer(pod.uid, pod, { [ANNOTATIONS.predictedWatts]: formatWatts(p.watts), [ANNOTATIONS.predictedModel]: p.model });
  }

  registerMetrics(registry: Registry): void {
    this.queue.registerMetrics(registry, { patches: METRICS.extender.annotationPatches, queued: METRICS.extender.annotationQueue });
  }

  stop(): void {
    this.queue.stop();
  }
}

/** Annotates the pods `inventory` sees bound; undefined when it sees no pods (a config-file inventory). */
export function annotateBoundPods(inventory: NodeInventory, predictions: PredictionLedger, opts: PredictedAnnotatorOptions): PredictedWattsAnnotator | undefined {
  if (!inventory.onPodBound) return undefined;
  const a = new PredictedWattsAnnotator(predictions, opts);
  inventory.onPodBound((pod) => a.onBound(pod));
  return a;
}
