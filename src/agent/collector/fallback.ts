// The collector that needs nothing but cgroupfs and /proc: CPU time from the kernel's own cgroup accounting (v2
// cpu.stat or v1 cpuacct.usage), CPU pressure from PSI where present, and context switches summed over /proc threads.
// Used when eBPF cannot load; exact for CPU time, approximate for switches (threads that exit between two reads
// take their last switches with them).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CollectorStatus, CounterName, CounterStatus, Counters } from '../../shared/wire/agent.js';
import { WS_ERR_AGENT_NO_CGROUPS } from '../../shared/errors.js';
import {
  type CgroupLayout,
  procCgroupPath,
  readCpuacctUsageNs,
  readCpuPressureSomeNs,
  readCpuStatUsageNs,
  walkCgroups,
} from '../resource/cgroupfs.js';
import { type CgroupSample, type Collector, type CollectorReading, monotonicNs } from './types.js';

export interface FallbackOptions {
  layout: CgroupLayout;
  source: 'auto' | 'v2' | 'v1';
  procSwitches: boolean;
  /** /proc, or a fake tree in tests. */
  procRoot?: string;
  /** Why the agent is not on eBPF, and what was tried. */
  reason: string | null;
  attempts?: CollectorStatus['attempts'];
}

interface Seen {
  hierNs: number;
  parentId: string | null;
  path: string;
  selfNs: number;
}

export class FallbackCollector implements Collector {
  readonly name = 'fallback' as const;
  private readonly mount: string;
  private readonly hierarchy: 'v2' | 'v1';
  private readonly procRoot: string;
  private readonly seen = new Map<string, Seen>();
  // Hierarchical usage of children that vanished, per surviving parent: subtracting it keeps the parent's own
  // (self) time from jumping by the child's whole lifetime, while still crediting it with what the child used
  // after our last look (the "ran and vanished" tail, which only the parent's counter still holds).
  private readonly absorbedNs = new Map<string, number>();
  private readonly threads = new Map<number, { cgroupId: string; switches: number }>();
  private readonly switchesByCgroup = new Map<string, number>();

  constructor(private readonly opts: FallbackOptions) {
    const { layout } = opts;
    const wantV2 = opts.source === 'v2' || (opts.source === 'auto' && layout.v2Path !== undefined);
    if (wantV2 && layout.v2Path !== undefined) {
      this.mount = layout.v2Path;
      this.hierarchy = 'v2';
    } else if (layout.cpuacctPath !== undefined) {
      this.mount = layout.cpuacctPath;
      this.hierarchy = 'v1';
    } else if (layout.v2Path !== undefined) {
      this.mount = layout.v2Path;
      this.hierarchy = 'v2';
    } else {
      throw new WS_ERR_AGENT_NO_CGROUPS(`layout ${layout.name} has neither a v2 nor a cpuacct hierarchy`);
    }
    this.procRoot = opts.procRoot ?? '/proc';
  }

  status(): CollectorStatus {
    return {
      name: 'fallback',
      variant: this.hierarchy === 'v2' ? `cgroupfs v2 cpu.stat (${this.mount})` : `cgroupfs v1 cpuacct.usage (${this.mount})`,
      reason: this.opts.reason,
      attempts: [...(this.opts.attempts ?? [])],
    };
  }

  counters(): Record<CounterName, CounterStatus> {
    const noPmu = { live: false, detail: 'the fallback collector has no per-cgroup PMU access' };
    return {
      cpu_time: { live: true, detail: this.hierarchy === 'v2' ? 'cpu.stat usage_usec' : 'cpuacct.usage' },
      context_switches: this.opts.procSwitches
        ? { live: true, detail: '/proc/<pid>/task/<tid>/status, live threads only' }
        : { live: false, detail: 'disabled (fallback.procSwitches=false)' },
      cycles: noPmu,
      instructions: noPmu,
      cache_misses: noPmu,
      cpu_pressure:
        this.hierarchy === 'v2' ? { live: true, detail: 'cpu.pressure some total (includes descendants)' } : { live: false, detail: 'PSI needs cgroup v2' },
    };
  }

