// The closed loop: marginal watts = P_node(u + d) − P_node(u), with u the node's CPU load as its agent measured it
// (requested CPU where the node has no agent) and d the pod's predicted demand (its workload's history, else the
// cold-start chain). P_node is the node's curve (the chain in curves.ts; node models from models.ts, each model
// evaluated for all nodes waiting on it in one batch, in the background) and the formula is the power-curve scorer's:
// the lower convex envelope's step mixed with the curve's (CURVE_WEIGHT), so what `wattsched sim` measured of that
// formula holds here.
import { Gauge, type Registry } from 'prom-client';
import { ANNOTATIONS, METRICS } from '../../shared/names.js';
import { DEFAULT_POWER_CURVE, powerAt } from '../../model/curve.js';
import type { NodeState } from '../nodes/state.js';
import type { PodDemand } from '../protocol/pod.js';
import type { ScoreBatch, Scorer, Skip } from '../scoring/scorer.js';
import { convexEnvelope, marginalFromParts, startOf, type Args as CurveArgs, type Start } from '../scorers/power-curve/index.js';
import { predictDemand, type DemandSource } from '../profiles/demand.js';
import type { ProfileStore } from '../profiles/store.js';
import type { NodeTelemetry, TelemetryState, TelemetryStore } from '../telemetry/node-telemetry.js';
import type { PredictionLedger } from '../telemetry/predictions.js';
import { curveResolver, hullCache, type NodeCurve } from './curves.js';
import type { Lookup, NodeModels } from './models.js';
import { totalsCounter } from '../../shared/totals-counter.js';

export const NAME = 'live';

export type Policy = 'energy' | 'balanced' | 'off';

export function parsePolicy(text: string | undefined): { policy: Policy; warning?: string } {
  if (text === undefined) return { policy: 'energy' };
  const v = text.trim().toLowerCase();
  if (v === 'energy' || v === 'balanced' || v === 'off') return { policy: v };
  return { policy: 'energy', warning: `ignored ${ANNOTATIONS.policy}=${JSON.stringify(text.slice(0, 40))}: not energy, balanced or off` };
}

export interface LiveScorerOptions {
  curves: CurveArgs;
  telemetry: TelemetryStore;
  profiles: ProfileStore;
  /** Where predictions for real pods are kept until their agent measures them. */
  predictions?: PredictionLedger;
  /** Node power models by the hardware fingerprint agents report; without it, nodes not annotated or configured use the embedded curve. */
  models?: NodeModels;
  now?: () => number;
}

export interface LiveScorer extends Scorer {
  /** Counts since start: nodes given a neutral score for stale telemetry, and predictions by demand source. */
  readonly stats: { staleNodeScores: number; bySource: Record<DemandSource, number> };
  registerMetrics(registry: Registry): void;
}

/** Middle of the finite values: a stale node scores like the typical candidate, neither preferred nor avoided. */
function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const m = values.length >> 1;
  return values.length % 2 ? (values[m] as number) : ((values[m - 1] as number) + (values[m] as number)) / 2;
}

/** What the scorer derived from one agent report. */
interface ReportSlot {
  /** CPU requested on the node when the report was first used. */
  readonly base: number;
  calibrated: NodeCurve | null | undefined;
}

/** Per position of the last candidate list: what the fast path reads instead of the node and its slot. */
interface ListColumns {
  readonly nodes: readonly NodeState[];
  readonly names: readonly string[];
  /** The report the row was derived from; undefined where the row must be derived afresh each call. */
  readonly t: (NodeTelemetry | undefined)[];
  /** The report's age in whole seconds when the row's basis was written. */
  readonly age: Float64Array;
  readonly curve: (NodeCurve | undefined)[];
  readonly basis: string[];
  readonly u: Float64Array;
  readonly alloc: Float64Array;
  readonly envFrom: Float64Array;
  readonly curveFrom: Float64Array;
}

/** What the scorer derived from one node: its curve, its latest report, and the last basis and start point. */
interface NodeSlot {
  /** The curve's inputs: the slot holds while the node brings these same objects and allocatable CPU. */
  readonly labels: NodeState['labels'];
  readonly annotations: NodeState['annotations'];
  readonly alloc: number;
  readonly curve: NodeCurve;
  readonly embedded: boolean;
  t: NodeTelemetry | undefined;
  report: ReportSlot | undefined;
  /** The report's base (ReportSlot.base), copied so the common path reads one object less. */
  base: number;
  basisCurve: NodeCurve | undefined;
  basisT: NodeTelemetry | undefined;
  basisAge: number;
  basisSince: number;
  basisNote: string;
  basis: string;
  startCurve: NodeCurve | undefined;
  startU: number;
  start: Start | undefined;
  /** The start point before the last: see startFor. */
  priorCurve: NodeCurve | undefined;
  priorU: number;
  prior: Start | undefined;
}

