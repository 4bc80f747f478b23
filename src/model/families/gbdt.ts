// Gradient-boosted regression trees (squared error, multi-output leaves) on pre-binned features. Thresholds are
// float32 values and rows compare as float32, exactly as ai.onnx.ml TreeEnsembleRegressor does with a float input, so
// the TypeScript reference and onnxruntime take the same branch for every row.

import { mulberry32 } from '../../shared/random.js';

export interface TreeNode {
  /** -1 for a leaf. */
  feature: number;
  threshold: number;
  left: number;
  right: number;
  /** Leaf values, one per output (already scaled by the learning rate). */
  values: number[];
}

export interface GbdtModel {
  base: number[];
  trees: TreeNode[][];
}

export interface GbdtOptions {
  trees: number;
  depth: number;
  learningRate: number;
  minLeaf: number;
  lambda: number;
  subsample: number;
  maxBins: number;
  seed: number;
}

export const GBDT_DEFAULTS: GbdtOptions = { trees: 300, depth: 3, learningRate: 0.1, minLeaf: 8, lambda: 1, subsample: 0.8, maxBins: 64, seed: 1 };

/** Split candidates: float32 midpoints between (quantiles of) distinct float32 values. */
function binEdges(values: number[], maxBins: number): number[] {
  const distinct = [...new Set(values.map(Math.fround))].sort((a, b) => a - b);
  if (distinct.length < 2) return [];
  let picks = distinct;
  if (distinct.length > maxBins) {
    picks = [];
    for (let i = 1; i <= maxBins; i++) picks.push(distinct[Math.min(distinct.length - 1, Math.floor((i * distinct.length) / (maxBins + 1)))] as number);
    picks = [...new Set(picks)];
  }
  const edges: number[] = [];
  for (let i = 0; i + 1 < picks.length; i++) {
    const lo = picks[i] as number;
    const hi = picks[i + 1] as number;
    let mid = Math.fround((lo + hi) / 2);
    // Adjacent float32 values have no float32 between them; the lower one still splits them under `x <= t`.
    if (!(mid >= lo && mid < hi)) mid = lo;
    edges.push(mid);
  }
  return [...new Set(edges)];
}

