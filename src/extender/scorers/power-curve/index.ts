// Scores by a node's power curve: P(load) from 11 points (annotation, labelled curve from config, or the
// embedded SPECpower median), marginal watts = P(load + pod share) − P(load). Needs no telemetry, so it is the
// scorer every node can get before the agent has measured anything.
import Type, { type Static } from 'typebox';
import { PowerCurveSchema } from '../../../shared/config/extender.js';
import { configProblems } from '../../../shared/config/load.js';
import { WS_ERR_CONFIG_INVALID } from '../../../shared/errors.js';
import { ANNOTATIONS } from '../../../shared/names.js';
import { DEFAULT_POWER_CURVE, parseCurve, powerAt, validateCurve, type PowerCurve } from '../../../model/curve.js';
import type { NodeState } from '../../nodes/state.js';
import type { PodDemand } from '../../protocol/pod.js';
import type { ScoreBatch, Scorer } from '../../scoring/scorer.js';

export const NAME = 'power-curve';

export const ArgsSchema = Type.Object(
  {
    nodeLabel: Type.String(),
    byLabelValue: Type.Record(Type.String(), PowerCurveSchema),
    default: Type.Optional(PowerCurveSchema),
  },
  { additionalProperties: false },
);
export type Args = Static<typeof ArgsSchema>;

/** Marginal watts of adding `podMilli` to a node: pure, plain numbers. */
export function marginalWatts(curve: PowerCurve, allocatableMilli: number, requestedMilli: number, podMilli: number): { marginal: number; withPod: number } {
  const before = powerAt(curve, requestedMilli / allocatableMilli);
  const withPod = powerAt(curve, (requestedMilli + podMilli) / allocatableMilli);
  return { marginal: withPod - before, withPod };
}

const PARSED_CURVES_MAX = 4096;

type CurveLookup = { curve: PowerCurve; basis: string } | { error: string };

export function create(args: Args): Scorer {
  const problems = configProblems(ArgsSchema, args);
  if (problems.length > 0) throw new WS_ERR_CONFIG_INVALID(`${NAME} scorer: ${problems.join('; ')}`);
  const byLabel = new Map(Object.entries(args.byLabelValue).map(([k, c]) => [k, validateCurve(c, `powerCurves.byLabelValue.${k}`)]));
  const fallback = args.default ? validateCurve(args.default, 'powerCurves.default') : DEFAULT_POWER_CURVE;
  // Annotation texts repeat across nodes of one type; parsing each distinct text once keeps names mode cheap. A
  // plain Map, emptied when full, because an LRU's bookkeeping costs more than the lookup on 5,000 nodes a call.
  const parsed = new Map<string, CurveLookup>();

  const resolve = (node: NodeState): { curve: PowerCurve; basis: string } => {
    const text = node.annotations[ANNOTATIONS.powerCurve];
    let warning: string | undefined;
    if (text !== undefined) {
      let hit = parsed.get(text);
      if (!hit) {
        try {
          hit = { curve: parseCurve(text, ANNOTATIONS.powerCurve), basis: 'annotation' };
        } catch (err) {
          hit = { error: (err as Error).message };
        }
        if (parsed.size >= PARSED_CURVES_MAX) parsed.clear();
        parsed.set(text, hit);
      }
      if ('curve' in hit) return hit;
      warning = hit.error;
    }
    const value = node.labels[args.nodeLabel];
    const labelled = value !== undefined ? byLabel.get(value) : undefined;
    const chosen = labelled ? { curve: labelled, basis: `label ${args.nodeLabel}=${value}` } : { curve: fallback, basis: args.default ? 'configured default curve' : 'embedded SPECpower median curve' };
    return warning ? { curve: chosen.curve, basis: `${chosen.basis} (ignored invalid annotation: ${warning})` } : chosen;
  };
  // NodeStates are immutable and inventories hand out the same object until the node changes, so the resolved
  // curve is remembered per object: names mode then costs one lookup per node instead of string hashing.
  const resolved = new WeakMap<NodeState, { curve: PowerCurve; basis: string }>();
  const curveFor = (node: NodeState): { curve: PowerCurve; basis: string } => {
    let r = resolved.get(node);
    if (!r) {
      r = resolve(node);
      resolved.set(node, r);
    }
    return r;
  };

  return {
    name: NAME,
    score: async (pod: PodDemand, nodes: readonly NodeState[]): Promise<ScoreBatch> => {
      const n = nodes.length;
      const marginal = new Float64Array(n);
      const withPod = new Float64Array(n);
      const basis = new Array<string>(n);
      const skipped = new Map<number, string>();
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeState;
        if (!(node.allocatableMilliCPU > 0)) {
          marginal[i] = NaN;
          withPod[i] = NaN;
          basis[i] = 'skipped';
          skipped.set(i, 'node reports no allocatable CPU');
          continue;
        }
        const r = curveFor(node);
        const w = marginalWatts(r.curve, node.allocatableMilliCPU, node.requestedMilliCPU, pod.cpuMilli);
        marginal[i] = w.marginal;
        withPod[i] = w.withPod;
        basis[i] = r.basis;
      }
      return { kind: 'batch', marginalWatts: marginal, powerWithPodWatts: withPod, basis, skipped };
    },
  } satisfies Scorer;
}
