// Owns the reading loop: one collector reading per interval, turned into an immutable node report that the HTTP
// side serves as-is. The exporter never triggers a reading, so scrapes are cheap and always consistent.
import type { Logger } from 'pino';
import type { CgroupOwner, NodeReport } from '../../shared/wire/agent.js';
import { parseCgroupPath } from '../resource/cgroup-path.js';
import type { Collector, CollectorReading } from '../collector/types.js';
import type { CgroupLayout } from '../resource/cgroupfs.js';
import type { PodDirectory } from '../resource/pods.js';
import type { EnergyAccounting } from './energy.js';
import { buildReport } from './report.js';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface MonitorOptions {
  collector: Collector;
  pods: PodDirectory;
  layout: CgroupLayout;
  node: string;
  clock?: Clock;
  log?: Logger;
  /** Node power, attribution and energy totals; absent: counters only. */
  energy?: EnergyAccounting;
  /** Called with each reading's duration, for the read-duration histogram. */
  onRead?: (seconds: number) => void;
  /** Called with each published report (the model-server push builds its windows from them). */
  onReport?: (report: NodeReport) => void;
}

export class Monitor {
  private previous: CollectorReading | null = null;
  private report: NodeReport | null = null;
  private lastReadAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly clock: Clock;
  /**
   * Owners by path, kept across readings (one map, not one per reading) and pruned to the reading's paths when it
   * holds more than those: the cache never outgrows the live set for longer than one reading.
   */
  private readonly owners = new Map<string, CgroupOwner>();
  private named = 0;
  // Made once, not per reading: optimised code that called a per-reading closure was thrown away ("weak objects")
  // at each full GC and compiled again, which cost more CPU on V8's background threads than the reading itself.
  private readonly ownerOf = (path: string): CgroupOwner => {
    this.named += 1;
    let o = this.owners.get(path);
    if (o === undefined) {
      o = parseCgroupPath(path);
      this.owners.set(path, o);
    }
    return o;
  };
  private readonly lookupPod = (uid: string) => this.opts.pods.lookup(uid);
  powerErrors = 0;

  constructor(private readonly opts: MonitorOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  get collector(): Collector {
    return this.opts.collector;
  }

  get energy(): EnergyAccounting | undefined {
    return this.opts.energy;
  }

  /** Takes one reading and publishes the report built from it and the reading before. */
  async tick(): Promise<NodeReport> {
    const t0 = performance.now();
    const reading = await this.opts.collector.read();
    const seconds = (performance.now() - t0) / 1000;
    this.opts.onRead?.(seconds);
    const owners = this.owners;
    this.named = 0;
    let report = buildReport(this.previous, reading, {
      ownerOf: this.ownerOf,
      node: this.opts.node,
      at: this.clock.now(),
      layout: this.opts.layout.name,
      collector: this.opts.collector.status(),
      counters: this.opts.collector.counters(),
      kubernetes: this.opts.pods.status(),
      lookupPod: this.lookupPod,
    });
    if (this.opts.energy !== undefined) {
      try {
        report = await this.opts.energy.account(report, this.lookupPod, reading.monotonicNs);
      } catch (err) {
        // Counters are still worth serving; the missing `power` section says that this interval has no watts.
        this.powerErrors += 1;
        this.opts.log?.error({ err }, 'power accounting failed for this interval');
      }
    }
    if (owners.size > this.named) {
      const live = new Set<string>();
      for (const c of reading.cgroups) if (c.path !== null) live.add(c.path);
      for (const path of owners.keys()) if (!live.has(path)) owners.delete(path);
    }
    this.previous = reading;
    this.report = Object.freeze(report);
    this.lastReadAt = performance.now();
    this.opts.onReport?.(this.report);
    return this.report;
  }

  latest(): NodeReport | null {
    return this.report;
  }

  /** Milliseconds since the last successful reading, null before the first. */
  sinceLastReadMs(): number | null {
    return this.lastReadAt === null ? null : performance.now() - this.lastReadAt;
  }

  /** Reads every `intervalMs`, scheduling from the end of each read so a slow read never piles up. */
  start(intervalMs: number): void {
    this.running = true;
    const loop = async (): Promise<void> => {
      try {
        await this.tick();
      } catch (err) {
        this.opts.log?.error({ err }, 'collector read failed');
      }
      if (this.running) {
        this.timer = setTimeout(() => void loop(), intervalMs);
      }
    };
    void loop();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
