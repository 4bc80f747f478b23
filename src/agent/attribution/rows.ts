// Who a cgroup's energy is charged to, with a bounded set of names: pod containers by pod and container name,
// every other cgroup rolled into a few system rows named by their top-level slice, and the rest as one `other`.
// A create/remove loop of non-pod cgroups therefore makes no new series at all.
import type { CgroupOwner, NodeReport } from '../../shared/wire/agent.js';
import type { PodMeta } from '../resource/pods.js';

/** Top-level cgroups that keep their own row; anything else that is not a pod is `other`. */
export const SYSTEM_ROWS = new Set(['root', 'system.slice', 'user.slice', 'machine.slice', 'init.scope', 'kubepods.slice', 'kubepods', 'kubelet.slice', 'kube.slice', 'system']);

export type RowIdentity =
  | { kind: 'container'; podUid: string; container: string }
  | { kind: 'system'; name: string };

export interface IntervalRow {
  key: string;
  identity: RowIdentity;
  /** The pod's UID for a container row, null for a system row (what attribute() weighs idle by). */
  pod: string | null;
  cpuSeconds: number;
  contextSwitches: number;
}

export function systemRowOf(path: string | null): string {
  if (path === null) return 'other';
  const top = path.split('/').find((s) => s.length > 0);
  if (top === undefined) return 'root';
  return SYSTEM_ROWS.has(top) ? top : 'other';
}

/** The row a cgroup's work is charged to. */
export function identityOf(owner: CgroupOwner, path: string | null, lookupPod: (uid: string) => PodMeta | undefined): RowIdentity {
  if (owner.kind === 'pod' && owner.podUid !== undefined) {
    const cid = owner.containerId;
    const name = cid === undefined ? 'pod' : (lookupPod(owner.podUid)?.containerNames.get(cid) ?? 'unknown');
    return { kind: 'container', podUid: owner.podUid, container: name };
  }
  return { kind: 'system', name: systemRowOf(path) };
}

/**
 * Each GPU zone's watts split by its processes' weights (SM %), summed per row. A process whose row is unknown
 * (it exited, or its cgroup cannot be read) keeps its share out of the result: it stays in the `gpu` row.
 */
export function gpuWattsByRow(
  zones: readonly { zone: string; watts: number }[],
  processes: readonly { zone: string; pid: number; weight: number }[],
  rowOfPid: (pid: number) => string | null,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const z of zones) {
    const procs = processes.filter((p) => p.zone === z.zone && p.weight > 0);
    let total = 0;
    for (const p of procs) total += p.weight;
    if (!(total > 0)) continue;
    for (const p of procs) {
      const key = rowOfPid(p.pid);
      if (key !== null) out.set(key, (out.get(key) ?? 0) + (z.watts * p.weight) / total);
    }
  }
  return out;
}

export const rowKey = (id: RowIdentity): string => (id.kind === 'container' ? `c:${id.podUid}/${id.container}` : `s:${id.name}`);

/**
 * The interval's CPU seconds and switches per row, from the report's per-second rates (a cgroup first seen in this
 * interval has all of its count in it; the first report of a process has none, so a restart never counts twice).
 */
export function intervalRows(report: NodeReport, lookupPod: (uid: string) => PodMeta | undefined): IntervalRow[] {
  const s = report.intervalSeconds;
  const rows = new Map<string, IntervalRow>();
  for (const c of report.cgroups) {
    const { identity, key } = namedRow(c.owner, c.path, lookupPod);
    let row = rows.get(key);
    if (row === undefined) {
      row = { key, identity, pod: identity.kind === 'container' ? identity.podUid : null, cpuSeconds: 0, contextSwitches: 0 };
      rows.set(key, row);
    }
    row.cpuSeconds += c.rates.cpuSeconds * s;
    row.contextSwitches += (c.rates.contextSwitches ?? 0) * s;
  }
  return [...rows.values()];
}

/**
 * A cgroup's row, remembered per owner object: the monitor hands the same owner for a path every interval, so the
 * identity and key are built once per cgroup instead of once per interval (a pod's container name can appear
 * later, when the pod watch sees the pod; a changed name makes a new entry).
 */
const named = new WeakMap<CgroupOwner, { identity: RowIdentity; key: string }>();

function namedRow(owner: CgroupOwner, path: string | null, lookupPod: (uid: string) => PodMeta | undefined): { identity: RowIdentity; key: string } {
  const hit = named.get(owner);
  if (hit !== undefined) {
    const id = hit.identity;
    if (id.kind === 'system') return hit;
    const cid = owner.containerId;
    const name = cid === undefined ? 'pod' : (lookupPod(id.podUid)?.containerNames.get(cid) ?? 'unknown');
    if (name === id.container) return hit;
  }
  const identity = identityOf(owner, path, lookupPod);
  const entry = { identity, key: rowKey(identity) };
  named.set(owner, entry);
  return entry;
}
