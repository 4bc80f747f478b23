// The last layer: node watts estimated from the node's measured CPU utilisation on a power curve, which never fails.
// The curve comes, in order, from the configuration, from the shipped curve model (models/curve.onnx) fed the
// node's hardware description, or from the embedded SPECpower median curve scaled to the node's thread count.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { DEFAULT_POWER_CURVE, type PowerCurve, powerAt, validateCurve } from '../../model/curve.js';
import { fingerprint } from '../../model/features.js';
import type { NodeHardware } from '../../shared/wire/model.js';
import type { ShippedCurve } from './curve-child.js';
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

/** Pure: what a curve model predicted, made usable: non-negative and never falling with load. */
export function monotoneCurve(values: readonly number[], origin: string): PowerCurve {
  const out: number[] = [];
  for (const v of values) out.push(Math.max(0, v, out.length ? (out[out.length - 1] as number) : 0));
  return validateCurve(out, origin);
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

export class ModelMeter implements Meter {
  readonly name = 'model';
  readonly source = 'model' as const;
  // The curves describe servers as SPECpower measured them, without accelerators: measured GPU watts add to them.
  readonly platform = false;

  constructor(private readonly node: NodeCurve) {}

  async read(input: MeterInput): Promise<PowerReading> {
    const watts = powerAt(this.node.curve, input.cpuUtilisation);
    return {
      source: 'model',
      watts,
      zones: [{ zone: 'node', watts, inTotal: true }],
      idleWatts: this.node.curve[0] as number,
      model: { id: this.node.id, errorPercent: this.node.errorPercent, detail: this.node.detail },
    };
  }

  async close(): Promise<void> {}
}
