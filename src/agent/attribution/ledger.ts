// Totals that only go up: joules, CPU seconds and switches per container, pod, workload, system row and node zone.
// They are accumulated from each interval's increments, never re-summed from live cgroups, so a pod keeps what its
// freed containers did. Finished pods stay for `retentionMs` after they were last seen, then are dropped. The
// whole ledger is written to a checkpoint (temp file + fsync + rename) before its totals are exposed (see
// EnergyAccounting.persist), so no value Prometheus has scraped can come back lower after a restart.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

export interface Totals {
  joules: number;
  cpuSeconds: number;
  contextSwitches: number;
}

export interface PodLabels {
  pod: string;
  namespace: string;
  /** Workload id, "" when unknown (standalone). */
  workload: string;
}

export interface PodEntry extends PodLabels {
  uid: string;
  totals: Totals;
  containers: Map<string, Totals & { watts: number }>;
  watts: number;
  lastSeenMs: number;
}

export interface WorkloadEntry {
  namespace: string;
  workload: string;
  totals: Totals;
  watts: number;
  lastSeenMs: number;
}

export interface ZoneEntry {
  source: string;
  zone: string;
  joules: number;
  watts: number;
}

/** One interval, already attributed: what the ledger adds. */
export interface LedgerInterval {
  atMs: number;
  seconds: number;
  containers: { podUid: string; labels: PodLabels; container: string; watts: number; cpuSeconds: number; contextSwitches: number }[];
  system: { name: string; watts: number; cpuSeconds: number; contextSwitches: number }[];
  zones: { source: string; zone: string; watts: number }[];
  /** The node total the rows were split from, and its base source. */
  node: { source: string; watts: number };
}

const zero = (): Totals => ({ joules: 0, cpuSeconds: 0, contextSwitches: 0 });

function add(t: Totals, joules: number, cpu: number, sw: number): void {
  t.joules += Math.max(0, joules);
  t.cpuSeconds += Math.max(0, cpu);
  t.contextSwitches += Math.max(0, sw);
}

const clearWatts = (e: { watts: number }): void => {
  e.watts = 0;
};
const clearPodWatts = (p: PodEntry): void => {
  p.watts = 0;
  p.containers.forEach(clearWatts);
};

const CHECKPOINT_VERSION = 1;

interface Checkpoint {
  version: number;
  savedAtMs: number;
  pods: { uid: string; pod: string; namespace: string; workload: string; totals: Totals; containers: [string, Totals][]; lastSeenMs: number }[];
  workloads: { namespace: string; workload: string; totals: Totals; lastSeenMs: number }[];
  system: [string, Totals][];
  zones: { source: string; zone: string; joules: number }[];
  nodeJoules: [string, number][];
  droppedSeries: number;
}

export class EnergyLedger {
  readonly pods = new Map<string, PodEntry>();
  readonly workloads = new Map<string, WorkloadEntry>();
  readonly system = new Map<string, Totals & { watts: number }>();
  readonly zones = new Map<string, ZoneEntry>();
  /** Pods refused by the cap (their energy went to the `overflow` system row), counted once each. */
  droppedSeries = 0;
  /** Latest node total, for the gauges that must agree with the rows of the same interval. */
  node: { source: string; watts: number } | null = null;
  /** Node joules by base source (a meter that fails hands on to the next source's series). */
  readonly nodeJoules = new Map<string, number>();
  private readonly refused = new Map<string, number>();

  constructor(private readonly opts: { retentionMs: number; maxPods: number }) {}

  apply(iv: LedgerInterval): void {
    // forEach, not for-of: no iterator result object per entry (hundreds per interval until the JIT removes them).
    this.pods.forEach(clearPodWatts);
    this.workloads.forEach(clearWatts);
    this.system.forEach(clearWatts);
    this.zones.forEach(clearWatts);

    const overflow = { watts: 0, cpu: 0, sw: 0 };
    for (const c of iv.containers) {
      let pod = this.pods.get(c.podUid);
      if (pod === undefined) {
        if (this.pods.size >= this.opts.maxPods) {
          if (!this.refused.has(c.podUid)) this.droppedSeries += 1;
          this.refused.set(c.podUid, iv.atMs);
          overflow.watts += c.watts;
          overflow.cpu += c.cpuSeconds;
          overflow.sw += c.contextSwitches;
          continue;
        }
        pod = { uid: c.podUid, ...c.labels, totals: zero(), containers: new Map(), watts: 0, lastSeenMs: iv.atMs };
        this.pods.set(c.podUid, pod);
      }
      // Names arrive once the pod watch has seen the pod; the totals stay with the UID.
      Object.assign(pod, c.labels);
      pod.lastSeenMs = iv.atMs;
      let ct = pod.containers.get(c.container);
      if (ct === undefined) {
        ct = { ...zero(), watts: 0 };
        pod.containers.set(c.container, ct);
      }
      const j = c.watts * iv.seconds;
      add(ct, j, c.cpuSeconds, c.contextSwitches);
      ct.watts += c.watts;
      add(pod.totals, j, c.cpuSeconds, c.contextSwitches);
      pod.watts += c.watts;
      if (pod.workload !== '') {
        const key = `${pod.namespace}\u0000${pod.workload}`;
        let w = this.workloads.get(key);
        if (w === undefined) {
          w = { namespace: pod.namespace, workload: pod.workload, totals: zero(), watts: 0, lastSeenMs: iv.atMs };
          this.workloads.set(key, w);
        }
        w.lastSeenMs = iv.atMs;
        add(w.totals, j, c.cpuSeconds, c.contextSwitches);
        w.watts += c.watts;
      }
    }
    const sys = [...iv.system];
    if (overflow.watts > 0 || overflow.cpu > 0 || this.system.has('overflow')) sys.push({ name: 'overflow', watts: overflow.watts, cpuSeconds: overflow.cpu, contextSwitches: overflow.sw });
    for (const s of sys) {
      let e = this.system.get(s.name);
      if (e === undefined) {
        e = { ...zero(), watts: 0 };
        this.system.set(s.name, e);
      }
      add(e, s.watts * iv.seconds, s.cpuSeconds, s.contextSwitches);
      e.watts += s.watts;
    }
    for (const z of iv.zones) {
      const key = `${z.source}\u0000${z.zone}`;
      let e = this.zones.get(key);
      if (e === undefined) {
        e = { source: z.source, zone: z.zone, joules: 0, watts: 0 };
        this.zones.set(key, e);
      }
      e.joules += Math.max(0, z.watts * iv.seconds);
      e.watts = z.watts;
    }
    this.node = { ...iv.node };
    this.nodeJoules.set(iv.node.source, (this.nodeJoules.get(iv.node.source) ?? 0) + Math.max(0, iv.node.watts * iv.seconds));
    this.expire(iv.atMs);
  }

