// The last decision per pod, for `GET /explain/{namespace}/{pod}`: what filter and prioritize saw and said, merged
// into one row per node. Bounded by node entries rather than pods, since one decision over 5,000 nodes weighs as
// much as 5,000 decisions over one.
import { LRUCache } from 'lru-cache';
import type { DemandExplanation } from '../scoring/scorer.js';
import type { Evaluation } from './evaluate.js';

export interface ExplainedNode {
  name: string;
  marginalWatts: number | null;
  powerWithPodWatts: number | null;
  score: number | null;
  passedFilter: boolean | null;
  basis: string;
  reason?: string;
}

export interface Explanation {
  pod: { namespace: string; name: string; uid: string; cpuMilli: number };
  at: string;
  scorer: string;
  failOpen: string | null;
  /** The pod's predicted demand, where it came from, and its policy; null for scorers that do not predict. */
  demand: DemandExplanation | null;
  nodes: ExplainedNode[];
}

interface Step {
  ev: Evaluation;
  at: number;
  values: ArrayLike<number> | ReadonlyMap<number, string>;
}

interface Entry {
  uid: string;
  filter?: Step;
  prioritize?: Step;
}

const entrySize = (e: Entry): number => Math.max(1, (e.filter?.ev.names.length ?? 0) + (e.prioritize?.ev.names.length ?? 0));

export class ExplainStore {
  private readonly cache: LRUCache<string, Entry>;

  constructor(maxNodeEntries: number) {
    this.cache = new LRUCache<string, Entry>({ maxSize: maxNodeEntries, sizeCalculation: entrySize });
  }

  /** Keeps the evaluation's columns, not objects: building 5,000 node objects per request would cost more than scoring. */
  recordFilter(ev: Evaluation, failed: ReadonlyMap<number, string>): void {
    this.put(ev, { filter: { ev, at: Date.now(), values: failed } });
  }

  recordPrioritize(ev: Evaluation, scores: ArrayLike<number>): void {
    this.put(ev, { prioritize: { ev, at: Date.now(), values: scores } });
  }

  private put(ev: Evaluation, step: Pick<Entry, 'filter' | 'prioritize'>): void {
    const key = `${ev.pod.namespace}/${ev.pod.name}`;
    const prev = this.cache.get(key);
    // A new UID under the same name is a new pod; a filter starts a new scheduling attempt.
    const keep = prev && prev.uid === ev.pod.uid && !step.filter ? prev : { uid: ev.pod.uid };
    const entry: Entry = { ...keep, ...step };
    if (entrySize(entry) > this.cache.maxSize) return;
    this.cache.set(key, entry);
  }

  explain(namespace: string, name: string): Explanation | undefined {
    const e = this.cache.get(`${namespace}/${name}`);
    if (!e) return undefined;
    const latest = (e.prioritize ?? e.filter) as Step;
    const failed = e.filter?.values as ReadonlyMap<number, string> | undefined;
    const scores = e.prioritize?.values as ArrayLike<number> | undefined;
    // Filter saw every candidate; prioritize only the survivors. Rows start from the filter and take the newer
    // prediction and the score from prioritize where it has the node.
    const rows = new Map<string, ExplainedNode>();
    const addRows = (step: Step, fill: (row: ExplainedNode, i: number) => void): void => {
      const { ev } = step;
      ev.names.forEach((nodeName, i) => {
        const watts = ev.marginalWatts[i] as number;
        const known = ev.basis[i] !== undefined;
        const row: ExplainedNode = rows.get(nodeName) ?? { name: nodeName, marginalWatts: null, powerWithPodWatts: null, score: null, passedFilter: null, basis: '' };
        row.marginalWatts = Number.isNaN(watts) ? null : watts;
        row.powerWithPodWatts = Number.isNaN(watts) ? null : (ev.powerWithPodWatts[i] as number);
        row.basis = known ? (ev.basis[i] as string) : 'unknown node';
        const why = ev.skipped.get(i) ?? (known ? undefined : 'node is not in the extender inventory');
        if (why !== undefined) row.reason = why;
        fill(row, i);
        rows.set(nodeName, row);
      });
    };
    if (e.filter) addRows(e.filter, (row, i) => {
      row.passedFilter = !failed?.has(i);
      const why = failed?.get(i);
      if (why !== undefined) row.reason = why;
    });
    if (e.prioritize) addRows(e.prioritize, (row, i) => {
      row.score = scores ? (scores[i] ?? null) : null;
    });
    return {
      pod: { namespace: latest.ev.pod.namespace, name: latest.ev.pod.name, uid: latest.ev.pod.uid, cpuMilli: latest.ev.pod.cpuMilli },
      at: new Date(latest.at).toISOString(),
      scorer: latest.ev.scorer,
      failOpen: latest.ev.failOpen ?? null,
      demand: (e.prioritize ?? e.filter)?.ev.demand ?? null,
      nodes: [...rows.values()],
    };
  }
}
