// What the extender predicted for each pod, kept until the pod's node agent has measured it: then the prediction
// error is recorded (wattsched_prediction_error_ratio). The agent reports each pod by UID on the node it runs on,
// so no binding event is needed: the prediction for that node is the one compared. The bound pod's own prediction is
// also what the predicted-watts annotation carries (annotate/predicted.ts).
import { LRUCache } from 'lru-cache';
import { Histogram, type Registry } from 'prom-client';
import { METRICS } from '../../shared/names.js';

interface Prediction {
  /** The scorer's own columns, kept by reference: recording costs no per-node work. */
  readonly nodes: readonly { readonly name: string }[];
  readonly watts: ArrayLike<number>;
  /** The scorer's basis per node ("curve: …; load: …"): its curve part names the model behind the prediction. */
  readonly basis: ArrayLike<string> | undefined;
  /** Agent reports that included the pod with attributed watts. */
  seen: number;
}

export interface PredictionOutcome {
  readonly uid: string;
  readonly node: string;
  readonly predictedWatts: number;
  readonly observedWatts: number;
  /** |predicted − observed| / observed. */
  readonly errorRatio: number;
}

/** The curve part of a scorer basis ("curve: annotation; load: …" → "annotation"), at most 200 characters. */
export function modelOfBasis(basis: string | undefined): string {
  if (basis === undefined) return 'unknown';
  const curve = basis.split('; ')[0] as string;
  return curve.replace(/^curve: /, '').slice(0, 200);
}

/**
 * A pod's first report covers part of its start-up; its attributed watts are compared on the `settleReports`-th
 * report that carries it.
 */
export class PredictionLedger {
  private readonly pods: LRUCache<string, Prediction>;
  private histogram: Histogram | undefined;
  readonly outcomes: PredictionOutcome[] = [];

  /** Bounded in node entries over all kept pods, like the explain store: one pod scored on 5,000 nodes weighs 5,000. */
  constructor(maxNodeEntries: number, private readonly settleReports = 3, private readonly keepOutcomes = 100) {
    this.pods = new LRUCache({ maxSize: maxNodeEntries, sizeCalculation: (p) => Math.max(1, p.nodes.length) });
  }

  /** The scorer's marginal watts for the pod on each node it scored; the latest call for a pod replaces earlier ones. */
  record(uid: string, nodes: readonly { readonly name: string }[], marginalWatts: ArrayLike<number>, basis?: ArrayLike<string>): void {
    if (uid === '' || nodes.length > this.pods.maxSize) return;
    this.pods.set(uid, { nodes, watts: marginalWatts, basis, seen: this.pods.get(uid)?.seen ?? 0 });
  }

  /**
   * What was predicted for pod `uid` on `node` (the node it was bound to): the marginal watts and the model, i.e.
   * the curve source the scorer named. Undefined when the pod was not scored here, not on that node, or the node had
   * no estimate (saturated, no allocatable CPU). Does not count as a use for the cache's recency.
   */
  prediction(uid: string, node: string): { watts: number; model: string } | undefined {
    const p = this.pods.peek(uid);
    if (!p) return undefined;
    const i = p.nodes.findIndex((n) => n.name === node);
    const watts = i >= 0 ? (p.watts[i] as number) : NaN;
    if (!Number.isFinite(watts)) return undefined;
    return { watts, model: modelOfBasis(p.basis?.[i]) };
  }

  /** An agent on `node` measured pod `uid` at `observedWatts`; returns the outcome when this settles it. */
  observe(uid: string, node: string, observedWatts: number): PredictionOutcome | undefined {
    const p = this.pods.get(uid);
    if (!p) return undefined;
    const i = p.nodes.findIndex((n) => n.name === node);
    const predicted = i >= 0 ? (p.watts[i] as number) : NaN;
    if (!Number.isFinite(predicted)) return undefined;
    p.seen++;
    if (p.seen < this.settleReports || !(observedWatts > 0)) return undefined;
    this.pods.delete(uid);
    const outcome = { uid, node, predictedWatts: predicted, observedWatts, errorRatio: Math.abs(predicted - observedWatts) / observedWatts };
    this.histogram?.observe(outcome.errorRatio);
    this.outcomes.push(outcome);
    if (this.outcomes.length > this.keepOutcomes) this.outcomes.shift();
    return outcome;
  }

  size(): number {
    return this.pods.size;
  }

  registerMetrics(registry: Registry): void {
    this.histogram = new Histogram({
      name: METRICS.extender.predictionError,
      help: "|predicted − measured| / measured watts of a pod, the prediction being the marginal watts scored for the node it runs on and the measurement its agent's attributed watts.",
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5],
      registers: [registry],
    });
  }
}
