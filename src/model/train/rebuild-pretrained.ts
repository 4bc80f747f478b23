// Rebuilds every shipped model in models/ from the project's real data, plus the figures in docs/model.md:
// grouped-validation MAPE next to naive baselines on the same folds, a random-row split for comparison with the
// issue's baselines, and predicted-vs-measured PNGs. Deterministic: same data, same bytes.
//   node dist/src/model/train/rebuild-pretrained.js [--data-dir ../shared/data] [--out models] [--plots docs/model]
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readCsv, type CsvTable } from '../csv.js';
import { rowGroups, withPhases, SHAPE_POINTS_TASK, CURVE_TASK } from '../tasks.js';
import { trainFromTable, type TrainRequest } from '../pipeline.js';
import { crossValidate, familyFit } from '../training.js';
import { packageRoot } from '../model-file.js';
import { groupFolds, summarise } from '../metrics.js';
import { fitRidge, applyLinear } from '../families/linalg.js';
import { scatterSpec } from '../plot/charts.js';
import { chartPng } from '../plot/render.js';
import { CURVE_COLUMNS } from '../features.js';
import { num } from '../csv.js';
import type { ModelTask } from '../../shared/wire/model.js';

interface Recipe {
  name: string;
  task: ModelTask;
  description: string;
  data: string;
  phases?: string;
  request: TrainRequest;
  /** Pseudo-fingerprint under which the model server publishes it. */
  fingerprint: string;
}

const RECIPES: Recipe[] = [
  { name: 'curve', task: 'curve', description: 'SPECpower curve (idle, 10..100 %) from the hardware description', data: 'specpower/specpower_train.csv', request: {}, fingerprint: 'description-curve' },
  { name: 'shape', task: 'shape', description: 'curve between idle and 100 % watts, given both and the hardware description', data: 'specpower/specpower_train.csv', request: {}, fingerprint: 'description-shape' },
  { name: 'shape-points', task: 'shape', description: 'curve between idle and 100 % watts from the two points alone', data: 'specpower/specpower_train.csv', request: { features: ['points'] }, fingerprint: 'description-shape-points' },
  { name: 'counters-nx12', task: 'counters', description: 'Kepler nx12 platform (ACPI) power from node counters', data: 'kepler-nx12/train.csv', request: {}, fingerprint: 'kepler-nx12' },
  { name: 'counters-nx12-zones', task: 'counters', description: 'Kepler nx12 RAPL package and DRAM power from node counters', data: 'kepler-nx12/train.csv', request: { targets: ['rapl_package_watts', 'rapl_dram_watts'] }, fingerprint: 'kepler-nx12-zones' },
  { name: 'counters-h100', task: 'counters', description: 'H100 board power (nvidia-smi power.draw, a 1 s average) from utilisation and clocks averaged over 1 s', data: 'gpu-h100/gpu_samples.csv', phases: 'gpu-h100/gpu_phases.csv', request: { windowSeconds: 1 }, fingerprint: 'gpu-nvidia-h100-80gb-hbm3' },
];

const round = (x: number): number => Number(x.toFixed(2));

