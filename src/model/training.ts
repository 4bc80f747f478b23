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
  /** Outer folds: the held-out error of the whole procedure (selection included) is measured on these. */
  folds?: number;
  /** Inner folds: candidates are compared on these, inside each outer training part, and finally on all rows. */
  innerFolds?: number;
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
  /** What ships: chosen by the inner folds over all rows, refitted on all rows. */
  best: Candidate;
  /**
   * Held-out error of the procedure that produced `best`: each outer fold's rows predicted by a candidate chosen
   * and fitted without them (nested cross-validation). This, not the selection score, is what is stored and ranked.
   */
  validation: ErrorSummary & { folds: number; innerFolds: number };
  /** Inner-fold MAPE of every candidate in the final selection (what chose `best`; optimistic for the winner). */
  candidates: Record<string, number>;
  /** The candidate each outer fold chose. */
  chosenPerFold: string[];
  /** Outer-fold predictions (watts), row-aligned with the dataset, for plots. */
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

interface Settings {
  families: readonly Family[];
  maxTrees: number;
  depths: readonly number[];
  seed: number;
}

/**
 * Group k-fold over the rows `idx` only: every candidate's out-of-fold MAPE, and the chosen one, the cheapest
 * within 2 % (relative) of the best (Occam's rule: differences that small are noise across folds, and fewer trees
 * mean faster inference and less fitting to the validation folds).
 */
function select(spec: TaskSpec, data: Dataset, idx: readonly number[], folds: number, s: Settings): { best: Candidate; candidates: Record<string, number> } {
  const foldOf = groupFolds(idx.map((i) => data.groups[i] as string), folds);
  const nFolds = Math.max(...foldOf) + 1;
  if (nFolds < 2) throw new WS_ERR_MODEL_DATA('(training)', 'need at least two validation groups');
  const n = idx.length;
  const oof = new Map<string, { cand: Candidate; pred: number[][] }>();
  const slot = (cand: Candidate): number[][] => {
    let sl = oof.get(cand.id);
    if (!sl) {
      sl = { cand, pred: new Array<number[]>(n) };
      oof.set(cand.id, sl);
    }
    return sl.pred;
  };
  for (let fold = 0; fold < nFolds; fold++) {
    const train: number[] = [];
    const val: number[] = [];
    for (let k = 0; k < n; k++) (foldOf[k] === fold ? val : train).push(k);
    if (val.length === 0 || train.length === 0) continue;
    const x = train.map((k) => data.features[idx[k] as number] as number[]);
    const z = train.map((k) => data.z[idx[k] as number] as number[]);
    for (const family of s.families) {
      if (family === 'gbdt') {
        for (const depth of s.depths) {
          const model = fitGbdt(x, z, { ...GBDT_DEFAULTS, trees: s.maxTrees, depth, seed: s.seed });
          for (const k of val) {
            const row = data.features[idx[k] as number] as number[];
            const acc = [...model.base];
            let done = 0;
            for (const count of [...CHECKPOINTS.filter((c) => c < s.maxTrees), s.maxTrees]) {
              for (; done < count; done++) addTree(acc, model.trees[done] as TreeNode[], row);
              slot({ id: `gbdt-d${depth}-t${count}`, family, fit: { gbdt: { trees: count, depth, seed: s.seed } } })[k] = spec.decode(acc, row);
            }
          }
        }
      } else {
        const fit = familyFit(family);
        const r = fitRegressor(family, x, z, fit);
        const sl = slot({ id: family, family, fit });
        for (const k of val) {
          const row = data.features[idx[k] as number] as number[];
          sl[k] = spec.decode(predictRegressor(r, row), row);
        }
      }
    }
  }
  const scored = scoredIndexes(spec);
  const truth = idx.map((i) => data.watts[i] as number[]);
  const groups = idx.map((i) => data.groups[i] as string);
  const candidates: Record<string, number> = {};
  let best: { cand: Candidate; mape: number } | null = null;
  for (const { cand, pred } of oof.values()) {
    const m = summarise(pred, truth, groups, spec.outputNames, scored).mape_percent;
    candidates[cand.id] = Number(m.toFixed(4));
    if (Number.isFinite(m) && (best === null || m < best.mape)) best = { cand, mape: m };
  }
  if (!best) throw new WS_ERR_MODEL_DATA('(training)', 'no candidate could be validated');
  const tolerance = best.mape * 1.02;
  for (const { cand } of oof.values()) {
    if ((candidates[cand.id] as number) <= tolerance && cost(cand) < cost(best.cand)) best = { cand, mape: candidates[cand.id] as number };
  }
  return { best: best.cand, candidates };
}

