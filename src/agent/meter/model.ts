// The last layer: node watts estimated from the node's measured CPU utilisation on a power curve, which never fails.
// The curve comes, in order, from the configuration, from the shipped curve model (models/curve.onnx) fed the
// node's hardware description, or from the embedded SPECpower median curve scaled to the node's thread count.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DEFAULT_POWER_CURVE, type PowerCurve, powerAt, validateCurve } from '../../model/curve.js';
import { fingerprint } from '../../model/features.js';
import { OnnxPowerModel, predictCurves } from '../../model/power-model.js';
import type { NodeHardware } from '../../shared/wire/model.js';
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

interface IndexEntry {
  file: string;
  task: string;
  fingerprint: string;
  grouped?: { mapePercent?: number };
}

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

export async function chooseNodeCurve(hw: NodeHardware, opts: { configured?: readonly number[] | undefined; modelsDir: string; log?: Logger }): Promise<NodeCurve> {
  const fp = fingerprint(hw);
  if (opts.configured !== undefined) {
    return { curve: validateCurve(opts.configured, 'power.model.curve'), id: 'config', errorPercent: null, detail: `configured curve (fingerprint ${fp})` };
  }
  const tried: string[] = [];
  try {
    const index = JSON.parse(readFileSync(join(opts.modelsDir, 'index.json'), 'utf8')) as Record<string, IndexEntry>;
    const found = Object.entries(index).find(([, e]) => e.task === 'curve');
    if (found === undefined) throw new Error(`no curve model in ${opts.modelsDir}/index.json`);
    const [key, entry] = found;
    // Scored once at start-up and released: the curve is all the agent needs, and a live session costs memory.
    const model = await OnnxPowerModel.load(join(opts.modelsDir, entry.file));
    try {
      const [values] = await predictCurves(model, [hw]);
      const curve = monotoneCurve(values ?? [], `shipped model ${key}`);
      if (!(curve[curve.length - 1]! > 0)) throw new Error(`shipped model ${key} predicts 0 W at full load`);
      return { curve, id: `shipped:${key}`, errorPercent: entry.grouped?.mapePercent ?? model.metadata.validation.mapePercent, detail: `${entry.fingerprint} model for fingerprint ${fp}` };
    } finally {
      await model.close();
    }
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
  readonly platform = true;

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
