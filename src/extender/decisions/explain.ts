// The last decision per pod, for `GET /explain/{namespace}/{pod}`: what filter and prioritize saw and said, merged
// into one row per node. Bounded by node entries rather than pods, since one decision over 5,000 nodes weighs as
// much as 5,000 decisions over one.
import { LRUCache } from 'lru-cache';
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
  nodes: ExplainedNode[];
}

interface Step {
  ev: Evaluation;
  at: number;
  values: readonly number[] | ReadonlyMap<number, string>;
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

  recordPrioritize(ev: Evaluation, scores: readonly number[]): void {
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
    const scores = e.prioritize?.values as readonly number[] | undefined;
    const rows = new Map<string, ExplainedNode>();
    for (const step of [e.filter, e.prioritize]) {
      if (!step) continue;
      step.ev.names.forEach((nodeName, i) => {
        const o = step.ev.outcomes[i];
        const row: ExplainedNode = {
          name: nodeName,
          marginalWatts: o?.kind === 'estimate' ? o.marginalWatts : null,
          powerWithPodWatts: o?.kind === 'estimate' ? o.powerWithPodWatts : null,
          score: step === e.prioritize && scores ? (scores[i] ?? null) : (rows.get(nodeName)?.score ?? null),
          passedFilter: failed && e.filter ? (step === e.filter ? !failed.has(i) : (rows.get(nodeName)?.passedFilter ?? null)) : null,
          basis: o === undefined ? 'unknown node' : o.kind === 'estimate' ? o.basis : 'skipped',
        };
        const reason = (step === e.filter ? failed?.get(i) : rows.get(nodeName)?.reason) ?? (o?.kind === 'skip' ? o.reason : o === undefined ? 'node is not in the extender inventory' : undefined);
        if (reason !== undefined) row.reason = reason;
        rows.set(nodeName, row);
      });
    }
    return {
      pod: { ...latest.ev.pod },
      at: new Date(latest.at).toISOString(),
      scorer: latest.ev.scorer,
      failOpen: latest.ev.failOpen ?? null,
      nodes: [...rows.values()],
    };
  }
}
