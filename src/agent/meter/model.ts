// The last layer: node watts estimated from the node's measured CPU utilisation on a power curve (the CPU-time curve
// model), which never fails. The curve comes, in order, from the configuration, from the model server's fallback
// chain for the node's fingerprint when one is configured (ModelServerCurve, in the background: the agent starts on
// the next source and switches when an answer arrives), from the shipped curve model (models/curve.onnx) fed the
// node's hardware description, or from the embedded SPECpower median curve scaled to the node's thread count.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { DEFAULT_POWER_CURVE, type PowerCurve, powerAt, validateCurve } from '../../model/curve.js';
import { fingerprint } from '../../model/features.js';
import { loadCurveProblem, monotoneCurve } from '../../model/load-curve.js';
import { fetchModel } from '../../shared/model-server-client.js';
import type { NodeHardware } from '../../shared/wire/model.js';
import type { ShippedCurve } from './curve-child.js';
import { openCountersChild, type CountersEvaluator, type OpenCountersFn } from './counters-child.js';
import type { Meter, MeterInput, PowerReading } from './types.js';

/** Median thread count of the 178 servers DEFAULT_POWER_CURVE is the median of (shared/data/specpower, same filter). */
export const DEFAULT_CURVE_THREADS = 240;

export interface NodeCurve {
  curve: PowerCurve;
  /** e.g. "shipped:curve" or "embedded:specpower-median"; the `model` label of the metrics. */
  id: string;
  /** The model's known error (grouped cross-validation MAPE), null when unknown. */
  errorPercent: number | null;
  /** Hardware fingerprint the curve was chosen for, and what was tried before. */
  detail: string;
}

export type ShippedCurveFn = (modelsDir: string, hw: NodeHardware) => Promise<ShippedCurve>;

/** The shipped model scored in a child process (see curve-child.ts); needs the compiled curve-child.js beside us. */
export const shippedCurveInChild: ShippedCurveFn = async (modelsDir, hw) => {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'curve-child.js');
  if (!existsSync(script)) throw new Error(`${script} not built`);
  const { stdout } = await promisify(execFile)(process.execPath, [script, modelsDir, JSON.stringify(hw)], { timeout: 60_000 });
  return JSON.parse(stdout) as ShippedCurve;
};

/** Pure: the embedded curve scaled by threads, for a node the shipped model cannot describe. */
export function scaledDefaultCurve(hw: NodeHardware): PowerCurve {
  const k = hw.threads / DEFAULT_CURVE_THREADS;
  return validateCurve(DEFAULT_POWER_CURVE.map((w) => w * k), 'embedded curve');
}

export async function chooseNodeCurve(
  hw: NodeHardware,
  opts: { configured?: readonly number[] | undefined; modelsDir: string; log?: Logger; shipped?: ShippedCurveFn },
): Promise<NodeCurve> {
  const fp = fingerprint(hw);
  if (opts.configured !== undefined) {
    return { curve: validateCurve(opts.configured, 'power.model.curve'), id: 'config', errorPercent: null, detail: `configured curve (fingerprint ${fp})` };
  }
  const tried: string[] = [];
  try {
    const r = await (opts.shipped ?? shippedCurveInChild)(opts.modelsDir, hw);
    const curve = monotoneCurve(r.values, `shipped model ${r.key}`);
    if (!((curve[curve.length - 1] as number) > 0)) throw new Error(`shipped model ${r.key} predicts 0 W at full load`);
    return { curve, id: `shipped:${r.key}`, errorPercent: r.mapePercent, detail: `${r.fingerprint} model for fingerprint ${fp}` };
  } catch (err) {
    tried.push((err as Error).message);
    opts.log?.warn({ err }, 'shipped curve model unusable; using the embedded curve scaled to this node');
  }
  return {
    curve: scaledDefaultCurve(hw),
    id: 'embedded:specpower-median',
    errorPercent: null,
    detail: `SPECpower median curve x ${hw.threads}/${DEFAULT_CURVE_THREADS} threads for fingerprint ${fp}; ${tried.join('; ')}`,
  };
}

/** Counter rates the agent can feed a counters model (counter-rates.ts). */
export const AGENT_COUNTER_FEATURES: readonly string[] = ['cpu_seconds_per_s', 'context_switches_per_s', 'cpu_cycles_per_s', 'cpu_instructions_per_s', 'cache_miss_per_s'];

/** A counters model for node power, used in the intervals where every counter it takes is live. */
export interface NodeCountersModel {
  id: string;
  errorPercent: number | null;
  detail: string;
  evaluator: CountersEvaluator;
  /** The model at zero activity: the node's idle watts while it is in use. */
  idleWatts: number;
}

