// Which power curve stands for a node, best first:
//   1. the node's `wattsched.io/power-curve` annotation;
//   2. a curve configured for its label value (powerCurves.byLabelValue), else the configured default;
//   3. the model server's model for the hardware fingerprint its agent reports (models.ts);
//   4. the shipped curve model fed that hardware description (models.ts);
//   5. the embedded SPECpower median: its shape calibrated to the watts the node's agent reports, else scaled to
//      the node's CPU count.
// This file resolves 1, 2 and the embedded fallback from the Node object alone; the scorer replaces an embedded
// answer with 3–5 for nodes whose agent reports (scorer.ts), since those change as reports and models arrive.
import { ANNOTATIONS } from '../../shared/names.js';
import { DEFAULT_POWER_CURVE, parseCurve, validateCurve, type PowerCurve } from '../../model/curve.js';
import type { NodeState } from '../nodes/state.js';
import { convexEnvelope, type Args as CurveArgs } from '../scorers/power-curve/index.js';

/**
 * Logical CPUs of the machine the embedded curve describes: the median hardware threads (240) of the same 178
 * 2-socket SPECpower results its watts are the median of (shared/data/specpower/specpower_train.csv). A node's
 * share of that machine's watts is its CPU count over this; a 4-CPU VM gets 4/240 of a 2-socket server.
 */
export const EMBEDDED_CURVE_CPUS = 240;

export type Hull = readonly (readonly [number, number])[];

export interface NodeCurve {
  readonly curve: PowerCurve;
  readonly hull: Hull;
  readonly basis: string;
  /** Neither annotated nor configured: a node model or the agent's report may stand in (see scorer.ts). */
  readonly embedded?: true;
}

/** The embedded curve for a node with `cpus` logical CPUs (allocatable CPU when that is all the node says). */
export function scaledEmbeddedCurve(cpus: number): PowerCurve {
  const k = cpus / EMBEDDED_CURVE_CPUS;
  return Object.freeze(DEFAULT_POWER_CURVE.map((w) => w * k));
}

const PARSED_MAX = 4096;

/** A curve with its lower convex envelope, each envelope computed once per curve object. */
export function hullCache(emptyOff: boolean): (curve: PowerCurve, basis: string) => NodeCurve {
  const hulls = new WeakMap<PowerCurve, Hull>();
  return (curve, basis) => {
    let hull = hulls.get(curve);
    if (!hull) hulls.set(curve, (hull = convexEnvelope(curve, emptyOff)));
    return { curve, hull, basis };
  };
}

export function curveResolver(args: CurveArgs): (node: NodeState) => NodeCurve {
  const emptyOff = args.emptyNodes === 'off';
  const byLabel = new Map(Object.entries(args.byLabelValue).map(([k, c]) => [k, validateCurve(c, `powerCurves.byLabelValue.${k}`)]));
  const configured = args.default ? validateCurve(args.default, 'powerCurves.default') : undefined;
  const parsed = new Map<string, PowerCurve | { error: string }>();
  const scaled = new Map<number, PowerCurve>();
  const withHull = hullCache(emptyOff);
  // Called once per node and curve inputs: the scorer keeps the answer in the node's slot (scorer.ts).
  return (node: NodeState): NodeCurve => {
    const text = node.annotations[ANNOTATIONS.powerCurve];
    let warning = '';
    if (text !== undefined) {
      let hit = parsed.get(text);
      if (!hit) {
        try {
          hit = parseCurve(text, ANNOTATIONS.powerCurve);
        } catch (err) {
          hit = { error: (err as Error).message };
        }
        if (parsed.size >= PARSED_MAX) parsed.clear();
        parsed.set(text, hit);
      }
      if (!('error' in hit)) return withHull(hit, 'curve: annotation');
      warning = ` (ignored invalid annotation: ${hit.error})`;
    }
    const value = node.labels[args.nodeLabel];
    const labelled = value !== undefined ? byLabel.get(value) : undefined;
    if (labelled) return withHull(labelled, `curve: label ${args.nodeLabel}=${value}${warning}`);
    if (configured) return withHull(configured, `curve: configured default${warning}`);
    const cpus = node.allocatableMilliCPU / 1000;
    let curve = scaled.get(cpus);
    if (!curve) scaled.set(cpus, (curve = scaledEmbeddedCurve(cpus)));
    return { ...withHull(curve, `curve: embedded SPECpower median scaled to ${cpus} CPUs${warning}`), embedded: true };
  };
}
