// The one contract between a source of node watts and the rest of the agent. A meter is read once per interval and
// answers with watts per zone; counters (RAPL, hwmon energy) keep their previous value and handle wrap-around where
// they are read, so nothing above a meter knows about microjoules.
export const POWER_SOURCES = ['redfish', 'acpi', 'rapl', 'hwmon', 'nvidia', 'model'] as const;
export type PowerSource = (typeof POWER_SOURCES)[number];

export interface ZoneWatts {
  zone: string;
  watts: number;
  /** Counted in the reading's total (false for sub-zones such as RAPL core inside package). */
  inTotal: boolean;
}

export interface PowerReading {
  source: PowerSource;
  /** Total node watts of this meter: the sum of the zones marked inTotal. */
  watts: number;
  zones: ZoneWatts[];
  /** Set by the model layer: idle watts of the node's curve; meters leave it to the caller. */
  idleWatts?: number;
  /** Set by the model layer. */
  model?: { id: string; errorPercent: number | null; detail: string };
  /** GPU meters: each process's weight (summed SM %) within a GPU zone over the interval. */
  processes?: { zone: string; pid: number; weight: number }[];
}

export interface MeterInput {
  /** Monotonic clock at the reading, nanoseconds. */
  monotonicNs: number;
  /** Busy fraction of all CPUs over the last interval, 0..1 (from /proc/stat). */
  cpuUtilisation: number;
  /**
   * The node's counter rates over the interval, named as counters models take them (counter-rates.ts): busy CPU
   * always, PMU counters only when live. Absent before the first interval. A function, summed over every cgroup
   * only when a meter calls it (a counters model from the model server): the curve model never needs them.
   */
  counterRates?: () => Readonly<Record<string, number>>;
}

export interface Meter {
  readonly name: string;
  readonly source: PowerSource;
  /** Measures the whole node (wall or platform power), so additive meters such as GPUs are already in it. */
  readonly platform: boolean;
  /** Throws when the meter stopped working; the caller then moves to the next layer. */
  read(input: MeterInput): Promise<PowerReading>;
  close(): Promise<void>;
}

/** A meter that could not be opened, and why (reported in /v1/node). */
export interface MeterUnavailable {
  name: string;
  reason: string;
}

export type MeterOpen = { meter: Meter } | { unavailable: MeterUnavailable };

export function sumTotal(zones: readonly ZoneWatts[]): number {
  let w = 0;
  for (const z of zones) if (z.inTotal) w += z.watts;
  return w;
}

/**
 * Joules between two readings of a cumulative energy counter. `maxRange` is where the counter wraps to 0 (RAPL's
 * max_energy_range_uj); without one, a counter that went back was reset, so everything since counts from zero.
 */
export function energyDelta(prev: number, cur: number, maxRange: number | null): number {
  if (cur >= prev) return cur - prev;
  if (maxRange !== null && maxRange > prev) return maxRange - prev + cur;
  return cur;
}

/** "permission denied" with the reason it happens on these files, or the bare message. */
export function explainReadError(path: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return `${path}: permission denied (energy counters are root-only since Linux 5.10, CVE-2020-8694: run the agent as root or with CAP_DAC_READ_SEARCH)`;
  }
  if (e.code === 'ENOENT') return `${path}: missing`;
  return `${path}: ${e.message ?? String(err)}`;
}
