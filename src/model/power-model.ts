// The narrow interface the agent and the extender use: a model knows its task, feature order and units, and scores
// N rows in one InferenceSession.run. Sessions are created once per model and reused for every call.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { INPUT_NAME, OUTPUT_NAME, readModelMetadata } from './model-file.js';
import { counterFeatures, curveFeatures, shapeFeatures } from './features.js';
import type { ModelMetadata, ModelTask, NodeHardware } from '../shared/wire/model.js';
import { WS_ERR_MODEL_FILE, WS_ERR_MODEL_INPUT } from '../shared/errors.js';

export interface PowerModel {
  readonly name: string;
  readonly task: ModelTask;
  /** Input order of `predict`'s rows. */
  readonly featureNames: readonly string[];
  /** Output order of each predicted row (e.g. watts_idle, watts_10, …, watts_100). */
  readonly outputNames: readonly string[];
  readonly units: 'W';
  readonly metadata: Readonly<ModelMetadata>;
  /**
   * Scores `rows` feature vectors laid out row-major in `features` (rows × featureNames.length) with a single
   * session run; returns rows × outputNames.length watts, row-major.
   */
  predict(features: Float32Array, rows: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export class OnnxPowerModel implements PowerModel {
  readonly task: ModelTask;
  readonly featureNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly units = 'W' as const;

  private constructor(
    readonly name: string,
    readonly metadata: Readonly<ModelMetadata>,
    private readonly session: ort.InferenceSession,
  ) {
    this.task = metadata.task;
    this.featureNames = metadata.featureNames;
    this.outputNames = metadata.outputNames;
  }

  static async fromBytes(bytes: Uint8Array, name: string): Promise<OnnxPowerModel> {
    const metadata = readModelMetadata(bytes, name);
    let session: ort.InferenceSession;
    try {
      // One intra-op thread: a 5,000-row batch takes well under a millisecond, and the scheduler's CPUs are shared.
      session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    } catch (err) {
      throw new WS_ERR_MODEL_FILE(name, (err as Error).message);
    }
    return new OnnxPowerModel(name, metadata, session);
  }

  static async load(path: string): Promise<OnnxPowerModel> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new WS_ERR_MODEL_FILE(path, (err as Error).message);
    }
    return OnnxPowerModel.fromBytes(bytes, path);
  }

  async predict(features: Float32Array, rows: number): Promise<Float32Array> {
    const f = this.featureNames.length;
    if (!Number.isInteger(rows) || rows < 0 || features.length !== rows * f) {
      throw new WS_ERR_MODEL_INPUT(`expected ${rows} × ${f} features, got ${features.length} values`);
    }
    if (rows === 0) return new Float32Array(0);
    const out = await this.session.run({ [INPUT_NAME]: new ort.Tensor('float32', features, [rows, f]) });
    const watts = out[OUTPUT_NAME];
    if (!watts || !(watts.data instanceof Float32Array)) throw new WS_ERR_MODEL_FILE(this.name, `no float output '${OUTPUT_NAME}'`);
    return watts.data;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Packs feature rows into the row-major Float32Array `predict` takes. */
export function packRows(rows: readonly (readonly number[])[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    if (r.length !== width) throw new WS_ERR_MODEL_INPUT(`row ${i} has ${r.length} features, model takes ${width}`);
    out.set(r, i * width);
  });
  return out;
}

function unpack(flat: Float32Array, width: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < flat.length; i += width) rows.push(Array.from(flat.subarray(i, i + width)));
  return rows;
}

/**
 * One run over the distinct rows only: a cluster of 5,000 nodes has a handful of hardware types, and a curve depends
 * on nothing else, so identical rows are scored once and fanned back out.
 */
async function predictDistinct<T>(model: PowerModel, items: readonly T[], keyOf: (item: T) => string, featuresOf: (item: T) => number[]): Promise<number[][]> {
  const index = new Map<string, number>();
  const unique: number[][] = [];
  const slot = items.map((item) => {
    const key = keyOf(item);
    let i = index.get(key);
    if (i === undefined) {
      i = unique.length;
      index.set(key, i);
      unique.push(featuresOf(item));
    }
    return i;
  });
  const out = unpack(await model.predict(packRows(unique, model.featureNames.length), unique.length), model.outputNames.length);
  return slot.map((i) => out[i] as number[]);
}

const hardwareKey = (h: NodeHardware): string => `${h.cpuModel}|${h.sockets}|${h.cores}|${h.threads}|${h.memoryGb}|${h.year}|${h.nodes}|${h.cpuMhz}|${h.cpuVendor ?? ''}`;

function expectTask(model: PowerModel, task: ModelTask): void {
  if (model.task !== task) throw new WS_ERR_MODEL_INPUT(`model ${model.name} is a ${model.task} model, not ${task}`);
}

/** Power curves (watts at idle, 10 %, …, 100 %) for many nodes from their hardware description, in one run. */
export async function predictCurves(model: PowerModel, nodes: readonly NodeHardware[]): Promise<number[][]> {
  expectTask(model, 'curve');
  return predictDistinct(model, nodes, hardwareKey, curveFeatures);
}

/** Full curves from each node's idle and 100 % watts, in one run. */
export async function predictShapes(model: PowerModel, points: readonly { idleWatts: number; peakWatts: number }[]): Promise<number[][]> {
  expectTask(model, 'shape');
  for (const p of points) if (!(p.idleWatts > 0 && p.peakWatts > p.idleWatts)) throw new WS_ERR_MODEL_INPUT(`need 0 < idle < peak, got ${p.idleWatts}, ${p.peakWatts}`);
  if (model.featureNames.length !== 4) throw new WS_ERR_MODEL_INPUT(`model ${model.name} also needs the hardware description; use predictShapesWithHardware`);
  return predictDistinct(model, points, (p) => `${p.idleWatts}|${p.peakWatts}`, (p) => shapeFeatures(p.idleWatts, p.peakWatts));
}

/** Full curves from idle and 100 % watts plus the hardware description (the default shipped shape model). */
export async function predictShapesWithHardware(model: PowerModel, nodes: readonly { idleWatts: number; peakWatts: number; hardware: NodeHardware }[]): Promise<number[][]> {
  expectTask(model, 'shape');
  for (const p of nodes) if (!(p.idleWatts > 0 && p.peakWatts > p.idleWatts)) throw new WS_ERR_MODEL_INPUT(`need 0 < idle < peak, got ${p.idleWatts}, ${p.peakWatts}`);
  return predictDistinct(model, nodes, (p) => `${p.idleWatts}|${p.peakWatts}|${hardwareKey(p.hardware)}`, (p) => [...shapeFeatures(p.idleWatts, p.peakWatts), ...curveFeatures(p.hardware)]);
}

/** Node power per zone (the model's outputNames) from counter rates keyed by feature name, in one run. */
export async function estimateFromCounters(model: PowerModel, rates: readonly Readonly<Record<string, number>>[]): Promise<number[][]> {
  expectTask(model, 'counters');
  const rows = rates.map((r, i) => {
    const f = counterFeatures(r, model.featureNames);
    if (!Array.isArray(f)) throw new WS_ERR_MODEL_INPUT(`row ${i} lacks counters ${f.missing.join(', ')}`);
    return f;
  });
  return unpack(await model.predict(packRows(rows, model.featureNames.length), rows.length), model.outputNames.length);
}
