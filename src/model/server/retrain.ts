// One retraining attempt for one fingerprint: train a candidate on the older windows, score it and the current
// version on the most recent (held-out) windows, and publish only if the candidate is better there.
import type { ModelServerConfig } from '../../shared/config/model-server.js';
import type { SampleWindow } from '../../shared/wire/model.js';
import type { CsvTable } from '../csv.js';
import { trainFromTable } from '../pipeline.js';
import { OnnxPowerModel, estimateFromCounters } from '../power-model.js';
import type { ModelStore } from './store.js';

export interface RetrainOutcome {
  fingerprint: string;
  published: boolean;
  reason: string;
  candidateMapePercent: number | null;
  currentMapePercent: number | null;
  version: number | null;
  trainWindows: number;
  heldOutWindows: number;
}

export const TARGET = 'watts';

/** Counter names every window has, in a stable order: the candidate's feature list. */
export function commonCounters(windows: readonly SampleWindow[]): string[] {
  const first = windows[0];
  if (!first) return [];
  return Object.keys(first.counters)
    .filter((k) => windows.every((w) => typeof w.counters[k] === 'number'))
    .sort();
}

export function windowsTable(windows: readonly SampleWindow[], counters: readonly string[], source: string): CsvTable {
  return {
    source,
    columns: [...counters, TARGET, 'timestamp_unix_s'],
    rows: windows.map((w) => {
      const row: Record<string, string> = { [TARGET]: String(w.watts), timestamp_unix_s: String(w.end) };
      for (const c of counters) row[c] = String(w.counters[c]);
      return row;
    }),
  };
}

export function mape(pred: readonly number[], truth: readonly number[]): number {
  let s = 0;
  truth.forEach((y, i) => (s += Math.abs((pred[i] as number) - y) / y));
  return (100 * s) / Math.max(1, truth.length);
}

async function scoreOn(bytes: Uint8Array, name: string, held: readonly SampleWindow[]): Promise<number | null> {
  const model = await OnnxPowerModel.fromBytes(bytes, name);
  try {
    if (model.task !== 'counters' || !model.featureNames.every((f) => held.every((w) => typeof w.counters[f] === 'number'))) return null;
    const pred = await estimateFromCounters(model, held.map((w) => w.counters));
    return mape(pred.map((p) => p[0] as number), held.map((w) => w.watts));
  } finally {
    await model.close();
  }
}

export async function retrainFingerprint(store: ModelStore, fp: string, cfg: ModelServerConfig['retrain'], now: Date): Promise<RetrainOutcome> {
  const windows = [...store.samples(fp)].filter((w) => w.watts > 0).sort((a, b) => a.end - b.end);
  const base = { fingerprint: fp, candidateMapePercent: null, currentMapePercent: null, version: null, trainWindows: 0, heldOutWindows: 0 };
  if (windows.length < cfg.minSamples) return { ...base, published: false, reason: `${windows.length} windows, need ${cfg.minSamples}` };
  const counters = commonCounters(windows);
  if (counters.length === 0) return { ...base, published: false, reason: 'windows share no counter' };
  const cut = Math.floor(windows.length * (1 - cfg.holdOutFraction));
  const train = windows.slice(0, cut);
  const held = windows.slice(cut);
  const trained = trainFromTable('counters', windowsTable(train, counters, `samples:${fp}`), { targets: [TARGET], features: counters, train: { families: cfg.families, maxTrees: cfg.maxTrees } });
  const candidate = (await scoreOn(trained.onnx, `candidate:${fp}`, held)) as number;
  const entry = store.entry(fp);
  const current = entry.current === null ? null : await scoreOn(store.onnx(fp, entry.current), `${fp}@v${entry.current}`, held);
  const sizes = { trainWindows: train.length, heldOutWindows: held.length, candidateMapePercent: candidate, currentMapePercent: current };
  if (current !== null && !(candidate < current)) {
    return { ...base, ...sizes, published: false, reason: `candidate ${candidate.toFixed(2)} % does not beat v${entry.current} ${current.toFixed(2)} % on the held-out windows` };
  }
  const v = store.publish(fp, trained.onnx, trained.metadata, 'retrained', Number(candidate.toFixed(4)), now);
  const why = entry.current === null ? 'first model for this fingerprint' : current === null ? `v${entry.current} cannot score these counters` : `beats v${entry.current} (${current.toFixed(2)} %)`;
  return { ...base, ...sizes, published: true, version: v.version, reason: `published v${v.version}: ${why}` };
}