export class ModelMeter implements Meter {
  readonly name = 'model';
  readonly source = 'model' as const;
  // The curves describe servers as SPECpower measured them, without accelerators: measured GPU watts add to them.
  readonly platform = false;
  private counters: NodeCountersModel | null = null;
  /** Why the counters model is not in use (it failed), shown until another one is set. */
  private countersNote = '';

  constructor(
    private node: NodeCurve,
    private readonly log?: Logger,
  ) {}

  /** A counters model takes over node power in the intervals where its counters are live; null: curve only. */
  useCounters(model: NodeCountersModel | null): void {
    if (this.counters !== null && this.counters !== model) this.counters.evaluator.close();
    this.counters = model;
    this.countersNote = '';
  }

  get countersModel(): NodeCountersModel | null {
    return this.counters;
  }

  private refresher: ModelServerCurve | null = null;

  get curve(): NodeCurve {
    return this.node;
  }

  /** Keeps the curve current from the model server until close. */
  follow(refresher: ModelServerCurve): void {
    this.refresher = refresher;
    refresher.start();
  }

  /** A better curve arrived (or the one in use went away): readings from the next interval on use it. */
  use(node: NodeCurve): void {
    this.node = node;
  }

  async read(input: MeterInput): Promise<PowerReading> {
    let note = this.countersNote;
    const c = this.counters;
    if (c !== null) {
      const rates = input.counterRates?.();
      const missing = c.evaluator.featureNames.filter((f) => typeof rates?.[f] !== 'number');
      if (missing.length === 0) {
        try {
          const watts = Math.max(0, await c.evaluator.predict(c.evaluator.featureNames.map((f) => rates?.[f] as number)));
          if (!Number.isFinite(watts)) throw new Error(`counters model ${c.id} predicted ${watts} W`);
          return {
            source: 'model',
            watts,
            zones: [{ zone: 'node', watts, inTotal: true }],
            idleWatts: c.idleWatts,
            model: { id: c.id, errorPercent: c.errorPercent, detail: `counters model (${c.evaluator.featureNames.join(', ')}): ${c.detail}` },
          };
        } catch (err) {
          // A dead model does not come back by itself: the next refresh of the model server may bring a new one.
          this.useCounters(null);
          this.countersNote = `counters model ${c.id} failed (${(err as Error).message}): back on the CPU-time curve`;
          this.log?.error({ model: c.id, err: (err as Error).message }, 'counters model failed; node power back on the CPU-time curve');
          note = this.countersNote;
        }
      } else note = `counters model ${c.id} not used this interval: ${missing.join(', ')} not live`;
    }
    const watts = powerAt(this.node.curve, input.cpuUtilisation);
    return {
      source: 'model',
      watts,
      zones: [{ zone: 'node', watts, inTotal: true }],
      idleWatts: this.node.curve[0] as number,
      // Said on every reading: node power here is busy CPU priced on a curve, not a counters model.
      model: { id: this.node.id, errorPercent: this.node.errorPercent, detail: `CPU-time curve model: ${this.node.detail}${note ? `; ${note}` : ''}` },
    };
  }

  async close(): Promise<void> {
    this.refresher?.stop();
    this.useCounters(null);
  }
}

export type FileCurveFn = (onnx: Uint8Array, hw: NodeHardware) => Promise<number[]>;

