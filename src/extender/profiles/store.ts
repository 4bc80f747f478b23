// Where workload profiles live. One interface so the history can come from the extender's own memory (fed by the
// agents, the embedded default) or from Prometheus (prometheus.ts) for several replicas and longer history.
import type { Workload } from '../../shared/wire/agent.js';
import { summarise, type ProfileSummary, type Sample } from './profile.js';
import { WorkloadLru } from './workload-lru.js';

export interface ProfileStore {
  /** Human-readable origin, for logs and /explain. */
  readonly source: string;
  record(workload: Workload, sample: Sample): void;
  /** The workload's decayed summary; undefined without enough history. */
  profile(workloadId: string, now: number): ProfileSummary | undefined;
  /** Summaries of the namespace's workloads that have enough history (for cold-start siblings). */
  inNamespace(namespace: string, now: number): ProfileSummary[];
  stats(): { workloads: number; bytes: number };
}

export interface MemoryStoreLimits {
  halfLifeSeconds: number;
  maxWorkloads: number;
  maxBytes: number;
  maxSamplesPerWorkload: number;
  /** Decayed weight a history needs before it is trusted over the cold-start chain. */
  minEffectiveSamples: number;
}

interface Entry {
  readonly workload: Workload;
  samples: Sample[];
}

// Estimated heap bytes: an entry with its strings, plus one small object per sample. An estimate, not a
// measurement: it bounds memory in proportion, which is what the limit is for.
const ENTRY_BYTES = 200;
const SAMPLE_BYTES = 48;
const entryBytes = (e: Entry): number => ENTRY_BYTES + 2 * (e.workload.id.length + e.workload.name.length + e.workload.namespace.length) + SAMPLE_BYTES * e.samples.length;

/** Samples older than this many half-lives weigh under 1/1024 and are dropped. */
const PRUNE_HALF_LIVES = 10;

export class MemoryProfileStore implements ProfileStore {
  readonly source = 'extender memory (fed by the agents)';
  private readonly cache: WorkloadLru<Entry>;
  private readonly halfLifeMs: number;

  constructor(private readonly limits: MemoryStoreLimits) {
    this.halfLifeMs = limits.halfLifeSeconds * 1000;
    this.cache = new WorkloadLru<Entry>(limits, (e) => e.workload.namespace, entryBytes);
  }

  record(workload: Workload, sample: Sample): void {
    if (!(sample.cores >= 0) || !Number.isFinite(sample.cores)) return;
    const prev = this.cache.get(workload.id);
    const cutoff = sample.at - PRUNE_HALF_LIVES * this.halfLifeMs;
    const kept = (prev?.samples ?? []).filter((s) => s.at > cutoff);
    kept.push(sample);
    if (kept.length > this.limits.maxSamplesPerWorkload) kept.splice(0, kept.length - this.limits.maxSamplesPerWorkload);
    this.cache.set(workload.id, { workload, samples: kept });
  }

  profile(workloadId: string, now: number): ProfileSummary | undefined {
    const e = this.cache.get(workloadId);
    if (!e) return undefined;
    const s = summarise({ workload: e.workload.id, namespace: e.workload.namespace, name: e.workload.name }, e.samples, now, this.halfLifeMs);
    return s && s.effectiveSamples >= this.limits.minEffectiveSamples ? s : undefined;
  }

  inNamespace(namespace: string, now: number): ProfileSummary[] {
    const out: ProfileSummary[] = [];
    for (const e of this.cache.inNamespace(namespace)) {
      const s = summarise({ workload: e.workload.id, namespace: e.workload.namespace, name: e.workload.name }, e.samples, now, this.halfLifeMs);
      if (s && s.effectiveSamples >= this.limits.minEffectiveSamples) out.push(s);
    }
    return out;
  }

  stats(): { workloads: number; bytes: number } {
    return { workloads: this.cache.size, bytes: this.cache.bytes };
  }
}