function binOf(edges: number[], x: number): number {
  const v = Math.fround(x);
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= (edges[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function fitGbdt(x: readonly (readonly number[])[], y: readonly (readonly number[])[], opts: GbdtOptions): GbdtModel {
  const n = x.length;
  const f = x[0]?.length ?? 0;
  const k = y[0]?.length ?? 0;
  if (n === 0) throw new Error('no training rows');
  const edges = Array.from({ length: f }, (_, j) => binEdges(x.map((r) => r[j] as number), opts.maxBins));
  const bins = Array.from({ length: f }, (_, j) => Uint16Array.from(x, (r) => binOf(edges[j] as number[], r[j] as number)));
  const base = Array.from({ length: k }, (_, t) => y.reduce((s, r) => s + (r[t] as number), 0) / n);
  const pred = Float64Array.from({ length: n * k }, (_, i) => base[i % k] as number);
  const resid = new Float64Array(n * k);
  const rand = mulberry32(opts.seed);
  const trees: TreeNode[][] = [];

  for (let tIdx = 0; tIdx < opts.trees; tIdx++) {
    for (let i = 0; i < n; i++) for (let t = 0; t < k; t++) resid[i * k + t] = ((y[i] as number[])[t] as number) - (pred[i * k + t] as number);
    const sample: number[] = [];
    for (let i = 0; i < n; i++) if (opts.subsample >= 1 || rand() < opts.subsample) sample.push(i);
    const nodes: TreeNode[] = [];

    const leafValues = (rows: number[]): number[] => {
      const sums = new Array<number>(k).fill(0);
      for (const i of rows) for (let t = 0; t < k; t++) sums[t] = (sums[t] as number) + (resid[i * k + t] as number);
      return sums.map((s) => (opts.learningRate * s) / (rows.length + opts.lambda));
    };

    const grow = (rows: number[], depth: number): number => {
      const id = nodes.length;
      nodes.push({ feature: -1, threshold: 0, left: -1, right: -1, values: [] });
      let best: { gain: number; feature: number; bin: number } | null = null;
      if (depth < opts.depth && rows.length >= 2 * opts.minLeaf) {
        const total = new Array<number>(k).fill(0);
        for (const i of rows) for (let t = 0; t < k; t++) total[t] = (total[t] as number) + (resid[i * k + t] as number);
        const parentScore = total.reduce((s, g) => s + g * g, 0) / (rows.length + opts.lambda);
        for (let j = 0; j < f; j++) {
          const nb = (edges[j] as number[]).length + 1;
          if (nb < 2) continue;
          const cnt = new Float64Array(nb);
          const sum = new Float64Array(nb * k);
          const bj = bins[j] as Uint16Array;
          for (const i of rows) {
            const b = bj[i] as number;
            cnt[b] = (cnt[b] as number) + 1;
            for (let t = 0; t < k; t++) sum[b * k + t] = (sum[b * k + t] as number) + (resid[i * k + t] as number);
          }
          let nl = 0;
          const gl = new Float64Array(k);
          for (let b = 0; b < nb - 1; b++) {
            nl += cnt[b] as number;
            for (let t = 0; t < k; t++) gl[t] = (gl[t] as number) + (sum[b * k + t] as number);
            const nr = rows.length - nl;
            if (nl < opts.minLeaf || nr < opts.minLeaf) continue;
            let sl = 0;
            let sr = 0;
            for (let t = 0; t < k; t++) {
              const l = gl[t] as number;
              const r = (total[t] as number) - l;
              sl += l * l;
              sr += r * r;
            }
            const gain = sl / (nl + opts.lambda) + sr / (nr + opts.lambda) - parentScore;
            if (gain > 1e-12 && (best === null || gain > best.gain)) best = { gain, feature: j, bin: b };
          }
        }
      }
      const node = nodes[id] as TreeNode;
      if (best === null) {
        node.values = leafValues(rows);
        return id;
      }
      const bj = bins[best.feature] as Uint16Array;
      const left = rows.filter((i) => (bj[i] as number) <= best.bin);
      const right = rows.filter((i) => (bj[i] as number) > best.bin);
      node.feature = best.feature;
      node.threshold = (edges[best.feature] as number[])[best.bin] as number;
      node.left = grow(left, depth + 1);
      node.right = grow(right, depth + 1);
      return id;
    };
    grow(sample, 0);
    // Out-of-sample rows must follow the float32 thresholds too, so route every row through the finished tree.
    for (let i = 0; i < n; i++) {
      const leaf = routeLeaf(nodes, x[i] as readonly number[]);
      const v = (nodes[leaf] as TreeNode).values;
      for (let t = 0; t < k; t++) pred[i * k + t] = (pred[i * k + t] as number) + (v[t] as number);
    }
    trees.push(nodes);
  }
  return { base, trees };
}

/** Index of the leaf `row` reaches, comparing as float32 like onnxruntime. */
export function routeLeaf(nodes: readonly TreeNode[], row: readonly number[]): number {
  let id = 0;
  for (;;) {
    const node = nodes[id] as TreeNode;
    if (node.feature < 0) return id;
    id = Math.fround(row[node.feature] as number) <= node.threshold ? node.left : node.right;
  }
}

/** Predictions using the first `count` trees (all by default). */
export function predictGbdt(model: GbdtModel, row: readonly number[], count = model.trees.length): number[] {
  const out = [...model.base];
  for (let t = 0; t < count && t < model.trees.length; t++) {
    const nodes = model.trees[t] as TreeNode[];
    const v = (nodes[routeLeaf(nodes, row)] as TreeNode).values;
    for (let j = 0; j < out.length; j++) out[j] = (out[j] as number) + (v[j] as number);
  }
  return out;
}

export function truncateGbdt(model: GbdtModel, count: number): GbdtModel {
  return { base: model.base, trees: model.trees.slice(0, count) };
}
