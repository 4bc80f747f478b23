// From a CSV table to a finished model file and back to an evaluation: the glue between tasks, training, ONNX and
// metrics, kept free of flags and printing so the model server and the rebuild script reuse it.
import { CURVE_TASK, SHAPE_TASK, SHAPE_POINTS_TASK, DEFAULT_POWER_TARGETS, METER_AVERAGING_SECONDS, countersTask, defaultCounterFeatures, rowGroups, trailingMean, type TaskSpec } from './tasks.js';
import { prepare, scoredIndexes, trainTask, type Dataset, type TrainOptions, type TrainResult } from './training.js';
import { buildOnnx, wattschedVersion } from './model-file.js';
import { summarise, type ErrorSummary } from './metrics.js';
import type { CsvTable } from './csv.js';
import type { PowerModel } from './power-model.js';
import { packRows } from './power-model.js';
import type { ModelMetadata, ModelTask } from '../shared/wire/model.js';
import { WS_ERR_MODEL_DATA, WS_ERR_MODEL_FILE } from '../shared/errors.js';

export interface TrainRequest {
  targets?: readonly string[];
  features?: readonly string[];
  train?: TrainOptions;
  /** 'rows' only to compare with row-split baselines. */
  split?: 'group' | 'rows';
  /** Counters task: average features over this trailing window (seconds); default the target meter's own period. */
  windowSeconds?: number;
}

export interface TrainedModel {
  spec: TaskSpec;
  data: Dataset;
  train: TrainResult;
  metadata: ModelMetadata;
  onnx: Uint8Array;
}

export function specForTraining(task: ModelTask, table: CsvTable, req: TrainRequest): TaskSpec {
  if (task === 'curve') return CURVE_TASK;
  if (task === 'shape') return req.features?.join() === 'points' ? SHAPE_POINTS_TASK : SHAPE_TASK;
  const targets = req.targets && req.targets.length > 0 ? [...req.targets] : DEFAULT_POWER_TARGETS.filter((c) => table.columns.includes(c)).slice(0, 1);
  if (targets.length === 0) throw new WS_ERR_MODEL_DATA(table.source, `no power column found (tried ${DEFAULT_POWER_TARGETS.join(', ')}); pass --target`);
  const missing = targets.filter((t) => !table.columns.includes(t));
  if (missing.length > 0) throw new WS_ERR_MODEL_DATA(table.source, `no target column ${missing.join(', ')}`);
  const features = req.features && req.features.length > 0 ? [...req.features] : defaultCounterFeatures(table, targets);
  const absent = features.filter((f) => !table.columns.includes(f));
  if (absent.length > 0) throw new WS_ERR_MODEL_DATA(table.source, `no feature column ${absent.join(', ')}`);
  return countersTask(features, targets);
}

export function trainFromTable(task: ModelTask, raw: CsvTable, req: TrainRequest = {}): TrainedModel {
  const spec = specForTraining(task, raw, req);
  // Without --window-s, counters are averaged like the target meter averages (the longest among the targets).
  const meterWindow = Math.max(0, ...spec.outputNames.map((t) => METER_AVERAGING_SECONDS[t] ?? 0));
  const window = task === 'counters' ? (req.windowSeconds ?? meterWindow) : 0;
  const table = trailingMean(raw, spec.featureNames, window);
  const { groups, by } = rowGroups(task, table, table.rows, req.split);
  const data = prepare(spec, table.rows, groups, table.source);
  const train = trainTask(spec, data, req.train);
  const v = train.validation;
  const metadata: ModelMetadata = {
    task,
    family: train.best.id,
    featureNames: [...spec.featureNames],
    outputNames: [...spec.outputNames],
    scoredOutputs: [...spec.scoredOutputs],
    units: 'W',
    inputColumns: [...spec.inputColumns],
    trainingDataSha256: data.sha256,
    trainingRows: data.features.length,
    validation: { split: `group k-fold by ${by}`, folds: v.folds, mapePercent: round(v.mape_percent), rmseWatts: round(v.rmse_watts), method: 'nested-cv', innerFolds: v.innerFolds },
    candidates: train.candidates,
    wattschedVersion: wattschedVersion(),
    ...(task === 'counters' ? { counterWindowSeconds: window } : {}),
  };
  return { spec, data, train, metadata, onnx: buildOnnx(spec, train.regressor, metadata) };
}

const round = (x: number): number => Number(x.toFixed(4));

/** The task spec a saved model was trained with, rebuilt from its metadata. */
export function specForModel(meta: ModelMetadata, source: string): TaskSpec {
  const shape = meta.featureNames.length === SHAPE_POINTS_TASK.featureNames.length ? SHAPE_POINTS_TASK : SHAPE_TASK;
  const spec = meta.task === 'curve' ? CURVE_TASK : meta.task === 'shape' ? shape : countersTask(meta.featureNames, meta.outputNames);
  if (spec.featureNames.join() !== meta.featureNames.join()) throw new WS_ERR_MODEL_FILE(source, `feature order ${meta.featureNames.join(',')} does not match this wattsched's ${meta.task} task`);
  return spec;
}

export interface Evaluation extends ErrorSummary {
  skipped: number;
  predictions: number[][];
  truth: number[][];
}

/** Scores every usable row of `table` in one batched run of the model. */
export async function evaluateTable(model: PowerModel, raw: CsvTable): Promise<Evaluation> {
  const spec = specForModel(model.metadata, model.name);
  const missing = [...spec.inputColumns, ...spec.outputNames].filter((c) => !raw.columns.includes(c));
  if (missing.length > 0) throw new WS_ERR_MODEL_DATA(raw.source, `missing columns the model needs: ${missing.join(', ')}`);
  const table = trailingMean(raw, spec.featureNames, model.metadata.counterWindowSeconds ?? 0);
  const { groups } = rowGroups(spec.task, table, table.rows);
  const features: number[][] = [];
  const truth: number[][] = [];
  const kept: string[] = [];
  let skipped = 0;
  table.rows.forEach((row, i) => {
    const f = spec.rowFeatures(row);
    const w = spec.rowTargets(row);
    if (!f || !w || !f.every(Number.isFinite)) skipped++;
    else {
      features.push(f);
      truth.push(w);
      kept.push(groups[i] ?? '');
    }
  });
  if (features.length === 0) throw new WS_ERR_MODEL_DATA(table.source, 'no usable rows');
  const k = spec.outputNames.length;
  const flat = await model.predict(packRows(features, spec.featureNames.length), features.length);
  const predictions = features.map((_, i) => Array.from(flat.subarray(i * k, (i + 1) * k)));
  return { ...summarise(predictions, truth, kept, spec.outputNames, scoredIndexes(spec)), skipped, predictions, truth };
}