export function familyFit(family: Family): FitOptions {
  return family === 'spline' ? { knotsPerFeature: 4, lambda: 1e-3 } : { lambda: 1e-4 };
}

function fitCandidate(c: Candidate, x: number[][], z: number[][]): Regressor {
  const r = fitRegressor(c.family, x, z, c.fit);
  return r.family === 'gbdt' ? { family: 'gbdt', model: truncateGbdt(r.model, c.fit.gbdt?.trees ?? r.model.trees.length) } : r;
}

/**
 * Nested cross-validation. Outer group folds measure the error; inside each outer training part, the inner group
 * folds choose the family and settings, which are refitted on that part and predict the outer fold. The shipped
 * model is the same procedure run on all rows. Its stored error is the outer one: the winner's own selection score
 * was measured on the predictions it was chosen by, and is optimistic by the best-of-N effect.
 */
export function trainTask(spec: TaskSpec, data: Dataset, opts: TrainOptions = {}): TrainResult {
  const s: Settings = { families: opts.families ?? FAMILIES, maxTrees: opts.maxTrees ?? 600, depths: opts.depths ?? [2, 3, 4], seed: opts.seed ?? 1 };
  const innerFolds = opts.innerFolds ?? 3;
  const outerOf = groupFolds(data.groups, opts.folds ?? 5);
  const nOuter = Math.max(...outerOf) + 1;
  if (nOuter < 2) throw new WS_ERR_MODEL_DATA('(training)', 'need at least two validation groups');
  const n = data.features.length;
  const outOfFold = new Array<number[]>(n);
  const chosenPerFold: string[] = [];
  for (let fold = 0; fold < nOuter; fold++) {
    const train: number[] = [];
    const val: number[] = [];
    for (let i = 0; i < n; i++) (outerOf[i] === fold ? val : train).push(i);
    const { best } = select(spec, data, train, innerFolds, s);
    chosenPerFold.push(best.id);
    const r = fitCandidate(best, train.map((i) => data.features[i] as number[]), train.map((i) => data.z[i] as number[]));
    for (const i of val) outOfFold[i] = spec.decode(predictRegressor(r, data.features[i] as number[]), data.features[i] as number[]);
  }
  const summary = summarise(outOfFold, data.watts, data.groups, spec.outputNames, scoredIndexes(spec));
  const all = data.features.map((_, i) => i);
  const { best, candidates } = select(spec, data, all, innerFolds, s);
  const regressor = fitCandidate(best, data.features, data.z);
  return { regressor, best, validation: { ...summary, folds: nOuter, innerFolds }, candidates, chosenPerFold, outOfFold };
}

/** Error of fixed settings on the given folds (no selection inside): for comparisons that are reported, never used to choose. */
export function crossValidate(spec: TaskSpec, data: Dataset, c: Candidate, folds: number): ErrorSummary {
  const foldOf = groupFolds(data.groups, folds);
  const pred = new Array<number[]>(data.features.length);
  for (let fold = 0; fold <= Math.max(...foldOf); fold++) {
    const train = data.features.map((_, i) => i).filter((i) => foldOf[i] !== fold);
    const r = fitCandidate(c, train.map((i) => data.features[i] as number[]), train.map((i) => data.z[i] as number[]));
    data.features.forEach((f, i) => {
      if (foldOf[i] === fold) pred[i] = spec.decode(predictRegressor(r, f), f);
    });
  }
  return summarise(pred, data.watts, data.groups, spec.outputNames, scoredIndexes(spec));
}
