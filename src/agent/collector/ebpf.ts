// The eBPF collector: the kernel program charges every sched_switch slice to the switched-out task's cgroup v2 id;
// here we read that map, name ids by walking the v2 hierarchy, and free the entries of cgroups that are gone once
// their final counts have been reported.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CollectorStatus, CounterName, CounterStatus, Counters } from '../../shared/wire/agent.js';
import { walkCgroups } from '../resource/cgroupfs.js';
import { type NativeAddon, type NativeSession, type ProgramVariant, VALUE_FIELDS } from './addon.js';
import { type CgroupSample, type Collector, type CollectorReading, monotonicNs } from './types.js';

/** Best first: BTF-typed tracepoint, raw tracepoint, then the classic tracepoint every eBPF kernel has. */
export const VARIANTS: readonly ProgramVariant[] = ['tp_btf', 'raw_tp', 'tp'];

const VARIANT_NAMES: Record<ProgramVariant, string> = {
  tp_btf: 'tp_btf/sched_switch (BPF_PROG_TYPE_TRACING)',
  raw_tp: 'raw_tp/sched_switch',
  tp: 'tp/sched/sched_switch',
};

export interface EbpfOptions {
  addon: NativeAddon;
  /** Mount point of the unified hierarchy, whose ids bpf_get_current_cgroup_id() returns. */
  v2Path: string;
  maxCgroups: number;
  pmuCounters: string[];
  /** Per-CPU flushes per second (see ebpf.flushHz); default 10. */
  flushHz?: number;
  /** Removal checks at most this often (default LIVE_CHECK_EVERY_MS); tests use 0. */
  liveCheckMs?: number;
  objectPath?: string | undefined;
  pmuStandIn?: boolean;
  variants?: readonly ProgramVariant[];
}

const F_CPU = VALUE_FIELDS.indexOf('cpu_ns');
const F_SW = VALUE_FIELDS.indexOf('switches');
const F_CYC = VALUE_FIELDS.indexOf('cycles');
const F_INS = VALUE_FIELDS.indexOf('instructions');
const F_MISS = VALUE_FIELDS.indexOf('cache_misses');

function countersOf(info: ReturnType<NativeSession['info']>): Record<CounterName, CounterStatus> {
  const pmu = (name: 'cycles' | 'instructions' | 'cache_misses'): CounterStatus => {
    const reason = info.pmu[name];
    if (reason !== null) return { live: false, detail: reason };
    return { live: true, detail: info.pmuStandIn ? 'software cpu-clock stand-in (test mode), ns' : 'perf-event array read at each switch' };
  };
  return {
    cpu_time: { live: true, detail: "growth of each task's se.sum_exec_runtime since it was last charged (the clock cpu.stat uses)" },
    context_switches: { live: true, detail: 'sched_switch count (switched-out task)' },
    cycles: pmu('cycles'),
    instructions: pmu('instructions'),
    cache_misses: pmu('cache_misses'),
    cpu_pressure: { live: false, detail: 'not measured by the eBPF program' },
  };
}

