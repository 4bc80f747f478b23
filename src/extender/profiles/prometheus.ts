// Workload profiles read from Prometheus: PromQL over the agents' per-pod counters (wattsched_pod_cpu_seconds_total,
// wattsched_pod_joules_total, labelled by workload), so several extender replicas share one history that outlives
// any of them. Prometheus does the decay: one sample per pod per step over the lookback, weighted 2^(−age/halfLife)
// exactly as the agents' feed weighs its samples, so both sources summarise a history the same way. It is queried in
// the background on a schedule; answering kube-scheduler only reads the cache. While Prometheus fails, or has not seen
// a workload yet, the agents' feed (the store this one wraps) answers.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { METRICS } from '../../shared/names.js';
import type { Workload } from '../../shared/wire/agent.js';
import type { ProfileSummary, Sample } from './profile.js';
import type { MemoryStoreLimits, ProfileStore } from './store.js';
import { WorkloadLru } from './workload-lru.js';
import { totalsCounter } from '../../shared/totals-counter.js';

export interface PrometheusSourceOptions {
  url: string;
  queryIntervalSeconds: number;
  timeoutMs: number;
  bearerTokenFile?: string | undefined;
  lookbackSeconds: number;
  stepSeconds: number;
  rateWindowSeconds: number;
}

/**
 * Upper bounds (cores) of the weighted histogram the quantiles are read from, as histogram_quantile() reads classic
 * buckets: linear within a bucket, so p50/p95 are estimates to within their bucket. The mean, which scoring uses, is
 * exact. Each bound is one more subquery, so the list is short.
 */
export const CORE_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 4, 8, 16, 32, 64];

/** A number as PromQL reads it (no exponent form, which PromQL also accepts, but this reads better in logs). */
const num = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(15).replace(/0+$/, '').replace(/\.$/, ''));

/**
 * One instant query (evaluated at `nowSeconds`) returning, per (namespace, workload), rows labelled `stat`:
 * mean (decay-weighted mean cores per pod), weight (sum of the decay weights), samples (pod-steps), newest (time of
 * the newest pod-step), watts (decay-weighted mean attributed watts; absent without power accounting), and
 * stat="bucket" with `le`: the decay weight of pod-steps using at most `le` cores.
 */
export function profileQuery(o: Pick<PrometheusSourceOptions, 'lookbackSeconds' | 'stepSeconds' | 'rateWindowSeconds'>, halfLifeSeconds: number, nowSeconds: number): string {
  const range = `[${num(o.lookbackSeconds)}s:${num(o.stepSeconds)}s]`;
  const rate = (metric: string) => `rate(${metric}{workload!=""}[${num(o.rateWindowSeconds)}s])`;
  // Inside a subquery time() is each step's time, so this is the weight of that step's sample as seen at now.
  const w = `2 ^ ((time() - ${num(nowSeconds)}) / ${num(halfLifeSeconds)})`;
  const by = 'sum by (namespace, workload)';
  const cores = rate(METRICS.agent.podCpuSeconds);
  const joules = rate(METRICS.agent.podJoules);
  const weight = (series: string) => `${by} (sum_over_time((${series} * 0 + ${w})${range}))`;
  const mean = (series: string) => `${by} (sum_over_time((${series} * ${w})${range})) / ${weight(series)}`;
  const stat = (name: string, expr: string) => `label_replace(${expr}, "stat", "${name}", "", "")`;
  const parts = [
    stat('mean', mean(cores)),
    stat('weight', weight(cores)),
    stat('samples', `${by} (count_over_time(${cores}${range}))`),
    stat('newest', `max by (namespace, workload) (max_over_time((${cores} * 0 + time())${range}))`),
    stat('watts', mean(joules)),
    ...CORE_BUCKETS.map((le) => `label_replace(${stat('bucket', `${by} (sum_over_time(((${cores} <= bool ${num(le)}) * ${w})${range}))`)}, "le", "${num(le)}", "", "")`),
  ];
  return parts.join(' or ');
}

/**
 * The q-quantile of a cumulative weighted histogram, the way PromQL's histogram_quantile() reads classic buckets:
 * the bucket where the cumulative weight reaches q·total, linear between its bounds (0 below the first); past the
 * last finite bound, that bound.
 */
