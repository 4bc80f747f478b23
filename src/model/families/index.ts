// The model families wattsched tries for every task, behind one shape: fit on (X, Z), predict Z in TypeScript, and
// emit the same computation as ONNX nodes. The TypeScript prediction is the reference the ONNX output is tested against.
import type { OnnxNode, OnnxTensor } from '../onnx/builder.js';
import { applyLinear, fitRidge, type LinearCoefficients } from './linalg.js';
import { fitGbdt, predictGbdt, GBDT_DEFAULTS, type GbdtModel, type GbdtOptions, type TreeNode } from './gbdt.js';

export const FAMILIES = ['linear', 'spline', 'gbdt'] as const;
export type Family = (typeof FAMILIES)[number];

export interface Hinge {
  feature: number;
  knot: number;
}

export type Regressor =
  | { family: 'linear'; coef: LinearCoefficients }
  /** Additive piecewise-linear: a linear model over the inputs plus max(0, x_j − knot) hinges. */
  | { family: 'spline'; hinges: Hinge[]; coef: LinearCoefficients }
  | { family: 'gbdt'; model: GbdtModel };

export interface FitOptions {
  lambda?: number;
  knotsPerFeature?: number;
  gbdt?: Partial<GbdtOptions>;
}

function quantileKnots(values: number[], count: number): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  const knots: number[] = [];
  for (let i = 1; i <= count; i++) knots.push(Math.fround(sorted[Math.floor((i * sorted.length) / (count + 1))] as number));
  const lo = sorted[0] as number;
  const hi = sorted[sorted.length - 1] as number;
  return [...new Set(knots)].filter((q) => q > lo && q < hi);
}

function expand(hinges: readonly Hinge[], row: readonly number[]): number[] {
  const out = [...row];
  for (const h of hinges) out.push(Math.max(0, Math.fround(Math.fround(row[h.feature] as number) - h.knot)));
  return out;
}

export function fitRegressor(family: Family, x: readonly (readonly number[])[], z: readonly (readonly number[])[], opts: FitOptions = {}): Regressor {
  const lambda = opts.lambda ?? 1e-4;
  switch (family) {
    case 'linear':
      return { family, coef: fitRidge(x, z, lambda) };
    case 'spline': {
      const f = x[0]?.length ?? 0;
      const hinges: Hinge[] = [];
      for (let j = 0; j < f; j++) for (const knot of quantileKnots(x.map((r) => r[j] as number), opts.knotsPerFeature ?? 4)) hinges.push({ feature: j, knot });
      return { family, hinges, coef: fitRidge(x.map((r) => expand(hinges, r)), z, lambda) };
    }
    case 'gbdt':
      return { family, model: fitGbdt(x, z, { ...GBDT_DEFAULTS, ...opts.gbdt }) };
  }
}

export function predictRegressor(r: Regressor, row: readonly number[]): number[] {
  switch (r.family) {
    case 'linear':
      return applyLinear(r.coef, row);
    case 'spline':
      return applyLinear(r.coef, expand(r.hinges, row));
    case 'gbdt':
      return predictGbdt(r.model, row);
  }
}

export interface OnnxFragment {
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
}

function linearNodes(prefix: string, coef: LinearCoefficients, input: string, output: string): OnnxFragment {
  const f = coef.weights.length;
  const k = coef.bias.length;
  return {
    nodes: [
      { op: 'Sub', inputs: [input, `${prefix}_c`], outputs: [`${prefix}_xc`] },
      { op: 'MatMul', inputs: [`${prefix}_xc`, `${prefix}_W`], outputs: [`${prefix}_xw`] },
      { op: 'Add', inputs: [`${prefix}_xw`, `${prefix}_b`], outputs: [output] },
    ],
    initializers: [
      { name: `${prefix}_c`, type: 'float', dims: [f], data: coef.center },
      { name: `${prefix}_W`, type: 'float', dims: [f, k], data: coef.weights.flat() },
      { name: `${prefix}_b`, type: 'float', dims: [k], data: coef.bias },
    ],
  };
}

