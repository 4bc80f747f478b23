// Two readings in, one node report out: cumulative counters as read, rates over the interval between them, cgroups
// grouped into pods. Pure: the caller supplies the readings, the collector's status and the pod lookup.
import type { CgroupOwner, CgroupReport, Counters, NodeReport, PodReport } from '../../shared/wire/agent.js';
import type { CgroupSample, CollectorReading } from '../collector/types.js';
import { parseCgroupPath } from '../resource/cgroup-path.js';
import type { PodMeta } from '../resource/pods.js';

export interface ReportContext {
  node: string;
  at: Date;
  layout: NodeReport['layout'];
  collector: NodeReport['collector'];
  counters: NodeReport['counters'];
  kubernetes: NodeReport['kubernetes'];
  lookupPod(uid: string): PodMeta | undefined;
  /** Path classification; the monitor passes a cached parseCgroupPath (paths rarely change, parsing is regex work). */
  ownerOf?: (path: string) => CgroupOwner;
}

const rate = (p: number | undefined, c: number, seconds: number): number => (p === undefined || seconds <= 0 || c < p ? 0 : (c - p) / seconds);

/** The previous sample of a cgroup that did not exist then: every counter at 0. */
const NEW_CGROUP: Readonly<Required<Counters>> = Object.freeze({ cpuSeconds: 0, contextSwitches: 0, cycles: 0, instructions: 0, cacheMisses: 0, cpuPressureSomeSeconds: 0 });

/**
 * Per-second rates from two cumulative samples. `prev` null means the cgroup did not exist at the previous reading,
 * so everything it counted happened within the interval; a counter that went back (a reset) gives 0.
 * Each counter by name, not in a loop over key names: a store through a computed key boxed a new number every time,
 * and these run for every cgroup and pod in every interval.
 */
export function ratesBetween(prev: Counters | null, cur: Counters, seconds: number): Counters {
  const p = prev ?? NEW_CGROUP;
  const out = zeroLike(cur);
  out.cpuSeconds = rate(p.cpuSeconds, cur.cpuSeconds, seconds);
  if (cur.contextSwitches !== undefined) out.contextSwitches = rate(p.contextSwitches, cur.contextSwitches, seconds);
  if (cur.cycles !== undefined) out.cycles = rate(p.cycles, cur.cycles, seconds);
  if (cur.instructions !== undefined) out.instructions = rate(p.instructions, cur.instructions, seconds);
  if (cur.cacheMisses !== undefined) out.cacheMisses = rate(p.cacheMisses, cur.cacheMisses, seconds);
  if (cur.cpuPressureSomeSeconds !== undefined) out.cpuPressureSomeSeconds = rate(p.cpuPressureSomeSeconds, cur.cpuPressureSomeSeconds, seconds);
  return out;
}

/**
 * Zeroed counters with `like`'s keys, in the schema's order, for the shapes collectors give (cpu time, and switches
 * from eBPF): made whole by one literal, where a literal that gains its keys later allocates a second backing store,
 * four times per pod per interval. Other shapes start from cpuSeconds and gain the rest as before.
 */
function zeroLike(like: Counters): Counters {
  if (like.cycles !== undefined || like.instructions !== undefined || like.cacheMisses !== undefined || like.cpuPressureSomeSeconds !== undefined) return { cpuSeconds: 0 };
  return like.contextSwitches === undefined ? { cpuSeconds: 0 } : { cpuSeconds: 0, contextSwitches: 0 };
}

/** Adds `add` into `into`, counter by counter (by name, as ratesBetween). */
export function addCounters(into: Counters, add: Counters): void {
  into.cpuSeconds += add.cpuSeconds;
  if (add.contextSwitches !== undefined) into.contextSwitches = (into.contextSwitches ?? 0) + add.contextSwitches;
  if (add.cycles !== undefined) into.cycles = (into.cycles ?? 0) + add.cycles;
  if (add.instructions !== undefined) into.instructions = (into.instructions ?? 0) + add.instructions;
  if (add.cacheMisses !== undefined) into.cacheMisses = (into.cacheMisses ?? 0) + add.cacheMisses;
  if (add.cpuPressureSomeSeconds !== undefined) into.cpuPressureSomeSeconds = (into.cpuPressureSomeSeconds ?? 0) + add.cpuPressureSomeSeconds;
}

function countersById(reading: CollectorReading): Map<string, Counters> {
  const m = new Map<string, Counters>();
  for (const c of reading.cgroups) m.set(c.id, c.counters);
  return m;
}

export function buildReport(prev: CollectorReading | null, cur: CollectorReading, ctx: ReportContext): NodeReport {
  const seconds = prev === null ? 0 : Math.max(0, (cur.monotonicNs - prev.monotonicNs) / 1e9);
  // Collectors list cgroups in the same order from one reading to the next (the eBPF map's, the walk's), so the
  // previous sample is looked for at the same index first; a map of the previous reading is built only when it is
  // not there.
  let before: Map<string, Counters> | null = null;
  const cgroups: CgroupReport[] = [];
  const pods = new Map<string, PodReport>();
  const podList: PodReport[] = [];
  for (let i = 0; i < cur.cgroups.length; i++) {
    const c = cur.cgroups[i] as CgroupSample;
    const owner = c.path === null ? { kind: 'group' as const, name: `cgroup-id:${c.id}` } : (ctx.ownerOf ?? parseCgroupPath)(c.path);
    // Before the first interval there is nothing to compare with: rates are 0 rather than since-boot averages.
    let rates: Counters;
    if (prev === null) rates = ratesBetween(c.counters, c.counters, 0);
    else {
      const same = prev.cgroups[i];
      if (same !== undefined && same.id === c.id) rates = ratesBetween(same.counters, c.counters, seconds);
      else {
        before ??= countersById(prev);
        rates = ratesBetween(before.get(c.id) ?? null, c.counters, seconds);
      }
    }
    cgroups.push({ id: c.id, path: c.path, exited: c.exited, owner, cumulative: c.counters, rates });
    if (owner.kind !== 'pod' || owner.podUid === undefined) continue;
    let pod = pods.get(owner.podUid);
    if (pod === undefined) {
      const meta = ctx.lookupPod(owner.podUid);
      pod = {
        uid: owner.podUid,
        namespace: meta?.namespace ?? null,
        name: meta?.name ?? null,
        qos: meta?.qos ?? owner.qos ?? null,
        workload: meta?.workload ?? null,
        // Sized by its first container, not an empty literal that grows to 17 slots at the first push.
        containers: owner.containerId === undefined ? [] : [owner.containerId],
        cumulative: zeroLike(c.counters),
        rates: zeroLike(rates),
      };
      pods.set(owner.podUid, pod);
      podList.push(pod);
    }
    if (owner.containerId !== undefined && !pod.containers.includes(owner.containerId)) pod.containers.push(owner.containerId);
    addCounters(pod.cumulative, c.counters);
    addCounters(pod.rates, rates);
  }
  return {
    node: ctx.node,
    at: ctx.at.toISOString(),
    intervalSeconds: seconds,
    layout: ctx.layout,
    collector: ctx.collector,
    counters: ctx.counters,
    droppedCgroups: cur.dropped,
    kubernetes: ctx.kubernetes,
    cgroups,
    pods: podList,
  };
}
