// The one contract between a source of per-cgroup counters and the rest of the agent. Power meters and attribution
// (later) consume readings through this interface only, so a collector is free to be eBPF, cgroupfs or a fake.
import type { CollectorStatus, CounterName, CounterStatus, Counters } from '../../shared/wire/agent.js';

export interface CgroupSample {
  id: string;
  /** Relative to the hierarchy root; null when the cgroup was created and removed between two walks. */
  path: string | null;
  /** No longer in cgroupfs: the counts are final and this is the last reading that carries them. */
  exited: boolean;
  /** Cumulative since the collector started tracking this cgroup; counts of tasks directly in it (not children). */
  counters: Counters;
}

export interface CollectorReading {
  /** Monotonic clock (process.hrtime) at the reading, nanoseconds. */
  monotonicNs: number;
  cgroups: CgroupSample[];
  /** Cgroups the collector had no room for since it started. */
  dropped: number;
}

export interface Collector {
  readonly name: CollectorStatus['name'];
  /** Which backend/variant runs and, when not the preferred one, why. */
  status(): CollectorStatus;
  /** Which counters this collector fills in, and how. */
  counters(): Record<CounterName, CounterStatus>;
  read(): Promise<CollectorReading>;
  /** Releases kernel resources (detaches programs); safe to call twice. */
  close(): Promise<void>;
}

export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}
