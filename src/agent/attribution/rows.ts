// Who a cgroup's energy is charged to, with a bounded set of names: pod containers by pod and container name,
// every other cgroup rolled into a few system rows named by their top-level slice, and the rest as one `other`.
// A create/remove loop of non-pod cgroups therefore makes no new series at all.
import type { NodeReport } from '../../shared/wire/agent.js';
import type { PodMeta } from '../resource/pods.js';

/** Top-level cgroups that keep their own row; anything else that is not a pod is `other`. */
export const SYSTEM_ROWS = new Set(['root', 'system.slice', 'user.slice', 'machine.slice', 'init.scope', 'kubepods.slice', 'kubepods', 'kubelet.slice', 'kube.slice', 'system']);

export type RowIdentity =
  | { kind: 'container'; podUid: string; container: string }
  | { kind: 'system'; name: string };

export interface IntervalRow {
  key: string;
  identity: RowIdentity;
  cpuSeconds: number;
  contextSwitches: number;
}

export function systemRowOf(path: string | null): string {
  if (path === null) return 'other';
  const top = path.split('/').find((s) => s.length > 0);
  if (top === undefined) return 'root';
  return SYSTEM_ROWS.has(top) ? top : 'other';
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
    let identity: RowIdentity;
    if (c.owner.kind === 'pod' && c.owner.podUid !== undefined) {
      const cid = c.owner.containerId;
      const name = cid === undefined ? 'pod' : (lookupPod(c.owner.podUid)?.containerNames.get(cid) ?? 'unknown');
      identity = { kind: 'container', podUid: c.owner.podUid, container: name };
    } else {
      identity = { kind: 'system', name: systemRowOf(c.path) };
    }
    const key = rowKey(identity);
    let row = rows.get(key);
    if (row === undefined) {
      row = { key, identity, cpuSeconds: 0, contextSwitches: 0 };
      rows.set(key, row);
    }
    row.cpuSeconds += c.rates.cpuSeconds * s;
    row.contextSwitches += (c.rates.contextSwitches ?? 0) * s;
  }
  return [...rows.values()];
}