/** Nodes a slot map holds before its older half is dropped: far above any cluster's node count. */
const SLOT_GENERATION = 65_536;

/**
 * Values by node name, bounded without per-read bookkeeping: two generations, the older one dropped whole when the
 * newer fills, and a value read from the older one moved to the newer. Deleted nodes therefore go within two
 * generations' worth of new names, and names that keep coming never go.
 */
class SlotMap<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();

  get(name: string): V | undefined {
    const v = this.current.get(name);
    if (v !== undefined) return v;
    const old = this.previous.get(name);
    if (old !== undefined) this.set(name, old);
    return old;
  }

  set(name: string, v: V): void {
    if (this.current.size >= SLOT_GENERATION && !this.current.has(name)) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(name, v);
  }
}

export function create(opts: LiveScorerOptions): LiveScorer {
  const curveFor = curveResolver(opts.curves);
  const emptyOff = opts.curves.emptyNodes === 'off';
  const embeddedHull = convexEnvelope(DEFAULT_POWER_CURVE, emptyOff);
  const NO_AGENT = 'load: requested CPU (no agent report)';
  // Per report (a report object lives until the node's next poll), so 5,000 reporting nodes cost no curve arrays
  // per call.
  const reports = new WeakMap<NodeTelemetry, ReportSlot>();
  const reportSlot = (t: NodeTelemetry, node: NodeState): ReportSlot => {
    let r = reports.get(t);
    // A report is up to a poll old, and a burst of pods is scheduled faster than that: the CPU requested on the
    // node when the report was first used here is the base that later requests are counted from (see score).
    if (r === undefined) reports.set(t, (r = { base: node.requestedMilliCPU, calibrated: undefined }));
    return r;
  };
  const calibratedFor = (t: NodeTelemetry, r: ReportSlot): NodeCurve | null => {
    if (r.calibrated === undefined) {
      const atU = powerAt(DEFAULT_POWER_CURVE, t.utilisation);
      const k = t.watts !== null && t.watts > 0 && atU > 0 ? t.watts / atU : 0;
      r.calibrated = k > 0 ? { curve: DEFAULT_POWER_CURVE.map((x) => x * k), hull: embeddedHull.map(([x, y]) => [x, y * k] as const), basis: `curve: embedded SPECpower shape calibrated to the agent's ${(t.watts as number).toFixed(1)} W at this load` } : null;
    }
    return r.calibrated;
  };
  const loadText = (t: NodeTelemetry, age: number): string => {
    const power = t.watts !== null ? `, node ${t.watts.toFixed(1)} W from ${t.powerSource}${t.modelId ? ` (model ${t.modelId})` : ''}` : '';
    return `load: measured ${(t.utilisation * 100).toFixed(1)}% (agent, ${age} s old${power})`;
  };
  // A node model stands in for the embedded curve where the node's agent reports its hardware. The lookup is a map
  // read (it queues background work when the fingerprint is new or due); its answer object changes only when a
  // model arrives or a source fails, so the curve, envelope and text are built once per answer, not per request.
  const withModelHull = hullCache(emptyOff);
  const fromLookup = new WeakMap<Lookup, NodeCurve | null>();
  const modelCurveFor = (t: NodeTelemetry): { curve: NodeCurve | null; note: string } => {
    if (!opts.models?.enabled || !t.hardware) return { curve: null, note: '' };
    const l = opts.models.lookup(t.hardware.fingerprint, t.hardware.description);
    let c = fromLookup.get(l);
    if (c === undefined) {
      c = l.model ? withModelHull(l.model.curve, `curve: ${l.model.modelId}, ${l.model.detail}${l.note ? ` (${l.note})` : ''}`) : null;
      fromLookup.set(l, c);
    }
    return { curve: c, note: l.note };
  };
  // Per node name: everything about the node that does not depend on the pod, rebuilt only when its inputs (curve,
  // report, load) change, so a call over 5,000 nodes costs one map read per node for it and builds no basis text
  // and no start point. Keyed by name rather than by NodeState: the filter judges capped nodes as copies with the
  // assumed pods' CPU added, and a cluster watch hands out a new NodeState whenever a pod binds, so a slot per
  // object was rebuilt (curve, start point, basis text, a weak-map entry for the GC to trace) for most capped
  // candidates on every filter call. The same labels and annotations objects and allocatable CPU mean the same
  // curve; anything else is a new slot.
  const slots = new SlotMap<NodeSlot>();
  const slotFor = (node: NodeState): NodeSlot => {
    let s = slots.get(node.name);
    if (s === undefined || s.labels !== node.labels || s.annotations !== node.annotations || s.alloc !== node.allocatableMilliCPU) {
      const curve = curveFor(node);
      s = { labels: node.labels, annotations: node.annotations, alloc: node.allocatableMilliCPU, curve, embedded: curve.embedded === true, t: undefined, report: undefined, base: 0, basisCurve: undefined, basisT: undefined, basisAge: -1, basisSince: -1, basisNote: '', basis: '', startCurve: undefined, startU: NaN, start: undefined, priorCurve: undefined, priorU: NaN, prior: undefined };
      slots.set(node.name, s);
    }
    return s;
  };
  // The basis text is rebuilt only when what it says changes (curve, report, its age in whole seconds, CPU
  // requested since, model note); `t` undefined is a node without an agent report.
  const basisOf = (s: NodeSlot, c: NodeCurve, t: NodeTelemetry | undefined, age: number, since: number, note: string): string => {
    if (s.basisCurve !== c || s.basisT !== t || s.basisAge !== age || s.basisSince !== since || s.basisNote !== note) {
      let text = t === undefined ? NO_AGENT : loadText(t, age);
      if (since !== 0) text = `${text} + ${since}m requested since`;
      if (note) text = `${text}; no node model (${note})`;
      s.basisCurve = c;
      s.basisT = t;
      s.basisAge = age;
      s.basisSince = since;
      s.basisNote = note;
      s.basis = `${c.basis}; ${text}`;
    }
    return s.basis;
  };
  // Two start points per node, the last and the one before: a capped node is judged by the filter with the assumed
  // pods' CPU added and by prioritize without, so its load alternates between two values from one call to the next.
  const startFor = (s: NodeSlot, c: NodeCurve, alloc: number, uMilli: number): Start => {
    if (s.startCurve === c && s.startU === uMilli && s.start !== undefined) return s.start;
    const prior = s.priorCurve === c && s.priorU === uMilli ? s.prior : undefined;
    s.priorCurve = s.startCurve;
    s.priorU = s.startU;
    s.prior = s.start;
    s.startCurve = c;
    s.startU = uMilli;
    s.start = prior ?? startOf(c.curve, c.hull, alloc, uMilli, emptyOff);
    return s.start;
  };
  // Everything the fast path reads, derived afresh for node i and written to the columns; undefined for a node
  // without allocatable CPU. A stale node or one whose curve follows its report (embedded) is never read back.
  const slowPath = (L: ListColumns, i: number, node: NodeState, st: TelemetryState, basis: string[], stale: number[]): NodeCurve | undefined => {
    const alloc = node.allocatableMilliCPU;
    L.t[i] = undefined;
    if (!(alloc > 0)) {
      basis[i] = 'skipped';
      return undefined;
    }
    const slot = slotFor(node);
    let c = slot.curve;
    let uMilli: number;
    if (st.kind === 'fresh') {
      // The CPU requested on the node since the report was first used here (pods bound, or assumed by the
      // filter) is added, so a burst does not pile onto the node that looked cheapest at the last poll. Never
      // subtracted: the filter's view includes assumed pods and prioritize's does not, and a pod gone still shows
      // in the report until the next.
      if (slot.t !== st.t) {
        slot.t = st.t;
        slot.report = reportSlot(st.t, node);
        slot.base = slot.report.base;
      }
      const since = Math.max(0, node.requestedMilliCPU - slot.base);
      uMilli = st.t.utilisation * alloc + since;
      let note = '';
      const age = Math.round(st.ageMs / 1000);
      // No curve of its own, but its agent says what it draws at this load (measured, or the agent's model of its
      // hardware): the embedded shape is scaled so that P(u) matches, which beats guessing from the CPU count.
      // Scaling a curve scales its envelope, so the marginal watts scale by the same factor.
      if (slot.embedded) {
        const m = modelCurveFor(st.t);
        c = m.curve ?? calibratedFor(st.t, slot.report as ReportSlot) ?? c;
        if (!m.curve) note = m.note;
      } else {
        L.t[i] = st.t;
        L.age[i] = age;
      }
      basis[i] = L.basis[i] = basisOf(slot, c, st.t, age, since, note);
    } else {
      uMilli = node.requestedMilliCPU;
      if (st.kind === 'stale') {
        stale.push(i);
        if (slot.embedded) c = modelCurveFor(st.t).curve ?? c;
        basis[i] = `${c.basis}; load: requested CPU; telemetry stale (${(st.ageMs / 1000).toFixed(0)} s old), neutral score`;
      } else basis[i] = basisOf(slot, c, undefined, -1, 0, '');
    }
    const start = startFor(slot, c, alloc, uMilli);
    L.curve[i] = c;
    L.u[i] = uMilli;
    L.alloc[i] = alloc;
    L.envFrom[i] = start.envelope;
    L.curveFrom[i] = start.curve;
    return c;
  };
  // The columns of the last candidate list (kube-scheduler sends the same list while the cluster is unchanged):
  // kept while every position holds the same NodeState.
  let last: ListColumns | undefined;
  const listFor = (nodes: readonly NodeState[]): ListColumns => {
    const n = nodes.length;
    if (last !== undefined && last.nodes.length === n) {
      let i = 0;
      while (i < n && last.nodes[i] === nodes[i]) i++;
      if (i === n) return last;
    }
    return (last = {
      nodes: nodes.slice(),
      names: nodes.map((s) => s.name),
      t: new Array<NodeTelemetry | undefined>(n).fill(undefined),
      age: new Float64Array(n),
      curve: new Array<NodeCurve | undefined>(n).fill(undefined),
      basis: new Array<string>(n).fill(''),
      u: new Float64Array(n),
      alloc: new Float64Array(n),
      envFrom: new Float64Array(n),
      curveFrom: new Float64Array(n),
    });
  };
  const now = opts.now ?? Date.now;
  const stats = { staleNodeScores: 0, bySource: { history: 0, annotation: 0, requests: 0, limits: 0, sibling: 0, 'default-request': 0 } as Record<DemandSource, number> };

  const score = async (pod: PodDemand, nodes: readonly NodeState[]): Promise<ScoreBatch | Skip> => {
    const t = now();
    const { policy, warning: policyWarning } = parsePolicy(pod.annotations?.[ANNOTATIONS.policy]);
    const demand = predictDemand(pod, opts.profiles, t);
    // Counted for pods only: power budgets' bare "group as it is" requests are not predictions.
    if (pod.workload) stats.bySource[demand.source]++;
    const dMilli = demand.cores * 1000;
    const n = nodes.length;
    const marginal = new Float64Array(n);
    const withPod = new Float64Array(n);
    const loadAfter = policy === 'balanced' ? new Float64Array(n) : undefined;
    // The tie-break among the cheapest (scoresFromWatts) packs; only the energy policy asks for packing.
    const loadBefore = policy === 'energy' ? new Float64Array(n) : undefined;
    const basis = new Array<string>(n);
    const skipped = new Map<number, string>();
    const stale: number[] = [];
    const L = listFor(nodes);
    for (let i = 0; i < n; i++) {
      const st = opts.telemetry.state(L.names[i] as string, t);
      let c: NodeCurve;
      let uMilli: number;
      let alloc: number;
      let envFrom: number;
      let curveFrom: number;
      // The common case: the same NodeState as last call, its report unchanged and as old in whole seconds, and a
      // curve of its own: what the last call derived is read back from the columns, touching neither the node nor
      // its slot.
      if (st.kind === 'fresh' && st.t === L.t[i] && Math.round(st.ageMs / 1000) === L.age[i]) {
        c = L.curve[i] as NodeCurve;
        uMilli = L.u[i] as number;
        alloc = L.alloc[i] as number;
        envFrom = L.envFrom[i] as number;
        curveFrom = L.curveFrom[i] as number;
        basis[i] = L.basis[i] as string;
      } else {
        const r = slowPath(L, i, nodes[i] as NodeState, st, basis, stale);
        if (r === undefined) {
          marginal[i] = withPod[i] = NaN;
          if (loadAfter) loadAfter[i] = NaN;
          if (loadBefore) loadBefore[i] = NaN;
          skipped.set(i, 'node reports no allocatable CPU');
          continue;
        }
        c = r;
        uMilli = L.u[i] as number;
        alloc = L.alloc[i] as number;
        envFrom = L.envFrom[i] as number;
        curveFrom = L.curveFrom[i] as number;
      }
      const to = (uMilli + dMilli) / alloc;
      if (loadAfter) loadAfter[i] = to;
      if (loadBefore) loadBefore[i] = uMilli / alloc;
      if (uMilli + dMilli > alloc * (1 + 1e-9) && dMilli > 0) {
        // Past capacity the curve has nothing to say (it ends at 100 %): clamping would price the pod at about 0 W
        // and make the busiest node look free. It is left unestimated (the minimum score); a cap still sees the
        // node at full power.
        marginal[i] = NaN;
        withPod[i] = powerAt(c.curve, 1);
        skipped.set(i, `saturated: load ${(uMilli / 1000).toFixed(2)} + predicted ${demand.cores.toFixed(2)} cores exceeds ${(alloc / 1000).toFixed(2)} allocatable`);
        continue;
      }
      const w = powerAt(c.curve, to);
      marginal[i] = marginalFromParts(envFrom, curveFrom, c.hull, to, w, emptyOff);
      withPod[i] = w;
    }
    if (stale.length > 0) {
      // Fail open when no candidate has a live estimate: every one is stale, saturated or unscorable.
      const isStale = new Set(stale);
      let live = 0;
      for (let i = 0; i < n; i++) if (!isStale.has(i) && Number.isFinite(marginal[i] as number)) live++;
      if (live === 0) return { kind: 'skip', reason: `no live estimate: telemetry is stale on ${stale.length} of ${n} candidates and the rest cannot be scored` };
    }
    stats.staleNodeScores += stale.length;

    let scoreBy: Float64Array | undefined;
    if (policy === 'off') {
      // Neutral: every node the same, so kube-scheduler's own plugins decide.
      scoreBy = new Float64Array(n);
    } else if (stale.length > 0 || policy === 'balanced') {
      scoreBy = Float64Array.from(marginal);
      const isStale = new Set(stale);
      const live: number[] = [];
      for (let i = 0; i < n; i++) if (!isStale.has(i) && Number.isFinite(marginal[i] as number)) live.push(marginal[i] as number);
      const neutral = live.length > 0 ? median(live) : 0;
      for (const i of stale) if (Number.isFinite(marginal[i] as number)) scoreBy[i] = neutral;
      if (policy === 'balanced') {
        // Half the energy ranking (marginal watts relative to the dearest candidate), half spreading (the node's
        // load fraction with the pod, as LeastAllocated would see it).
        let top = 0;
        for (const w of scoreBy) if (w > top) top = w;
        for (let i = 0; i < n; i++) {
          const w = scoreBy[i] as number;
          if (Number.isFinite(w)) scoreBy[i] = 0.5 * (top > 0 ? w / top : 0) + 0.5 * ((loadAfter as Float64Array)[i] as number);
        }
      }
    }
    // Only a real pod (one with a Pod object, hence a workload) is a prediction to check later; power budgets ask
    // about the group as it is with a bare 0m request.
    if (pod.workload && opts.predictions) opts.predictions.record(pod.uid, nodes, marginal, basis);
    const warning = [demand.warning, policyWarning].filter(Boolean).join('; ');
    return {
      kind: 'batch',
      marginalWatts: marginal,
      powerWithPodWatts: withPod,
      basis,
      skipped,
      ...(scoreBy ? { scoreBy } : {}),
      ...(loadBefore ? { loadBefore } : {}),
      demand: { cores: demand.cores, source: demand.source, detail: demand.detail, policy, ...(warning ? { warning } : {}), ...(demand.profile ? { profile: demand.profile } : {}) },
    };
  };

  return {
    name: NAME,
    score,
    stats,
    registerMetrics(registry: Registry): void {
      const m = METRICS.extender;
      totalsCounter({
        name: m.staleTelemetry,
        help: "Node scores made neutral because the node agent's telemetry was stale.",
        registry,
        read: () => stats.staleNodeScores,
      });
      totalsCounter({
        name: m.demandSource,
        help: 'Pod demand predictions by source (history, annotation, requests, limits, sibling, default-request).',
        registry,
        labelName: 'source',
        read: () => stats.bySource,
      });
      new Gauge({
        name: m.telemetryNodes,
        help: 'Nodes with agent telemetry, by state (fresh or stale).',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          const t = now();
          let f = 0;
          for (const x of opts.telemetry.list()) if (opts.telemetry.state(x.node, t).kind === 'fresh') f++;
          this.set({ state: 'fresh' }, f);
          this.set({ state: 'stale' }, opts.telemetry.size() - f);
        },
      });
      new Gauge({
        name: m.profileWorkloads,
        help: 'Workload profiles held by the extender.',
        registers: [registry],
        collect() {
          this.set(opts.profiles.stats().workloads);
        },
      });
    },
  };
}