/** Naive baselines on the given folds, MAPE over the same scored cells as the models. */
function baselines(task: ModelTask, table: CsvTable, split: 'group' | 'rows'): Record<string, number> {
  if (task === 'counters') return {};
  const { groups } = rowGroups(task, table, table.rows, split);
  const rows = table.rows.map((r, i) => ({ r, g: groups[i] as string })).filter(({ r }) => CURVE_TASK.rowFeatures(r) && CURVE_TASK.rowTargets(r) && SHAPE_POINTS_TASK.rowFeatures(r));
  const truth = rows.map(({ r }) => CURVE_TASK.rowTargets(r) as number[]);
  const g = rows.map(({ g }) => g);
  const folds = groupFolds(g, 5);
  const k = Math.max(...folds) + 1;
  const out: Record<string, number> = {};
  if (task === 'shape') {
    const mid = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const lin = truth.map((w) => CURVE_COLUMNS.map((_, j) => (w[0] as number) + ((w[10] as number) - (w[0] as number)) * (j / 10)));
    out.linear_interpolation = round(summarise(lin, truth, g, CURVE_COLUMNS, mid).mape_percent);
    const meanCurve = new Array<number[]>(truth.length);
    for (let f = 0; f < k; f++) {
      const tr = truth.filter((_, i) => folds[i] !== f);
      const frac = mid.map((j) => tr.reduce((s, w) => s + ((w[j] as number) - (w[0] as number)) / ((w[10] as number) - (w[0] as number)), 0) / tr.length);
      truth.forEach((w, i) => {
        if (folds[i] === f) meanCurve[i] = [w[0] as number, ...frac.map((q) => (w[0] as number) + q * ((w[10] as number) - (w[0] as number))), w[10] as number];
      });
    }
    out.mean_normalised_curve = round(summarise(meanCurve, truth, g, CURVE_COLUMNS, mid).mape_percent);
  } else {
    // The baseline: log-linear regression on threads, cores, memory, nodes, sockets, year, MHz.
    const x = rows.map(({ r }) => [Math.log(num(r.threads) as number), Math.log(num(r.cores) as number), Math.log(num(r.memory_gb) as number), Math.log(num(r.nodes) ?? 1), Math.log(num(r.sockets) as number), num(r.year) as number, Math.log(num(r.cpu_mhz) as number)]);
    const pred = new Array<number[]>(truth.length);
    for (let f = 0; f < k; f++) {
      const idx = truth.map((_, i) => i).filter((i) => folds[i] !== f);
      const c = fitRidge(idx.map((i) => x[i] as number[]), idx.map((i) => (truth[i] as number[]).map(Math.log)), 1e-6);
      truth.forEach((_, i) => {
        if (folds[i] === f) pred[i] = applyLinear(c, x[i] as number[]).map(Math.exp);
      });
    }
    out.log_linear_regression = round(summarise(pred, truth, g, CURVE_COLUMNS, CURVE_COLUMNS.map((_, j) => j)).mape_percent);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, out: { type: 'string' }, plots: { type: 'string' } } });
  const root = packageRoot();
  const dataDir = resolve(values['data-dir'] ?? join(root, '..', 'shared', 'data'));
  const outDir = resolve(values.out ?? join(root, 'models'));
  const plotDir = resolve(values.plots ?? join(root, 'docs', 'model'));
  mkdirSync(outDir, { recursive: true });
  mkdirSync(plotDir, { recursive: true });
  const index: Record<string, unknown> = {};
  for (const r of RECIPES) {
    const started = Date.now();
    let table = readCsv(join(dataDir, r.data));
    if (r.phases) table = withPhases(table, readCsv(join(dataDir, r.phases), false));
    const trained = trainFromTable(r.task, table, r.request);
    // Reported only: the shipped family and settings (fixed, no selection inside) on random-row folds, for the
    // issue's baselines that look like a random split, and the Kepler-style linear model on both splits.
    const randomRows = { ...trained.data, groups: trained.data.groups.map((_, i) => `r${(i * 2654435761) % 4294967296}`) };
    const linear = { id: 'linear', family: 'linear' as const, fit: familyFit('linear') };
    const rows = { mapePercent: crossValidate(trained.spec, randomRows, trained.train.best, 5).mape_percent, linear: crossValidate(trained.spec, randomRows, linear, 5).mape_percent };
    const linearGrouped = crossValidate(trained.spec, trained.data, linear, 5).mape_percent;
    const file = join(outDir, `${r.name}.onnx`);
    writeFileSync(file, trained.onnx);
    const scored = trained.spec.scoredOutputs.map((n) => trained.spec.outputNames.indexOf(n));
    const points: [number, number][] = [];
    trained.train.outOfFold.forEach((p, i) => scored.forEach((j) => points.push([(trained.data.watts[i] as number[])[j] as number, p[j] as number])));
    const v = trained.metadata.validation;
    writeFileSync(join(plotDir, `${r.name}.png`), await chartPng(scatterSpec({ title: `${r.name}: predicted vs measured`, subtitle: `nested CV, outer ${v.folds} folds of whole ${r.task === 'counters' ? (r.phases ? 'load phases' : 'time blocks') : 'cpu families'}: MAPE ${v.mapePercent.toFixed(2)} %`, points })));
    index[r.name] = {
      file: `${r.name}.onnx`,
      sha256: createHash('sha256').update(trained.onnx).digest('hex'),
      fingerprint: r.fingerprint,
      task: r.task,
      description: r.description,
      data: r.data,
      family: trained.metadata.family,
      featureNames: trained.metadata.featureNames,
      outputNames: trained.metadata.outputNames,
      trainingRows: trained.metadata.trainingRows,
      counterWindowSeconds: trained.metadata.counterWindowSeconds ?? null,
      grouped: { split: v.split, method: v.method, folds: v.folds, innerFolds: v.innerFolds, mapePercent: round(v.mapePercent), rmseWatts: round(v.rmseWatts), chosenPerFold: trained.train.chosenPerFold, selectionMapePercent: round(trained.metadata.candidates[trained.metadata.family] as number), worstGroup: trained.train.validation.worst_group, perOutput: Object.fromEntries(Object.entries(trained.train.validation.per_output).map(([k, o]) => [k, round(o.mape_percent)])) },
      randomRows: { family: trained.metadata.family, settingsFixed: true, mapePercent: round(rows.mapePercent) },
      baselines: { grouped: { ...baselines(r.task, table, 'group'), kepler_style_linear: round(linearGrouped) }, randomRows: { ...baselines(r.task, table, 'rows'), kepler_style_linear: round(rows.linear) } },
    };
    console.log(`${r.name}: ${trained.metadata.family} nested grouped MAPE ${v.mapePercent.toFixed(2)} % (outer folds chose ${trained.train.chosenPerFold.join(', ')}; random rows ${rows.mapePercent.toFixed(2)} %) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  writeFileSync(join(outDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

await main();
