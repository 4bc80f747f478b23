// Training by whole held-out groups: every candidate (family × settings) is scored on out-of-fold predictions where
// a fold holds whole CPU families / time blocks / load phases; the best candidate is refitted on all rows. Pure
// computation: files, flags and printing live in commands/train.ts.
import { createHash } from 'node:crypto';
import { FAMILIES, fitRegressor, predictRegressor, type Family, type FitOptions, type Regressor } from './families/index.js';
import { GBDT_DEFAULTS, fitGbdt, routeLeaf, truncateGbdt, type TreeNode } from './families/gbdt.js';
import { groupFolds, summarise, type ErrorSummary } from './metrics.js';
import type { Row, TaskSpec } from './tasks.js';
import { WS_ERR_MODEL_DATA } from '../shared/errors.js';

export interface Dataset {
  features: number[][];
  watts: number[][];
  z: number[][];
  groups: string[];
  /** Rows dropped because a needed cell was empty or not a positive number. */
  skipped: number;
  sha256: string;
}

export function prepare(spec: TaskSpec, rows: readonly Row[], groups: readonly string[], source: string): Dataset {
  const d: Dataset = { features: [], watts: [], z: [], groups: [], skipped: 0, sha256: '' };
  const hash = createHash('sha256');
  rows.forEach((row, i) => {
    const f = spec.rowFeatures(row);
    const w = spec.rowTargets(row);
    const z = f && w ? spec.encode(w, f) : null;
    if (!f || !w || !z || !f.every(Number.isFinite) || !z.every(Number.isFinite)) {
      d.skipped++;
      return;
    }
    d.features.push(f);
    d.watts.push(w);
    d.z.push(z);
    d.groups.push(groups[i] ?? '');
    hash.update(JSON.stringify([f, w]));
  });
  if (d.features.length === 0) throw new WS_ERR_MODEL_DATA(source, `no usable rows for task ${spec.task} (need columns ${[...spec.inputColumns, ...spec.outputNames].join(', ')})`);
  d.sha256 = hash.digest('hex');
  return d;
}

export interface TrainOptions {
  families?: readonly Family[];
  folds?: number;
  /** Largest tree count tried for gbdt; smaller counts are read off the same boosting run. */
  maxTrees?: number;
  depths?: readonly number[];
  seed?: number;
}

export interface Candidate {
  id: string;
  family: Family;
  fit: FitOptions;
}

export interface TrainResult {
  regressor: Regressor;
  best: Candidate;
  validation: ErrorSummary & { folds: number };
  /** Out-of-fold MAPE of every candidate tried. */
  candidates: Record<string, number>;
  /** Out-of-fold predictions (watts) of the chosen candidate, row-aligned with the dataset, for plots. */
  outOfFold: number[][];
}

const CHECKPOINTS = [25, 50, 100, 150, 200, 300, 400, 600, 800];

export function scoredIndexes(spec: TaskSpec): number[] {
  return spec.scoredOutputs.map((n) => spec.outputNames.indexOf(n));
}

function addTree(acc: number[], tree: readonly TreeNode[], row: readonly number[]): void {
  (tree[routeLeaf(tree, row)] as TreeNode).values.forEach((v, j) => (acc[j] = (acc[j] as number) + v));
}

/** Relative inference cost: tree visits for gbdt, one "visit" per coefficient row otherwise. */
function cost(c: Candidate): number {
  return c.family === 'gbdt' ? (c.fit.gbdt?.trees ?? 1) * (c.fit.gbdt?.depth ?? 1) : c.family === 'spline' ? 2 : 1;
}

export function trainTask(spec: TaskSpec, data: Dataset, opts: TrainOptions = {}): TrainResult {
  const families = opts.families ?? FAMILIES;
  const maxTrees = opts.maxTrees ?? 600;
  const depths = opts.depths ?? [2, 3, 4];
  const seed = opts.seed ?? 1;
  const foldOf = groupFolds(data.groups, opts.folds ?? 5);
  const nFolds = Math.max(...foldOf) + 1;
  if (nFolds < 2) throw new WS_ERR_MODEL_DATA('(training)', 'need at least two validation groups');
  const n = data.features.length;
  const oof = new Map<string, { cand: Candidate; pred: number[][] }>();
  const slot = (cand: Candidate): number[][] => {
    let s = oof.get(cand.id);
    if (!s) {
      s = { cand, pred: new Array<number[]>(n) };
      oof.set(cand.id, s);
    }
    return s.pred;
  };

  for (let fold = 0; fold < nFolds; fold++) {
    const train: number[] = [];
    const val: number[] = [];
    for (let i = 0; i < n; i++) (foldOf[i] === fold ? val : train).push(i);
    if (val.length === 0 || train.length === 0) continue;
    const x = train.map((i) => data.features[i] as number[]);
    const z = train.map((i) => data.z[i] as number[]);
    for (const family of families) {
      if (family === 'gbdt') {
        for (const depth of depths) {
          const model = fitGbdt(x, z, { ...GBDT_DEFAULTS, trees: maxTrees, depth, seed });
          for (const i of val) {
            const row = data.features[i] as number[];
            const acc = [...model.base];
            let done = 0;
            for (const count of [...CHECKPOINTS.filter((c) => c < maxTrees), maxTrees]) {
              for (; done < count; done++) addTree(acc, model.trees[done] as TreeNode[], row);
              slot({ id: `gbdt-d${depth}-t${count}`, family, fit: { gbdt: { trees: count, depth, seed } } })[i] = spec.decode(acc, row);
            }
          }
        }
      } else {
        const fit: FitOptions = family === 'spline' ? { knotsPerFeature: 4, lambda: 1e-3 } : { lambda: 1e-4 };
        const r = fitRegressor(family, x, z, fit);
        const s = slot({ id: family, family, fit });
        for (const i of val) s[i] = spec.decode(predictRegressor(r, data.features[i] as number[]), data.features[i] as number[]);
      }
    }
  }

  const scored = scoredIndexes(spec);
  const candidates: Record<string, number> = {};
  let best: { cand: Candidate; pred: number[][]; summary: ErrorSummary } | null = null;
  for (const { cand, pred } of oof.values()) {
    const summary = summarise(pred, data.watts, data.groups, spec.outputNames, scored);
    candidates[cand.id] = Number(summary.mape_percent.toFixed(4));
    if (Number.isFinite(summary.mape_percent) && (best === null || summary.mape_percent < best.summary.mape_percent)) best = { cand, pred, summary };
  }
  if (!best) throw new WS_ERR_MODEL_DATA('(training)', 'no candidate could be validated');
  // Occam's rule: the cheapest candidate within 2 % (relative) of the best validated MAPE. Differences that small are
  // noise across folds, and fewer trees mean faster batch inference and less fitting to the validation folds.
  const tolerance = best.summary.mape_percent * 1.02;
  for (const { cand, pred } of oof.values()) {
    if ((candidates[cand.id] as number) > tolerance || cost(cand) >= cost(best.cand)) continue;
    best = { cand, pred, summary: summarise(pred, data.watts, data.groups, spec.outputNames, scored) };
  }
  let regressor = fitRegressor(best.cand.family, data.features, data.z, best.cand.fit);
  if (regressor.family === 'gbdt') regressor = { family: 'gbdt', model: truncateGbdt(regressor.model, best.cand.fit.gbdt?.trees ?? regressor.model.trees.length) };
  return { regressor, best: best.cand, validation: { ...best.summary, folds: nFolds }, candidates, outOfFold: best.pred };
}
