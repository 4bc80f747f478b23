// Training windows from Prometheus history, as Kepler's model server does: node counter rates as features and
// metered node power as the label, joined per node and timestamp over one query_range.
import type { PrometheusPullConfig } from '../../shared/config/model-server.js';
import type { SampleWindow } from '../../shared/wire/model.js';
import { WS_ERR_MODEL_PROMETHEUS } from '../../shared/errors.js';

interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export type Fetch = (url: string, init?: { signal?: AbortSignal }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

async function queryRange(cfg: PrometheusPullConfig, fetchFn: Fetch, query: string, start: number, end: number): Promise<MatrixSeries[]> {
  const url = new URL('/api/v1/query_range', cfg.url);
  url.searchParams.set('query', query);
  url.searchParams.set('start', String(start));
  url.searchParams.set('end', String(end));
  url.searchParams.set('step', String(cfg.stepSeconds));
  let body: unknown;
  try {
    const res = await fetchFn(url.toString(), { signal: AbortSignal.timeout(cfg.timeoutMs) });
    body = await res.json();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body).slice(0, 200)}`);
  } catch (err) {
    throw new WS_ERR_MODEL_PROMETHEUS(`${query}: ${(err as Error).message}`);
  }
  const b = body as { status?: string; data?: { resultType?: string; result?: MatrixSeries[] }; error?: string };
  if (b.status !== 'success' || b.data?.resultType !== 'matrix' || !Array.isArray(b.data.result)) {
    throw new WS_ERR_MODEL_PROMETHEUS(`${query}: ${b.error ?? 'not a matrix result'}`);
  }
  return b.data.result;
}

export interface PulledWindows {
  /** fingerprint → windows */
  byFingerprint: Map<string, SampleWindow[]>;
  /** Nodes whose power series had no fingerprint label and no configured mapping. */
  unmappedNodes: string[];
}

export async function pullWindows(cfg: PrometheusPullConfig, fetchFn: Fetch, start: number, end: number): Promise<PulledWindows> {
  const names = Object.keys(cfg.features);
  const [power, ...features] = await Promise.all([cfg.power, ...names.map((n) => cfg.features[n] as string)].map((q) => queryRange(cfg, fetchFn, q, start, end)));
  // node → timestamp → counters
  const counters = new Map<string, Map<number, Record<string, number>>>();
  features.forEach((series, j) => {
    for (const s of series) {
      const node = s.metric[cfg.nodeLabel];
      if (node === undefined) continue;
      const byTs = counters.get(node) ?? new Map<number, Record<string, number>>();
      counters.set(node, byTs);
      for (const [ts, v] of s.values) {
        const x = Number(v);
        if (!Number.isFinite(x)) continue;
        const rec = byTs.get(ts) ?? {};
        rec[names[j] as string] = x;
        byTs.set(ts, rec);
      }
    }
  });
  const out: PulledWindows = { byFingerprint: new Map(), unmappedNodes: [] };
  for (const s of power ?? []) {
    const node = s.metric[cfg.nodeLabel];
    if (node === undefined) continue;
    const fp = s.metric[cfg.fingerprintLabel] ?? cfg.fingerprints[node];
    if (!fp) {
      out.unmappedNodes.push(node);
      continue;
    }
    const list = out.byFingerprint.get(fp) ?? [];
    out.byFingerprint.set(fp, list);
    for (const [ts, v] of s.values) {
      const watts = Number(v);
      const rec = counters.get(node)?.get(ts);
      if (!rec || !(watts > 0) || names.some((n) => rec[n] === undefined)) continue;
      list.push({ start: ts - cfg.stepSeconds, end: ts, counters: { ...rec }, watts });
    }
  }
  return out;
}