export function bucketQuantile(q: number, buckets: readonly { le: number; weight: number }[], total: number): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of sorted) {
    if (b.weight >= rank) {
      const inBucket = b.weight - below;
      return inBucket > 0 ? lower + (b.le - lower) * ((rank - below) / inBucket) : b.le;
    }
    lower = b.le;
    below = b.weight;
  }
  return lower;
}

interface VectorRow {
  metric: Record<string, string>;
  value: [number, string];
}

/** The workload's short name from its id "namespace/Kind/name" (an annotation override is kept whole). */
export function nameFromId(id: string, namespace: string): string {
  const parts = id.split('/');
  return parts.length >= 3 && parts[0] === namespace ? parts.slice(2).join('/') : id;
}

/** Summaries from the query's rows, evaluated at `nowSeconds`. Workloads missing a mean or weight are left out. */
export function summariesFromRows(rows: readonly VectorRow[], nowSeconds: number): ProfileSummary[] {
  const by = new Map<string, { namespace: string; workload: string; stats: Map<string, number>; buckets: { le: number; weight: number }[] }>();
  for (const r of rows) {
    const { namespace = '', workload = '', stat = '', le } = r.metric;
    const v = Number(r.value[1]);
    if (workload === '' || !Number.isFinite(v)) continue;
    const key = `${namespace}\u0000${workload}`;
    let e = by.get(key);
    if (!e) by.set(key, (e = { namespace, workload, stats: new Map(), buckets: [] }));
    if (stat === 'bucket' && le !== undefined) e.buckets.push({ le: Number(le), weight: v });
    else e.stats.set(stat, v);
  }
  const out: ProfileSummary[] = [];
  for (const e of by.values()) {
    const mean = e.stats.get('mean');
    const weight = e.stats.get('weight');
    if (mean === undefined || weight === undefined || !(weight > 0)) continue;
    out.push({
      workload: e.workload,
      namespace: e.namespace,
      name: nameFromId(e.workload, e.namespace),
      cores: { mean, p50: bucketQuantile(0.5, e.buckets, weight), p95: bucketQuantile(0.95, e.buckets, weight) },
      watts: e.stats.get('watts') ?? null,
      samples: e.stats.get('samples') ?? 0,
      effectiveSamples: weight,
      ageSeconds: Math.max(0, nowSeconds - (e.stats.get('newest') ?? nowSeconds)),
      origin: 'prometheus',
    });
  }
  return out;
}

/** Estimated heap bytes of one cached summary, the same order as the agents' store counts its entries. */
const summaryBytes = (s: ProfileSummary): number => 300 + 2 * (s.workload.length + s.namespace.length + s.name.length);

export class PrometheusProfileStore implements ProfileStore {
  readonly source: string;
  private readonly cache: WorkloadLru<ProfileSummary>;
  private readonly halfLifeMs: number;
  /** When the cached summaries were evaluated (epoch ms); they are aged from there on every read. */
  private evaluatedAt = 0;
  private lastSuccess = 0;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  readonly queries = { ok: 0, failed: 0 };

  constructor(
    private readonly opts: PrometheusSourceOptions,
    private readonly limits: MemoryStoreLimits,
    /** The agents' feed: records go here too, and it answers while Prometheus cannot. */
    private readonly fallback: ProfileStore,
    private readonly log: Logger | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.source = `Prometheus at ${opts.url} (agents' feed while it fails)`;
    this.halfLifeMs = limits.halfLifeSeconds * 1000;
    this.cache = new WorkloadLru<ProfileSummary>(limits, (s) => s.namespace, summaryBytes);
  }

  /** Prometheus answered within three query intervals: its history is current. */
  healthy(now: number): boolean {
    return this.lastSuccess > 0 && now - this.lastSuccess <= 3 * this.opts.queryIntervalSeconds * 1000;
  }

  record(workload: Workload, sample: Sample): void {
    this.fallback.record(workload, sample);
  }

  /** A cached summary as of `now`: no new samples since it was evaluated, so every weight has decayed further. */
  private aged(s: ProfileSummary, now: number): ProfileSummary | undefined {
    const dt = Math.max(0, now - this.evaluatedAt);
    const effectiveSamples = s.effectiveSamples * 0.5 ** (dt / this.halfLifeMs);
    if (effectiveSamples < this.limits.minEffectiveSamples) return undefined;
    return { ...s, effectiveSamples, ageSeconds: s.ageSeconds + dt / 1000 };
  }

