// Scores by a node's power curve: P(load) from 11 points (annotation, labelled curve from config, or the
// embedded SPECpower median). Needs no telemetry, so it is the scorer every node can get before the agent has
// measured anything.
//
// The marginal watts it reports mix two prices of the pod (weights in CURVE_WEIGHT): the step on the curve's lower
// convex envelope H, H(load + pod share) − H(load), and the step on the curve itself. Measured curves are not
// convex (many rise steeply from idle and then flatten); filling nodes in order of their envelope's slope is the
// optimal split when the load is there to fill them, while the curve's step is what the pod costs at the node's
// load now. Neither alone wins across clusters (`wattsched sim` measures both, docs/sim.md). For convex curves,
// envelope and curve agree. With `emptyNodes: off` (clusters that switch empty nodes off, e.g. cluster-autoscaler
// scale-down) an empty node costs nothing, so its envelope starts at (0, 0) and waking it is charged its idle power
// spread over the load it is most efficient at.
import Type, { type Static } from 'typebox';
import { PowerCurveSchema } from '../../../shared/config/power-curve.js';
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
    emptyNodes: Type.Optional(Type.Union([Type.Literal('idle'), Type.Literal('off')])),
  },
  { additionalProperties: false },
);
export type Args = Static<typeof ArgsSchema>;

/**
 * Lower convex envelope of the curve as (load, watts) vertices from load 0 to 1. With `emptyOff` the node draws
 * nothing at load 0 (it is switched off), so the envelope starts at (0, 0) instead of at idle.
 */
