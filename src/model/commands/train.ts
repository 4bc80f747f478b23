// `wattsched train --task curve|shape|counters --data CSV... [--target COLUMN] --out model.onnx`
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { WS_ERR_USAGE, WS_ERR_MODEL_DATA } from '../../shared/errors.js';
import { MODEL_TASKS, type ModelTask } from '../../shared/wire/model.js';
import { FAMILIES, type Family } from '../families/index.js';
import { loadData, parseFlags, splitList } from './args.js';
import { trainFromTable } from '../pipeline.js';

const USAGE = `usage: wattsched train --task curve|shape|counters --data CSV [--data CSV...] --out model.onnx
  --target COLUMN     counters task: column(s) to predict (repeat or comma-separate for zones);
                      default the first of acpi_platform_watts, platform_watts, power.draw [W], ...
  --features COLS     counters task: feature columns (default: every numeric counter column);
                      shape task: 'points' for idle and 100 % watts only (default adds the hardware description)
  --window-s S        counters task: average counters over the trailing S seconds to match the meter's own
                      averaging (default: 1 for nvidia-smi power.draw [W], else 0); needs a timestamp column
  --phases FILE       phase log (unix_time_s,mode,duty,event) to validate by whole load phases
  --families LIST     any of ${FAMILIES.join(',')} (default all; the best by grouped validation is kept)
  --folds N           outer group folds, where the reported error is measured (default 5)
  --inner-folds N     group folds inside each outer training part that choose family and settings (default 3)
  --max-trees N       largest gbdt size tried (default 600)
  --json              print the training report as JSON`;

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(
    argv,
    {
      task: { type: 'string' },
      data: { type: 'string', multiple: true },
      target: { type: 'string', multiple: true },
      features: { type: 'string', multiple: true },
      phases: { type: 'string' },
      'window-s': { type: 'string' },
      out: { type: 'string', short: 'o' },
      families: { type: 'string', multiple: true },
      folds: { type: 'string' },
      'inner-folds': { type: 'string' },
      'max-trees': { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const task = values.task as ModelTask | undefined;
  if (!task || !MODEL_TASKS.includes(task)) throw new WS_ERR_USAGE(`--task must be one of ${MODEL_TASKS.join(', ')}\n\n${USAGE}`);
  if (!values.out) throw new WS_ERR_USAGE(`--out is required\n\n${USAGE}`);
  const families = splitList(values.families);
  const bad = families.filter((f) => !(FAMILIES as readonly string[]).includes(f));
  if (bad.length > 0) throw new WS_ERR_USAGE(`unknown families ${bad.join(', ')} (have ${FAMILIES.join(', ')})`);
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new WS_ERR_USAGE(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const table = loadData(values.data, positionals, values.phases, USAGE);
  if (task !== 'counters' && values.target) throw new WS_ERR_USAGE('--target applies to the counters task only');
  if (task === 'curve' && values.features) throw new WS_ERR_USAGE('--features does not apply to the curve task');
  if (task === 'shape' && values.features && splitList(values.features).join() !== 'points') throw new WS_ERR_USAGE("--features for the shape task can only be 'points'");
  const window = values['window-s'] === undefined ? undefined : Number(values['window-s']);
  if (window !== undefined && !(Number.isFinite(window) && window >= 0)) throw new WS_ERR_USAGE(`--window-s must be a non-negative number of seconds, got ${values['window-s']}`);
  if (window !== undefined && task !== 'counters') throw new WS_ERR_USAGE('--window-s applies to the counters task only');
  const result = trainFromTable(task, table, {
    ...(window !== undefined ? { windowSeconds: window } : {}),
    targets: splitList(values.target),
    features: splitList(values.features),
    train: {
      ...(families.length > 0 ? { families: families as Family[] } : {}),
      ...(values.folds ? { folds: int('folds', values.folds) as number } : {}),
      ...(values['inner-folds'] ? { innerFolds: int('inner-folds', values['inner-folds']) as number } : {}),
      ...(values['max-trees'] ? { maxTrees: int('max-trees', values['max-trees']) as number } : {}),
    },
  });
  if (result.data.features.length < 10) throw new WS_ERR_MODEL_DATA(table.source, `only ${result.data.features.length} usable rows`);
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, result.onnx);
  const report = {
    out: values.out,
    task,
    family: result.metadata.family,
    rows: result.data.features.length,
    skipped: result.data.skipped,
    validation: result.metadata.validation,
    worst_group: result.train.validation.worst_group,
    candidates: result.metadata.candidates,
  };
  if (values.json) console.log(JSON.stringify(report));
  else {
    console.log(`trained ${task} model (${report.family}) on ${report.rows} rows (${report.skipped} skipped) -> ${values.out}`);
    console.log(`held-out (nested: ${report.validation.split}, ${report.validation.folds} outer folds): MAPE ${report.validation.mapePercent.toFixed(2)} %, RMSE ${report.validation.rmseWatts.toFixed(2)} W`);
    console.log(`candidates (out-of-fold MAPE %): ${Object.entries(report.candidates).map(([k, v]) => `${k}=${v.toFixed(2)}`).join(' ')}`);
  }
}
