// Node reports in, training windows out: consecutive intervals are averaged until they cover `windowSeconds`, and
// a window is only made of intervals whose watts a meter measured. Pure apart from the state it accumulates; the
// pusher feeds it every report the monitor publishes.
import type { NodeReport } from '../../shared/wire/agent.js';
import type { SampleWindow } from '../../shared/wire/model.js';
import { nodeCounterRates } from '../meter/counter-rates.js';

/** Why intervals did not become (part of) a window; each is a label of wattsched_agent_push_intervals_skipped_total. */
export const SKIP_REASONS = ['estimated', 'no_power', 'source_changed', 'gpu_model_unknown'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** One interval's node counters (rates) and watts, or why it cannot be used. */
export function intervalSample(report: NodeReport, gpuModelKnown: boolean): { seconds: number; source: string; watts: number; counters: Record<string, number> } | { skip: SkipReason } | null {
  // The first reading has nothing to compare with: no interval yet, nothing to count.
  if (!(report.intervalSeconds > 0)) return null;
  const p = report.power;
  if (p === undefined) return { skip: 'no_power' };
  if (p.source === 'model') return { skip: 'estimated' };
  if (!gpuModelKnown && p.zones.some((z) => z.source === 'nvidia')) return { skip: 'gpu_model_unknown' };
  const seconds = report.intervalSeconds;
  return { seconds, source: p.source, watts: p.watts, counters: nodeCounterRates(report, p.busyCpuSeconds, seconds) };
}

interface Open {
  endS: number;
  seconds: number;
  intervals: number;
  source: string;
  joules: number;
  /** Σ rate × seconds per counter present in every interval so far. */
  counts: Map<string, number>;
}

export class WindowBuilder {
  private open: Open | null = null;
  readonly skipped = new Map<SkipReason, number>(SKIP_REASONS.map((r) => [r, 0]));

  constructor(
    private readonly windowSeconds: number,
    private readonly gpuModelKnown: boolean,
  ) {}

  /** Adds one interval; returns the window it completes, if any. */
  add(report: NodeReport): SampleWindow | null {
    const s = intervalSample(report, this.gpuModelKnown);
    if (s === null) return null;
    if ('skip' in s) {
      // A window must be one stretch of metered time: whatever was open is abandoned with this interval.
      this.skip(s.skip, 1 + (this.open?.intervals ?? 0));
      this.open = null;
      return null;
    }
    const endS = Date.parse(report.at) / 1000;
    if (this.open !== null && this.open.source !== s.source) {
      // Two meters measure different things (RAPL packages vs the wall): one window never mixes them.
      this.skip('source_changed', this.open.intervals);
      this.open = null;
    }
    if (this.open === null) {
      this.open = { endS, seconds: 0, intervals: 0, source: s.source, joules: 0, counts: new Map(Object.keys(s.counters).map((k) => [k, 0])) };
    }
    const w = this.open;
    w.endS = endS;
    w.seconds += s.seconds;
    w.intervals += 1;
    w.joules += s.watts * s.seconds;
    for (const k of [...w.counts.keys()]) {
      const rate = s.counters[k];
      // A counter that stopped being live mid-window has no full average: leave it out of this window.
      if (rate === undefined) w.counts.delete(k);
      else w.counts.set(k, (w.counts.get(k) as number) + rate * s.seconds);
    }
    if (w.seconds < this.windowSeconds) return null;
    this.open = null;
    const counters: Record<string, number> = {};
    for (const [k, v] of w.counts) counters[k] = v / w.seconds;
    // The span is the measured time (monotonic) ending at the last reading's wall clock: wall stamps taken after
    // each read jitter by the read's duration, which would make the span disagree with the time the means cover.
    return { start: w.endS - w.seconds, end: w.endS, counters, watts: w.joules / w.seconds };
  }

  private skip(reason: SkipReason, n: number): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + n);
  }
}
