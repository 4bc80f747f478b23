// Any served model as power curves over CPU load, for many nodes in one inference run per model. The agent's model
// layer and the extender's scorer both price load on a curve (watts at 0, 10, …, 100 %), so a model is usable for
// them when it can say what a node draws at each load level:
//   - a `curve` model from the node's hardware description (the description-curve model): one row per node;
//   - a `counters` model whose only input is the node's busy CPU (cpu_seconds_per_s, as the agents push it when the
//     PMU is not live): 11 rows per node, busy CPU = level × the node's threads.
// A counters model that also needs PMU counters (cycles, instructions, …) cannot be priced at a load the node is
// not at, and is refused with the reason, so the caller falls through to its next source.
import type { PowerModel } from './power-model.js';
import { CURVE_LEVELS } from './features.js';
import { CURVE_POINTS, validateCurve, type PowerCurve } from './curve.js';
import type { NodeHardware } from '../shared/wire/model.js';
import { WS_ERR_MODEL_INPUT } from '../shared/errors.js';

/** Counter features that follow from CPU load alone. */
export const LOAD_FEATURES: readonly string[] = ['cpu_seconds_per_s'];

/** Why a model cannot give load curves, or null when it can. */
export function loadCurveProblem(model: Pick<PowerModel, 'task' | 'featureNames' | 'name'>): string | null {
  if (model.task === 'curve') return null;
  if (model.task === 'counters') {
    const other = model.featureNames.filter((f) => !LOAD_FEATURES.includes(f));
    if (other.length === 0 && model.featureNames.length > 0) return null;
    return `counters model ${model.name} needs ${other.join(', ')}: not a function of CPU load`;
  }
  return `${model.task} model ${model.name} needs measured idle and peak watts, which a node description does not have`;
}

/** Pure: a predicted curve made usable: non-negative and never falling with load. */
export function monotoneCurve(values: readonly number[], origin: string): PowerCurve {
  const out: number[] = [];
  for (const v of values) out.push(Math.max(0, v, out.length ? (out[out.length - 1] as number) : 0));
  return validateCurve(out, origin);
}

/** A node's curve, or why this model gives none for it (the other nodes of the batch keep theirs). */
export type LoadCurve = { curve: PowerCurve } | { error: string };

/**
 * One curve per node from `model`, in a single `predict` call whatever the number of nodes (identical rows are
 * scored once for curve models). Throws WS_ERR_MODEL_INPUT when the model is not usable as a load curve.
 */
export async function loadCurves(model: PowerModel, nodes: readonly NodeHardware[]): Promise<LoadCurve[]> {
  const problem = loadCurveProblem(model);
  if (problem !== null) throw new WS_ERR_MODEL_INPUT(problem);
  if (nodes.length === 0) return [];
  let raw: number[][];
  // Imported here, not at the top: the pure functions above serve the agent, which must not map onnxruntime's
  // native library (~15 MiB resident) just to check a model's inputs. Whoever holds a model has loaded it already.
  if (model.task === 'curve') raw = await (await import('./power-model.js')).predictCurves(model, nodes);
  else {
    const width = model.featureNames.length;
    const rows = new Float32Array(nodes.length * CURVE_POINTS * width);
    nodes.forEach((hw, n) => {
      CURVE_LEVELS.forEach((level, l) => {
        // Every feature is cpu_seconds_per_s (loadCurveProblem): busy CPU seconds per second at this level.
        rows.fill((level / 100) * hw.threads, ((n * CURVE_POINTS + l) * width), (n * CURVE_POINTS + l + 1) * width);
      });
    });
    const out = await model.predict(rows, nodes.length * CURVE_POINTS);
    const k = model.outputNames.length;
    raw = nodes.map((_, n) => {
      const curve: number[] = [];
      for (let l = 0; l < CURVE_POINTS; l++) {
        // Zone outputs (package, dram, …) add up to what the model measures of the node.
        let w = 0;
        for (let z = 0; z < k; z++) w += out[(n * CURVE_POINTS + l) * k + z] as number;
        curve.push(w);
      }
      return curve;
    });
  }
  return raw.map((values, i) => {
    if (!values.every(Number.isFinite)) return { error: `model ${model.name} predicts a non-finite watt value` };
    const curve = monotoneCurve(values, `model ${model.name} for node ${i}`);
    if (!((curve[CURVE_POINTS - 1] as number) > 0)) return { error: `model ${model.name} predicts 0 W at full load` };
    return { curve };
  });
}