export function convexEnvelope(curve: PowerCurve, emptyOff = false): readonly (readonly [number, number])[] {
  const hull: [number, number][] = [];
  for (let k = 0; k < curve.length; k++) {
    const p: [number, number] = [k / (curve.length - 1), k === 0 && emptyOff ? 0 : (curve[k] as number)];
    // Monotone chain: drop the last vertex while it lies on or above the chord from the one before it to p.
    while (hull.length >= 2) {
      const [ax, ay] = hull[hull.length - 2] as [number, number];
      const [bx, by] = hull[hull.length - 1] as [number, number];
      if ((by - ay) * (p[0] - ax) >= (p[1] - ay) * (bx - ax)) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull;
}

/** The envelope's watts at `load` (clamped to [0, 1]). */
export function envelopeAt(hull: readonly (readonly [number, number])[], load: number): number {
  const x = Math.min(1, Math.max(0, load));
  for (let i = 1; i < hull.length; i++) {
    const [bx, by] = hull[i] as readonly [number, number];
    if (x <= bx) {
      const [ax, ay] = hull[i - 1] as readonly [number, number];
      return bx > ax ? ay + ((by - ay) * (x - ax)) / (bx - ax) : by;
    }
  }
  return (hull[hull.length - 1] as readonly [number, number])[1];
}

/**
 * Weight of the curve's own marginal next to the envelope's: marginal = envelope + w·(curve − envelope). The
 * envelope prices a pod as if the node will go on to be filled to the end of its envelope piece; the curve prices it
 * at the load the node is actually at. Which is right depends on whether the cluster's load ever fills the node, which
 * the scorer cannot know, so the two are mixed. Chosen with `wattsched sim` on a tuning set of drawn traces and server
 * mixes (seeds 1–30 of bench/sim's draw; the held-out set was run once afterwards, see docs/sim.md):
 * - always-on (`emptyNodes: idle`), 0.5: idle power is paid anyway and loads are low much of the time, so a node's
 *   steep start is what a pod really costs; the envelope's half still opens a node whose whole range is cheaper.
 *   With the old 0.001 (envelope only) greedy was ahead in 22 of 30 validation cases, and an envelope promise that
 *   pays off only past 70 % load (a big server the cluster never fills) lost up to 30 points of the achievable
 *   saving. Between 0.6 and 0.7 the shipped trace on servers_20 flips to a worse server order (97.7 → 91.4 %).
 * - power-down (`emptyNodes: off`), 0.1: an empty node is off, and waking it is the decision that matters; the
 *   envelope from (0, 0) prices exactly that, and the curve's share only breaks near-ties (identical nodes above all:
 *   the one already past its steep start wins instead of the default plugins spreading).
 * For a convex curve envelope and curve agree and w has no effect.
 */
export const CURVE_WEIGHT: { readonly idle: number; readonly off: number } = { idle: 0.5, off: 0.1 };

/** Where a node stands before the pod: the part of marginalWatts that does not depend on the pod. */
export interface Start {
  readonly envelope: number;
  /** The curve's watts before the pod (0 for an empty node that is off). */
  readonly curve: number;
}

export function startOf(curve: PowerCurve, hull: readonly (readonly [number, number])[], allocatableMilli: number, requestedMilli: number, emptyOff: boolean): Start {
  const from = requestedMilli / allocatableMilli;
  return { envelope: envelopeAt(hull, from), curve: emptyOff && requestedMilli === 0 ? 0 : powerAt(curve, from) };
}

/**
 * The marginal watts from a node's Start to load `to`, `withPod` being powerAt(curve, to) (passed in: the caller
 * reports it too). Split from marginalWatts so a scorer can keep the Start per node across pods.
 */
export function marginalFrom(s: Start, hull: readonly (readonly [number, number])[], to: number, withPod: number, emptyOff: boolean): number {
  return marginalFromParts(s.envelope, s.curve, hull, to, withPod, emptyOff);
}

/** marginalFrom with the Start's two numbers passed apart, for scorers that keep them in columns. */
export function marginalFromParts(envelopeFrom: number, curveFrom: number, hull: readonly (readonly [number, number])[], to: number, withPod: number, emptyOff: boolean): number {
  const envelope = envelopeAt(hull, to) - envelopeFrom;
  const onCurve = withPod - curveFrom;
  return envelope + (emptyOff ? CURVE_WEIGHT.off : CURVE_WEIGHT.idle) * (onCurve - envelope);
}

/**
 * Marginal watts of adding `podMilli` to a node (the envelope's and the curve's mixed by CURVE_WEIGHT) and the
 * node's predicted power with the pod (on the curve itself: that is what a power cap is checked against). With
 * `emptyOff` an empty node is off, so on the curve too the pod pays its whole power. Pure, plain numbers.
 */
export function marginalWatts(curve: PowerCurve, allocatableMilli: number, requestedMilli: number, podMilli: number, emptyOff = false, hull = convexEnvelope(curve, emptyOff)): { marginal: number; withPod: number } {
  const s = startOf(curve, hull, allocatableMilli, requestedMilli, emptyOff);
  const to = (requestedMilli + podMilli) / allocatableMilli;
  const withPod = powerAt(curve, to);
  return { marginal: marginalFrom(s, hull, to, withPod, emptyOff), withPod };
}

const PARSED_CURVES_MAX = 4096;

type Resolved = { curve: PowerCurve; basis: string };
type CurveLookup = Resolved | { error: string };

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
  const emptyOff = args.emptyNodes === 'off';
  const hulls = new WeakMap<PowerCurve, readonly (readonly [number, number])[]>();
  const resolved = new WeakMap<NodeState, Resolved & { hull: readonly (readonly [number, number])[] }>();
  const curveFor = (node: NodeState): Resolved & { hull: readonly (readonly [number, number])[] } => {
    let r = resolved.get(node);
    if (!r) {
      const c = resolve(node);
      let hull = hulls.get(c.curve);
      if (!hull) hulls.set(c.curve, (hull = convexEnvelope(c.curve, emptyOff)));
      r = { ...c, hull };
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
      const loadBefore = new Float64Array(n);
      const basis = new Array<string>(n);
      const skipped = new Map<number, string>();
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeState;
        if (!(node.allocatableMilliCPU > 0)) {
          marginal[i] = NaN;
          withPod[i] = NaN;
          loadBefore[i] = NaN;
          basis[i] = 'skipped';
          skipped.set(i, 'node reports no allocatable CPU');
          continue;
        }
        const r = curveFor(node);
        const w = marginalWatts(r.curve, node.allocatableMilliCPU, node.requestedMilliCPU, pod.cpuMilli, emptyOff, r.hull);
        marginal[i] = w.marginal;
        withPod[i] = w.withPod;
        loadBefore[i] = node.requestedMilliCPU / node.allocatableMilliCPU;
        basis[i] = r.basis;
      }
      return { kind: 'batch', marginalWatts: marginal, powerWithPodWatts: withPod, loadBefore, basis, skipped };
    },
  } satisfies Scorer;
}
