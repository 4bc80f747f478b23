// Node power from layered meters: the first layer that works is the reading; one that throws is reported (log,
// failure count, state in /v1/node) and the next layer answers for the same interval, down to the model, which
// cannot fail. A failed meter is not retried: a meter that flaps would make the series jump between sources.
// GPU meters are additive: their watts are added unless the active layer already measures the whole platform.
import type { Logger } from 'pino';
import type { NodeHardwareReport } from '../../shared/wire/agent.js';
import type { Meter, MeterInput, MeterUnavailable, PowerReading, PowerSource } from './types.js';

export interface MeterState {
  name: string;
  source: PowerSource | null;
  state: 'active' | 'standby' | 'unavailable' | 'failed';
  detail: string | null;
  failures: number;
}

export interface NodePowerSample {
  /** Source of the base layer; GPU zones keep their own source in `zones`. */
  source: PowerSource;
  watts: number;
  /** Base-layer idle: the model curve's idle, or for a measuring meter the lowest watts it has read so far. */
  idleWatts: number;
  /** Additive meters' watts (GPUs), a part of `watts`. */
  additiveWatts: number;
  zones: { zone: string; source: PowerSource; watts: number; inTotal: boolean }[];
  model: PowerReading['model'] | null;
  /** Per-process weights within the additive (GPU) zones, for attribution. */
  processes: { zone: string; pid: number; weight: number }[];
}

export class NodePower {
  private active = 0;
  private readonly failed = new Map<string, { detail: string; failures: number }>();
  private minWatts = Number.POSITIVE_INFINITY;

  /** `layers` best first and ending with the model; `additive` are GPU meters. */
  constructor(
    private readonly layers: readonly Meter[],
    private readonly additive: readonly Meter[],
    private readonly unavailable: readonly MeterUnavailable[],
    private readonly log?: Logger,
    /** The description the model layer's curve was chosen by, reported in /v1/node. */
    readonly hardware?: NodeHardwareReport,
  ) {
    if (layers.length === 0) throw new Error('NodePower needs at least the model layer');
  }

  async read(input: MeterInput): Promise<NodePowerSample> {
    let base: PowerReading | null = null;
    while (base === null) {
      const meter = this.layers[this.active] as Meter;
      try {
        base = await meter.read(input);
      } catch (err) {
        if (this.active === this.layers.length - 1) throw err;
        this.fail(meter, (err as Error).message);
        this.active += 1;
        // A measuring meter's idle minimum does not carry over to another source.
        this.minWatts = Number.POSITIVE_INFINITY;
      }
    }
    const activeMeter = this.layers[this.active] as Meter;
    const zones: NodePowerSample['zones'] = base.zones.map((z) => ({ ...z, source: base.source }));
    let additiveWatts = 0;
    const processes: NodePowerSample['processes'] = [];
    if (!activeMeter.platform) {
      for (const m of this.additive) {
        if (this.failed.has(m.name)) continue;
        try {
          const r = await m.read(input);
          additiveWatts += r.watts;
          for (const z of r.zones) zones.push({ ...z, source: r.source });
          processes.push(...(r.processes ?? []));
        } catch (err) {
          // A GPU meter has no lower layer: its watts leave the node total, and that is reported, not hidden.
          this.fail(m, (err as Error).message);
        }
      }
    }
    let idleWatts: number;
    if (base.idleWatts !== undefined) idleWatts = Math.min(base.idleWatts, base.watts);
    else {
      this.minWatts = Math.min(this.minWatts, base.watts);
      idleWatts = this.minWatts;
    }
    return { source: base.source, watts: base.watts + additiveWatts, idleWatts, additiveWatts, zones, model: base.model ?? null, processes };
  }

  private fail(meter: Meter, detail: string): void {
    const prev = this.failed.get(meter.name);
    this.failed.set(meter.name, { detail, failures: (prev?.failures ?? 0) + 1 });
    this.log?.error({ meter: meter.name, detail }, 'power meter failed; the next layer takes over');
  }

  states(): MeterState[] {
    const out: MeterState[] = [];
    this.layers.forEach((m, i) => {
      const f = this.failed.get(m.name);
      const state = f ? 'failed' : i === this.active ? 'active' : 'standby';
      out.push({ name: m.name, source: m.source, state, detail: f?.detail ?? null, failures: f?.failures ?? 0 });
    });
    for (const m of this.additive) {
      const f = this.failed.get(m.name);
      out.push({ name: m.name, source: m.source, state: f ? 'failed' : 'active', detail: f?.detail ?? null, failures: f?.failures ?? 0 });
    }
    for (const u of this.unavailable) out.push({ name: u.name, source: null, state: 'unavailable', detail: u.reason, failures: 0 });
    return out;
  }

  async close(): Promise<void> {
    for (const m of [...this.layers, ...this.additive]) await m.close();
  }
}
