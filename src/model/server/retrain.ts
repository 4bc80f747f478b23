// One retraining attempt for one fingerprint: train a candidate on the older windows, score it and the current
// version on the most recent (held-out) windows, and publish only if the candidate is better there. The reading,
// training and scoring (seconds of CPU for a large store) run in a worker thread (retrain-worker.ts), so the event
// loop keeps serving; the main thread only hands over file names and publishes the result.
import { Worker } from 'node:worker_threads';
import type { ModelServerConfig } from '../../shared/config/model-server.js';
import { workerScriptUrl } from '../../shared/worker-url.js';
import type { ModelMetadata, SampleWindow } from '../../shared/wire/model.js';
import type { CsvTable } from '../csv.js';
import { trainFromTable } from '../pipeline.js';
import { OnnxPowerModel, estimateFromCounters } from '../power-model.js';
import { buildOnnx } from '../model-file.js';
import { readSegment } from './sample-log.js';
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

async function scoreOn(bytes: Uint8Array, name: string, held: readonly SampleWindow[]): Promise<{ mape: number; rmse: number } | null> {
  const model = await OnnxPowerModel.fromBytes(bytes, name);
  try {
    if (model.task !== 'counters' || !model.featureNames.every((f) => held.every((w) => typeof w.counters[f] === 'number'))) return null;
    const pred = (await estimateFromCounters(model, held.map((w) => w.counters))).map((p) => p[0] as number);
    const truth = held.map((w) => w.watts);
    const rmse = Math.sqrt(truth.reduce((s, y, i) => s + ((pred[i] as number) - y) ** 2, 0) / Math.max(1, truth.length));
    return { mape: mape(pred, truth), rmse };
  } finally {
    await model.close();
  }
}

/** What the worker needs: plain data, so it crosses the thread boundary by structured clone. */
export interface RetrainJob {
  fingerprint: string;
  /** Segment files, oldest first. */
  files: string[];
  cfg: ModelServerConfig['retrain'];
  current: { version: number; onnx: Uint8Array } | null;
}

export interface RetrainWork extends Omit<RetrainOutcome, 'version' | 'published' | 'reason'> {
  /** Null when there is nothing to publish; `reason` says why. */
  candidate: { onnx: Uint8Array; metadata: ModelMetadata } | null;
  better: boolean;
  reason: string;
}

/** Reads the windows, trains a candidate on the older ones, scores it and the current version on the newest. */
export async function runRetrainJob(job: RetrainJob): Promise<RetrainWork> {
  const all: SampleWindow[] = [];
  // A segment dropped by the caps since the job was made reads as empty.
  for (const f of job.files) for (const r of (await readSegment(f)).records) all.push(...r.windows);
  const windows = all.filter((w) => w.watts > 0).sort((a, b) => a.end - b.end);
  const { cfg, fingerprint: fp } = job;
  const base = { fingerprint: fp, candidateMapePercent: null, currentMapePercent: null, trainWindows: 0, heldOutWindows: 0, candidate: null, better: false };
  if (windows.length < cfg.minSamples) return { ...base, reason: `${windows.length} windows, need ${cfg.minSamples}` };
  const counters = commonCounters(windows);
  if (counters.length === 0) return { ...base, reason: 'windows share no counter' };
  const cut = Math.floor(windows.length * (1 - cfg.holdOutFraction));
  const train = windows.slice(0, cut);
  const held = windows.slice(cut);
  const trained = trainFromTable('counters', windowsTable(train, counters, `samples:${fp}`), { targets: [TARGET], features: counters, train: { families: cfg.families, maxTrees: cfg.maxTrees } });
  const scored = (await scoreOn(trained.onnx, `candidate:${fp}`, held)) as { mape: number; rmse: number };
  const candidate = scored.mape;
  const current = job.current === null ? null : ((await scoreOn(job.current.onnx, `${fp}@v${job.current.version}`, held))?.mape ?? null);
  const sizes = { trainWindows: train.length, heldOutWindows: held.length, candidateMapePercent: candidate, currentMapePercent: current };
  if (current !== null && !(candidate < current)) {
    return { ...base, ...sizes, reason: `candidate ${candidate.toFixed(2)} % does not beat v${job.current?.version} ${current.toFixed(2)} % on the held-out windows` };
  }
  const why = job.current === null ? 'first model for this fingerprint' : current === null ? `v${job.current.version} cannot score these counters` : `beats v${job.current.version} (${current.toFixed(2)} %)`;
  // What ships is the candidate as trained on the older windows, so its held-out error is the newest windows' one;
  // the file carries that number, measured the same way as every other retrained version's.
  const metadata: ModelMetadata = {
    ...trained.metadata,
    validation: { split: `newest ${Math.round(cfg.holdOutFraction * 100)} % of the windows by time (${held.length})`, folds: 1, mapePercent: Number(candidate.toFixed(4)), rmseWatts: Number(scored.rmse.toFixed(4)), method: 'newest-windows' },
  };
  return { ...base, ...sizes, better: true, reason: why, candidate: { onnx: buildOnnx(trained.spec, trained.train.regressor, metadata), metadata } };
}

/** Runs one job in a fresh worker thread; it exits when done, so nothing of a large training run stays in memory. */
export function runInWorker(job: RetrainJob): Promise<RetrainWork> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerScriptUrl(import.meta.url, 'retrain-worker.js'), { workerData: job });
    let settled = false;
    worker.once('message', (m: { ok: true; work: RetrainWork } | { ok: false; message: string }) => {
      settled = true;
      if (m.ok) resolve(m.work);
      else reject(new Error(`retrain of ${job.fingerprint} failed: ${m.message}`));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`retrain worker for ${job.fingerprint} exited with code ${code} before answering`));
    });
  });
}

export async function retrainFingerprint(store: ModelStore, fp: string, cfg: ModelServerConfig['retrain'], now: Date): Promise<RetrainOutcome> {
  const entry = await store.entry(fp);
  const job: RetrainJob = { fingerprint: fp, files: await store.sampleFiles(fp), cfg, current: entry.current === null ? null : { version: entry.current, onnx: await store.onnx(fp, entry.current) } };
  const work = await runInWorker(job);
  const { candidate, better, reason, ...sizes } = work;
  if (!better || candidate === null) return { ...sizes, published: false, version: null, reason };
  const v = await store.publish(fp, candidate.onnx, candidate.metadata, 'retrained', now);
  return { ...sizes, published: true, version: v.version, reason: `published v${v.version}: ${reason}` };
}