function treeNodes(model: GbdtModel, input: string, output: string): OnnxFragment {
  const k = model.base.length;
  const a = {
    treeIds: [] as number[], nodeIds: [] as number[], featureIds: [] as number[], modes: [] as string[], values: [] as number[],
    trueIds: [] as number[], falseIds: [] as number[], missingTrue: [] as number[],
    tTree: [] as number[], tNode: [] as number[], tId: [] as number[], tWeight: [] as number[],
  };
  model.trees.forEach((nodes: TreeNode[], t) => {
    nodes.forEach((node, id) => {
      const leaf = node.feature < 0;
      a.treeIds.push(t);
      a.nodeIds.push(id);
      a.featureIds.push(leaf ? 0 : node.feature);
      a.modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      a.values.push(leaf ? 0 : node.threshold);
      a.trueIds.push(leaf ? 0 : node.left);
      a.falseIds.push(leaf ? 0 : node.right);
      a.missingTrue.push(0);
      if (leaf) node.values.forEach((v, j) => { a.tTree.push(t); a.tNode.push(id); a.tId.push(j); a.tWeight.push(v); });
    });
  });
  return {
    nodes: [{
      op: 'TreeEnsembleRegressor', domain: 'ai.onnx.ml', inputs: [input], outputs: [output],
      attrs: {
        n_targets: { kind: 'int', value: k },
        aggregate_function: { kind: 'string', value: 'SUM' },
        post_transform: { kind: 'string', value: 'NONE' },
        base_values: { kind: 'floats', value: model.base },
        nodes_treeids: { kind: 'ints', value: a.treeIds },
        nodes_nodeids: { kind: 'ints', value: a.nodeIds },
        nodes_featureids: { kind: 'ints', value: a.featureIds },
        nodes_modes: { kind: 'strings', value: a.modes },
        nodes_values: { kind: 'floats', value: a.values },
        nodes_truenodeids: { kind: 'ints', value: a.trueIds },
        nodes_falsenodeids: { kind: 'ints', value: a.falseIds },
        nodes_missing_value_tracks_true: { kind: 'ints', value: a.missingTrue },
        target_treeids: { kind: 'ints', value: a.tTree },
        target_nodeids: { kind: 'ints', value: a.tNode },
        target_ids: { kind: 'ints', value: a.tId },
        target_weights: { kind: 'floats', value: a.tWeight },
      },
    }],
    initializers: [],
  };
}

/** ONNX nodes computing the regressor's Z [N,K] from `input` [N,F] (float) into `output`. */
export function regressorNodes(r: Regressor, input: string, output: string): OnnxFragment {
  switch (r.family) {
    case 'linear':
      return linearNodes('lin', r.coef, input, output);
    case 'spline': {
      if (r.hinges.length === 0) return linearNodes('spl', r.coef, input, output);
      const idx = r.hinges.map((h) => h.feature);
      const knots = r.hinges.map((h) => h.knot);
      const lin = linearNodes('spl', r.coef, 'spl_expanded', output);
      return {
        nodes: [
          { op: 'Gather', inputs: [input, 'spl_idx'], outputs: ['spl_cols'], attrs: { axis: { kind: 'int', value: 1 } } },
          { op: 'Sub', inputs: ['spl_cols', 'spl_knots'], outputs: ['spl_shift'] },
          { op: 'Relu', inputs: ['spl_shift'], outputs: ['spl_hinge'] },
          { op: 'Concat', inputs: [input, 'spl_hinge'], outputs: ['spl_expanded'], attrs: { axis: { kind: 'int', value: 1 } } },
          ...lin.nodes,
        ],
        initializers: [
          { name: 'spl_idx', type: 'int64', dims: [idx.length], data: idx },
          { name: 'spl_knots', type: 'float', dims: [knots.length], data: knots },
          ...lin.initializers,
        ],
      };
    }
    case 'gbdt':
      return treeNodes(r.model, input, output);
  }
}