  async read(): Promise<CollectorReading> {
    const at = monotonicNs();
    const nodes = walkCgroups(this.mount);
    const hier = new Map<string, number>();
    for (const n of nodes) {
      const v = this.hierarchy === 'v2' ? readCpuStatUsageNs(n.dir) : readCpuacctUsageNs(n.dir);
      if (v !== null) hier.set(n.id, v);
    }
    const live = nodes.filter((n) => hier.has(n.id));

    const out: CgroupSample[] = [];
    for (const [id, prev] of this.seen) {
      if (hier.has(id)) continue;
      if (prev.parentId !== null && hier.has(prev.parentId)) {
        this.absorbedNs.set(prev.parentId, (this.absorbedNs.get(prev.parentId) ?? 0) + prev.hierNs);
      }
      const counters: Counters = { cpuSeconds: prev.selfNs / 1e9 };
      const sw = this.switchesByCgroup.get(id);
      if (sw !== undefined) counters.contextSwitches = sw;
      out.push({ id, path: prev.path, exited: true, counters });
      this.seen.delete(id);
      this.absorbedNs.delete(id);
      this.switchesByCgroup.delete(id);
    }

    const childSum = new Map<string, number>();
    for (const n of live) {
      if (n.parentId !== null && hier.has(n.parentId)) childSum.set(n.parentId, (childSum.get(n.parentId) ?? 0) + (hier.get(n.id) as number));
    }
    if (this.opts.procSwitches) this.countSwitches(new Map(live.map((n) => [n.path, n.id])));

    for (const n of live) {
      const h = hier.get(n.id) as number;
      const computed = h - (childSum.get(n.id) ?? 0) - (this.absorbedNs.get(n.id) ?? 0);
      // Children are read before their parent, so skew only ever makes `computed` a little small; never go back.
      const selfNs = Math.max(this.seen.get(n.id)?.selfNs ?? 0, computed);
      this.seen.set(n.id, { hierNs: h, parentId: n.parentId, path: n.path, selfNs });
      const counters: Counters = { cpuSeconds: selfNs / 1e9 };
      if (this.opts.procSwitches) counters.contextSwitches = this.switchesByCgroup.get(n.id) ?? 0;
      if (this.hierarchy === 'v2') {
        const p = readCpuPressureSomeNs(n.dir);
        if (p !== null) counters.cpuPressureSomeSeconds = p / 1e9;
      }
      out.push({ id: n.id, path: n.path, exited: false, counters });
    }
    return { monotonicNs: at, cgroups: out, dropped: 0 };
  }

  private countSwitches(idByPath: Map<string, string>): void {
    const alive = new Set<number>();
    let pids: string[];
    try {
      pids = readdirSync(this.procRoot).filter((d) => /^\d+$/.test(d));
    } catch {
      return;
    }
    for (const pid of pids) {
      let cgroupId: string | undefined;
      let tids: string[];
      try {
        const path = procCgroupPath(readFileSync(join(this.procRoot, pid, 'cgroup'), 'utf8'), this.hierarchy === 'v2' ? 'v2' : 'cpuacct');
        cgroupId = path === null ? undefined : idByPath.get(path);
        tids = readdirSync(join(this.procRoot, pid, 'task'));
      } catch {
        continue; // the process exited while we looked
      }
      if (cgroupId === undefined) continue;
      for (const t of tids) {
        const n = switchesOf(join(this.procRoot, pid, 'task', t, 'status'));
        if (n === null) continue;
        const tid = Number(t);
        alive.add(tid);
        const prev = this.threads.get(tid);
        // A thread seen for the first time brings its whole history; one seen before, only what it added since.
        const delta = prev === undefined ? n : Math.max(0, n - prev.switches);
        this.threads.set(tid, { cgroupId, switches: n });
        this.switchesByCgroup.set(cgroupId, (this.switchesByCgroup.get(cgroupId) ?? 0) + delta);
      }
    }
    for (const tid of this.threads.keys()) if (!alive.has(tid)) this.threads.delete(tid);
  }

  async close(): Promise<void> {}
}

function switchesOf(statusFile: string): number | null {
  let text: string;
  try {
    text = readFileSync(statusFile, 'utf8');
  } catch {
    return null;
  }
  const v = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(text);
  const nv = /^nonvoluntary_ctxt_switches:\s+(\d+)$/m.exec(text);
  return v && nv ? Number(v[1]) + Number(nv[1]) : null;
}
