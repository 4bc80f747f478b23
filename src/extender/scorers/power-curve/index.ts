// Scores by a node's power curve: P(load) from 11 points (annotation, labelled curve from config, or the
// embedded SPECpower median), marginal watts = P(load + pod share) − P(load). Needs no telemetry, so it is the
// scorer every node can get before the agent has measured anything.
import Type, { type Static } from 'typebox';
import { LRUCache } from 'lru-cache';
import { PowerCurveSchema } from '../../../shared/config/extender.js';
import { configProblems } from '../../../shared/config/load.js';
import { WS_ERR_CONFIG_INVALID } from '../../../shared/errors.js';
import { ANNOTATIONS } from '../../../shared/names.js';
import { DEFAULT_POWER_CURVE, parseCurve, powerAt, validateCurve, type PowerCurve } from '../../../model/curve.js';
import type { NodeState } from '../../nodes/state.js';
import type { PodDemand } from '../../protocol/pod.js';
import type { NodeOutcome, Scorer } from '../../scoring/scorer.js';

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

type CurveLookup = { curve: PowerCurve; basis: string } | { error: string };

export function create(args: Args): Scorer {
  const problems = configProblems(ArgsSchema, args);
  if (problems.length > 0) throw new WS_ERR_CONFIG_INVALID(`${NAME} scorer: ${problems.join('; ')}`);
  const byLabel = new Map(Object.entries(args.byLabelValue).map(([k, c]) => [k, validateCurve(c, `powerCurves.byLabelValue.${k}`)]));
  const fallback = args.default ? validateCurve(args.default, 'powerCurves.default') : DEFAULT_POWER_CURVE;
  // Annotation texts repeat across nodes of one type; parsing each distinct text once keeps names mode cheap.
  const parsed = new LRUCache<string, CurveLookup>({ max: 4096 });

  const curveFor = (node: NodeState): { curve: PowerCurve; basis: string; warning?: string } => {
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
        parsed.set(text, hit);
      }
      if ('curve' in hit) return hit;
      warning = hit.error;
    }
    const value = node.labels[args.nodeLabel];
    const labelled = value !== undefined ? byLabel.get(value) : undefined;
    const chosen = labelled ? { curve: labelled, basis: `label ${args.nodeLabel}=${value}` } : { curve: fallback, basis: args.default ? 'configured default curve' : 'embedded SPECpower median curve' };
    return warning ? { ...chosen, warning } : chosen;
  };

  return {
    name: NAME,
    score: async (pod: PodDemand, nodes: readonly NodeState[]): Promise<readonly NodeOutcome[]> =>
      nodes.map((node): NodeOutcome => {
        if (!(node.allocatableMilliCPU > 0)) return { kind: 'skip', reason: 'node reports no allocatable CPU' };
        const { curve, basis, warning } = curveFor(node);
        const { marginal, withPod } = marginalWatts(curve, node.allocatableMilliCPU, node.requestedMilliCPU, pod.cpuMilli);
        return { kind: 'estimate', marginalWatts: marginal, powerWithPodWatts: withPod, basis: warning ? `${basis} (ignored invalid annotation: ${warning})` : basis };
      }),
  } satisfies Scorer;
}