  /** |Σ pods + Σ system rows − node| / node, over what is about to be exported. */
  residualRatio(): number {
    if (this.node === null || !(this.node.watts > 0)) return 0;
    let sum = 0;
    for (const p of this.pods.values()) sum += p.watts;
    for (const s of this.system.values()) sum += s.watts;
    return Math.abs(sum - this.node.watts) / this.node.watts;
  }

  private expire(nowMs: number): void {
    const before = nowMs - this.opts.retentionMs;
    // forEach, not for-of over entries: no [key, value] array per entry, every interval.
    this.pods.forEach((p, k) => p.lastSeenMs < before && this.pods.delete(k));
    this.workloads.forEach((w, k) => w.lastSeenMs < before && this.workloads.delete(k));
    this.refused.forEach((t, k) => t < before && this.refused.delete(k));
  }

  toCheckpoint(nowMs: number): Checkpoint {
    return {
      version: CHECKPOINT_VERSION,
      savedAtMs: nowMs,
      pods: [...this.pods.values()].map((p) => ({
        uid: p.uid,
        pod: p.pod,
        namespace: p.namespace,
        workload: p.workload,
        totals: { ...p.totals },
        containers: [...p.containers.entries()].map(([n, t]) => [n, { joules: t.joules, cpuSeconds: t.cpuSeconds, contextSwitches: t.contextSwitches }]),
        lastSeenMs: p.lastSeenMs,
      })),
      workloads: [...this.workloads.values()].map((w) => ({ namespace: w.namespace, workload: w.workload, totals: { ...w.totals }, lastSeenMs: w.lastSeenMs })),
      system: [...this.system.entries()].map(([n, t]) => [n, { joules: t.joules, cpuSeconds: t.cpuSeconds, contextSwitches: t.contextSwitches }]),
      zones: [...this.zones.values()].map((z) => ({ source: z.source, zone: z.zone, joules: z.joules })),
      nodeJoules: [...this.nodeJoules.entries()],
      droppedSeries: this.droppedSeries,
    };
  }

  restore(cp: Checkpoint): void {
    if (cp.version !== CHECKPOINT_VERSION) throw new Error(`checkpoint version ${cp.version}, expected ${CHECKPOINT_VERSION}`);
    for (const p of cp.pods) {
      this.pods.set(p.uid, {
        uid: p.uid,
        pod: p.pod,
        namespace: p.namespace,
        workload: p.workload,
        totals: { ...p.totals },
        containers: new Map(p.containers.map(([n, t]) => [n, { ...t, watts: 0 }])),
        watts: 0,
        lastSeenMs: p.lastSeenMs,
      });
    }
    for (const w of cp.workloads) this.workloads.set(`${w.namespace}\u0000${w.workload}`, { ...w, totals: { ...w.totals }, watts: 0 });
    for (const [n, t] of cp.system) this.system.set(n, { ...t, watts: 0 });
    for (const z of cp.zones) this.zones.set(`${z.source}\u0000${z.zone}`, { ...z, watts: 0 });
    for (const [src, j] of cp.nodeJoules) this.nodeJoules.set(src, j);
    this.droppedSeries = cp.droppedSeries;
  }
}

/** Writes the checkpoint so that a crash at any point leaves either the old file or the new one, never half of one. */
export function writeCheckpoint(path: string, ledger: EnergyLedger, nowMs: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(ledger.toCheckpoint(nowMs)));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Restores from `path`; returns why not when there is no usable checkpoint (first start, or a foreign file). */
export function readCheckpoint(path: string, ledger: EnergyLedger): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no checkpoint yet' : (err as Error).message;
  }
  try {
    ledger.restore(JSON.parse(text) as Checkpoint);
    return null;
  } catch (err) {
    return `${path}: unusable checkpoint (${(err as Error).message})`;
  }
}