/** A model file the model server sent, as this node's load curve, scored in the child process (see curve-child.ts). */
export const fileCurveInChild: FileCurveFn = async (onnx, hw) => {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'curve-child.js');
  if (!existsSync(script)) throw new Error(`${script} not built`);
  const dir = mkdtempSync(join(tmpdir(), 'wattsched-model-'));
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, onnx);
    const { stdout } = await promisify(execFile)(process.execPath, [script, '--onnx', file, JSON.stringify(hw)], { timeout: 60_000 });
    return (JSON.parse(stdout) as { values: number[] }).values;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(e.stderr?.trim() || e.message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

export interface ModelServerCurveOptions {
  url: string;
  /** The node's fingerprint as the model server keys it (push.fingerprint, else from the hardware). */
  fingerprint: string;
  hardware: NodeHardware;
  timeoutMs: number;
  /** Ask again after this long for a newer version. */
  refreshMs: number;
  /** After a failure, wait this long, doubled per consecutive failure up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
  /** The meter whose curve is replaced, and what it ran on before the model server answered. */
  meter: ModelMeter;
  fallback: NodeCurve;
  evaluate?: FileCurveFn;
  /** How a counters model is started for per-interval scoring (default: a long-lived child process). */
  openCounters?: OpenCountersFn;
  log?: Logger | undefined;
}

/**
 * The model server's answer for this node, kept current in the background: never awaited by a reading. While the
 * server is down, slow or answers with something unusable, the meter keeps the curve it has (the server's last
 * good one, else the fallback) and its detail says why.
 */
export class ModelServerCurve {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  /** The model in use from the server, by fingerprint@version, so an unchanged answer costs no download. */
  private served: { key: string; curve: NodeCurve } | null = null;
  /** Outcomes since start. */
  readonly stats = { ok: 0, failed: 0, unusable: 0 };

  constructor(private readonly opts: ModelServerCurveOptions) {}

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.refresh().then((next) => this.schedule(next)), ms);
    this.timer.unref();
  }

  /** One lookup; returns the wait before the next. */
  async refresh(): Promise<number> {
    const o = this.opts;
    try {
      const { resolution: r } = await fetchModel(o.url, o.fingerprint, 'meta', { timeoutMs: o.timeoutMs });
      const key = `${r.fingerprint}@v${r.version ?? 0}`;
      const problem = loadCurveProblem({ task: r.task, featureNames: r.featureNames, name: key });
      const countersId = `model-server:${key}`;
      if (problem !== null && r.task === 'counters' && r.featureNames.every((f) => AGENT_COUNTER_FEATURES.includes(f))) {
        // A counters model over counters this agent reads (PMU ones among them): node power from the counters in
        // every interval where they are live, the CPU-time curve in the others.
        if (o.meter.countersModel?.id !== countersId) {
          const { onnx } = await fetchModel(o.url, r.fingerprint, 'onnx', { timeoutMs: o.timeoutMs, ...(r.version === null ? {} : { version: r.version }) });
          const evaluator = await (o.openCounters ?? openCountersChild)(onnx as Uint8Array);
          let idleWatts: number;
          try {
            idleWatts = Math.max(0, await evaluator.predict(evaluator.featureNames.map(() => 0)));
          } catch (err) {
            evaluator.close();
            throw err;
          }
          // Stopped while the child started (the agent is shutting down): nothing may outlive the meter.
          if (this.stopped) {
            evaluator.close();
            return o.refreshMs;
          }
          o.meter.useCounters({ id: countersId, errorPercent: r.heldOutMapePercent, detail: `model server ${r.match} match for fingerprint ${o.fingerprint}`, evaluator, idleWatts });
          o.log?.info({ model: countersId, match: r.match, features: r.featureNames }, 'node power from a counters model where its counters are live');
        }
        this.stats.ok++;
        this.failures = 0;
        if (this.served) this.served = null;
        o.meter.use(o.fallback);
        return o.refreshMs;
      }
      if (problem !== null) {
        this.stats.unusable++;
        this.failures = 0;
        this.served = null;
        o.meter.useCounters(null);
        // A counters model over counters this agent does not read: the CPU-time curve prices node power.
        this.fallBack(`model server offers ${problem}; node power stays on the CPU-time curve`);
        return o.refreshMs;
      }
      if (this.served?.key !== key) {
        const { onnx } = await fetchModel(o.url, r.fingerprint, 'onnx', { timeoutMs: o.timeoutMs, ...(r.version === null ? {} : { version: r.version }) });
        const values = await (o.evaluate ?? fileCurveInChild)(onnx as Uint8Array, o.hardware);
        const curve = monotoneCurve(values, `model server ${key}`);
        if (!((curve[curve.length - 1] as number) > 0)) throw new Error(`model ${key} predicts 0 W at full load`);
        this.served = {
          key,
          curve: { curve, id: `model-server:${key}`, errorPercent: r.heldOutMapePercent, detail: `model server ${r.match} match for fingerprint ${o.fingerprint}` },
        };
        o.log?.info({ model: this.served.curve.id, match: r.match, curve }, 'node power model from the model server');
      }
      this.stats.ok++;
      this.failures = 0;
      o.meter.useCounters(null);
      o.meter.use(this.served.curve);
      return o.refreshMs;
    } catch (err) {
      this.stats.failed++;
      this.failures++;
      const wait = Math.min(o.retryMaxMs, o.retryMinMs * 2 ** (this.failures - 1));
      const why = (err as Error).message;
      if (this.failures === 1) o.log?.warn({ err: why, retryInMs: wait }, 'model server lookup failed; node power stays on the next model');
      const note = `model server: ${why} (retry in ${Math.round(wait / 1000)} s)`;
      if (this.served) o.meter.use({ ...this.served.curve, detail: `${this.served.curve.detail}; last refresh failed: ${note}` });
      else this.fallBack(note);
      return wait;
    }
  }

  private fallBack(note: string): void {
    const f = this.opts.fallback;
    this.opts.meter.use({ ...f, detail: `${f.detail}; ${note}` });
  }
}