  profile(workloadId: string, now: number): ProfileSummary | undefined {
    const cached = this.cache.get(workloadId);
    const fromProm = cached && this.aged(cached, now);
    // Current Prometheus history first; when it is failing, the live feed, and only then its last answer.
    if (this.healthy(now)) return fromProm ?? this.fallback.profile(workloadId, now);
    return this.fallback.profile(workloadId, now) ?? fromProm;
  }

  inNamespace(namespace: string, now: number): ProfileSummary[] {
    const prom: ProfileSummary[] = [];
    for (const s of this.cache.inNamespace(namespace)) {
      const a = this.aged(s, now);
      if (a) prom.push(a);
    }
    const live = this.fallback.inNamespace(namespace, now);
    const [first, second] = this.healthy(now) ? [prom, live] : [live, prom];
    const seen = new Set(first.map((s) => s.workload));
    return [...first, ...second.filter((s) => !seen.has(s.workload))];
  }

  stats(): { workloads: number; bytes: number } {
    const f = this.fallback.stats();
    return { workloads: this.cache.size + f.workloads, bytes: this.cache.bytes + f.bytes };
  }

  /** One query; replaces the cache on success. Throws nothing: a failure is counted, logged once per reason, kept. */
  async refresh(): Promise<boolean> {
    const at = this.now();
    try {
      const rows = await this.query(profileQuery(this.opts, this.limits.halfLifeSeconds, at / 1000), at / 1000);
      const summaries = summariesFromRows(rows, at / 1000).filter((s) => s.effectiveSamples >= this.limits.minEffectiveSamples);
      // Best-supported last, so that if the bounds bite, the LRU drops the thinnest histories.
      summaries.sort((a, b) => a.effectiveSamples - b.effectiveSamples);
      this.cache.clear();
      for (const s of summaries) this.cache.set(s.workload, s);
      this.evaluatedAt = at;
      this.lastSuccess = this.now();
      this.queries.ok++;
      if (this.lastError !== undefined) this.log?.info({ url: this.opts.url, workloads: this.cache.size }, 'Prometheus profile source answering again');
      this.lastError = undefined;
      return true;
    } catch (err) {
      const error = (err as Error).message;
      this.queries.failed++;
      if (this.lastError !== error) this.log?.warn({ url: this.opts.url, error }, "Prometheus profile query failed; profiles come from the agents' feed until it answers");
      this.lastError = error;
      return false;
    }
  }

  private async query(promql: string, timeSeconds: number): Promise<VectorRow[]> {
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
    if (this.opts.bearerTokenFile) headers['authorization'] = `Bearer ${(await readFile(this.opts.bearerTokenFile, 'utf8')).trim()}`;
    const body = new URLSearchParams({ query: promql, time: String(timeSeconds), timeout: `${this.opts.timeoutMs}ms` });
    const res = await fetch(new URL('api/v1/query', this.opts.url.endsWith('/') ? this.opts.url : `${this.opts.url}/`), {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    const text = await res.text();
    let parsed: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new Error(`HTTP ${res.status}: not a Prometheus API answer: ${text.slice(0, 120)}`);
    }
    if (parsed.status !== 'success') throw new Error(`HTTP ${res.status}: ${parsed.error ?? 'query failed'}`);
    if (parsed.data?.resultType !== 'vector' || !Array.isArray(parsed.data.result)) throw new Error(`expected a vector, got ${parsed.data?.resultType}`);
    return parsed.data.result as VectorRow[];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = (): void => {
      void this.refresh().finally(() => {
        if (this.running) this.timer = setTimeout(tick, this.opts.queryIntervalSeconds * 1000).unref();
      });
    };
    tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  registerMetrics(registry: Registry): void {
    totalsCounter({
      name: METRICS.extender.profileQueries,
      help: 'Profile queries to Prometheus, by outcome (ok or failed).',
      registry,
      labelName: 'outcome',
      read: () => this.queries,
    });
    const store = this;
    new Gauge({
      name: METRICS.extender.profileSourceUp,
      help: "1 while Prometheus answered the profile query within three intervals; 0 while the agents' feed stands in.",
      registers: [registry],
      collect() {
        this.set(store.healthy(store.now()) ? 1 : 0);
      },
    });
  }
}