/** Classic tracepoints attach through tracefs; mount it if the kernel has it but nobody mounted it yet. */
export function ensureTracefs(): string | null {
  if (existsSync('/sys/kernel/tracing/events') || existsSync('/sys/kernel/debug/tracing/events')) return null;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing'], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `tracefs is not mounted and mounting it failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

/**
 * How often the cgroups in the map are checked for removal when no unknown id asks for a walk: one stat of each
 * idle one's directory (its inode must still be its id). Removals need not be noticed sooner: their final counts wait
 * in the map until then. Walking the whole tree for this instead (a readdir and a stat per cgroup, every interface
 * file a Dirent) was the collector's largest cost at 200 busy cgroups.
 */
export const LIVE_CHECK_EVERY_MS = 10_000;

export class EbpfCollector implements Collector {
  readonly name = 'ebpf' as const;
  private readonly paths = new Map<string, string>();
  private live = new Set<string>();
  /** Ids the last walk did not find (removed before they were named): no reason to walk again for them. */
  private unnamed = new Set<string>();
  private lastWalkNs = 0;
  /** Ids seen gone in the previous reading: freed after this reading has reported them once more. */
  private pendingFree: string[] = [];
  private closed = false;
  /** What loaded never changes after open: asked of the addon once, not at every reading and report. */
  private readonly info: ReturnType<NativeSession['info']>;
  private readonly counterStatus: Record<CounterName, CounterStatus>;
  private statusFor: { batched: boolean | null; status: CollectorStatus } | null = null;
  /** The previous map read, to tell which cgroups ran since (see read()). */
  private prevIds: BigUint64Array = new BigUint64Array(0);
  private prevValues: Float64Array = new Float64Array(0);
  private prevIdStrings: string[] = [];

  private constructor(
    private readonly session: NativeSession,
    private readonly v2Path: string,
    private readonly attempts: CollectorStatus['attempts'],
    private readonly batchedRef: { batched: boolean | null },
    private readonly liveCheckMs: number,
  ) {
    this.info = session.info();
    this.counterStatus = countersOf(this.info);
  }

  /** Tries each program variant in order; the result names what loaded, or every reason nothing did. */
  static open(opts: EbpfOptions): { collector: EbpfCollector } | { attempts: CollectorStatus['attempts'] } {
    const attempts: CollectorStatus['attempts'] = [];
    const tracefs = ensureTracefs();
    for (const variant of opts.variants ?? VARIANTS) {
      if (variant === 'tp' && tracefs !== null) {
        attempts.push({ name: `ebpf ${VARIANT_NAMES[variant]}`, error: tracefs });
        continue;
      }
      const base = {
        ...(opts.objectPath !== undefined ? { objectPath: opts.objectPath } : {}),
        maxEntries: opts.maxCgroups,
        pmu: opts.pmuCounters,
        pmuStandIn: opts.pmuStandIn ?? false,
      };
      // With the flush hooks first; a kernel that rejects them (perf_event programs, the exit tracepoint) still
      // gets the switch program, and the reason is kept.
      const flushHz = opts.flushHz ?? 10;
      const tries = flushHz > 0 ? [{ exitHook: true, flushHz }, { exitHook: false, flushHz: 0 }] : [{ exitHook: true, flushHz: 0 }, { exitHook: false, flushHz: 0 }];
      for (const hooks of tries) {
        try {
          const session = new opts.addon.Session(variant, { ...base, ...hooks });
          return { collector: new EbpfCollector(session, opts.v2Path, attempts, { batched: null }, opts.liveCheckMs ?? LIVE_CHECK_EVERY_MS) };
        } catch (err) {
          const what = hooks.exitHook ? `ebpf ${VARIANT_NAMES[variant]} with exit/flush hooks` : `ebpf ${VARIANT_NAMES[variant]}`;
          attempts.push({ name: what, error: (err as Error).message.trim() });
        }
      }
    }
    return { attempts };
  }

  status(): CollectorStatus {
    const batched = this.batchedRef.batched;
    if (this.statusFor?.batched !== batched) this.statusFor = { batched, status: this.describe() };
    return this.statusFor.status;
  }

  private describe(): CollectorStatus {
    const info = this.info;
    const parts = [VARIANT_NAMES[info.variant]];
    parts.push(info.exitHook === null ? 'exit flush' : `no exit flush (${info.exitHook})`);
    parts.push(info.flush === null ? `${info.flushHz} Hz flush` : `no periodic flush (${info.flush})`);
    if (this.batchedRef.batched !== null) parts.push(this.batchedRef.batched ? 'batched map reads' : 'per-key map reads');
    return { name: 'ebpf', variant: parts.join(', '), reason: null, attempts: [...this.attempts] };
  }

  counters(): Record<CounterName, CounterStatus> {
    return this.counterStatus;
  }

  async read(): Promise<CollectorReading> {
    const at = monotonicNs();
    const { ids, values, batched } = this.session.read();
    this.batchedRef.batched = batched;
    // The map lists its entries in the same order from one read to the next: an id at the same place as before
    // keeps its string (a BigInt to string conversion per cgroup per read otherwise).
    const idStrings: string[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) idStrings[i] = i < this.prevIds.length && ids[i] === this.prevIds[i] ? (this.prevIdStrings[i] as string) : (ids[i] as bigint).toString();
    // Walk or check after the map read: a cgroup missing then was removed before, so its entry cannot still grow
    // except for a dying task's last slice, which the one-reading grace before freeing catches. Walk only when an
    // id has no name yet; otherwise check the named ones for removal every liveCheckMs.
    if (idStrings.some((id) => !this.paths.has(id) && !this.unnamed.has(id))) {
      const nodes = walkCgroups(this.v2Path);
      this.live = new Set(nodes.map((n) => n.id));
      for (const n of nodes) this.paths.set(n.id, n.path);
      this.unnamed = new Set(idStrings.filter((id) => !this.live.has(id)));
      this.lastWalkNs = at;
    } else if (at - this.lastWalkNs >= this.liveCheckMs * 1e6) {
      // A named cgroup whose CPU time grew since the previous read had a task in it then, and a cgroup with a task
      // cannot be removed: it is live for this check, and once removed it stops growing, so the next check stats
      // it. Removal is then noticed at most one check period and one interval late, and busy cgroups (every one in
      // the benchmark) cost no stat at all: at 200 pods the stats and their Stats objects were a fifth of what the
      // collector allocated.
      const live = new Set<string>();
      for (let i = 0; i < idStrings.length; i++) {
        const id = idStrings[i] as string;
        if (this.ranSincePrevious(ids, values, i) ? this.paths.has(id) : this.stillThere(id)) live.add(id);
      }
      this.live = live;
      this.lastWalkNs = at;
    }
    this.prevIds = ids;
    this.prevIdStrings = idStrings;
    this.prevValues = values;
    const toFree = this.pendingFree;
    this.pendingFree = [];
    const out: CgroupSample[] = [];
    const n = VALUE_FIELDS.length;
    const pmu = this.info.pmu;
    for (let i = 0; i < idStrings.length; i++) {
      const id = idStrings[i] as string;
      const exited = !this.live.has(id);
      const o = i * n;
      const counters: Counters = { cpuSeconds: (values[o + F_CPU] as number) / 1e9, contextSwitches: values[o + F_SW] as number };
      if (pmu.cycles === null) counters.cycles = values[o + F_CYC] as number;
      if (pmu.instructions === null) counters.instructions = values[o + F_INS] as number;
      if (pmu.cache_misses === null) counters.cacheMisses = values[o + F_MISS] as number;
      out.push({ id, path: this.paths.get(id) ?? null, exited, counters });
      if (exited && !toFree.includes(id)) this.pendingFree.push(id);
    }
    if (toFree.length > 0) {
      this.session.remove(BigUint64Array.from(toFree.map((s) => BigInt(s))));
      for (const id of toFree) {
        this.paths.delete(id);
        this.unnamed.delete(id);
      }
    }
    // Names of cgroups that are gone, or never ran (so never entered the map), are dropped at each walk or check.
    if (this.lastWalkNs === at) for (const id of this.paths.keys()) if (!this.live.has(id) && !this.pendingFree.includes(id)) this.paths.delete(id);
    return { monotonicNs: at, cgroups: out, dropped: this.session.dropped() };
  }

  /** Whether entry `i` of this read is the same cgroup at the same place in the previous read, with more CPU time. */
  private ranSincePrevious(ids: BigUint64Array, values: Float64Array, i: number): boolean {
    const o = i * VALUE_FIELDS.length + F_CPU;
    return i < this.prevIds.length && ids[i] === this.prevIds[i] && (values[o] as number) > (this.prevValues[o] as number);
  }

  /** The cgroup's directory is still there and is still the same cgroup (ids are not reused, paths can be). */
  private stillThere(id: string): boolean {
    const path = this.paths.get(id);
    if (path === undefined) return false;
    // Ids below 2^53 (all in practice: a 32-bit inode number plus a wrap count above it) compare exactly as numbers,
    // without a BigInt per field of a BigIntStats for each of 200 cgroups at every check.
    const n = Number(id);
    if (n > Number.MAX_SAFE_INTEGER) return statSync(join(this.v2Path, path), { bigint: true, throwIfNoEntry: false })?.ino.toString() === id;
    return statSync(join(this.v2Path, path), { throwIfNoEntry: false })?.ino === n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.session.destroy();
  }
}
