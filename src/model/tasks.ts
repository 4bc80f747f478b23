// The three model tasks as data: which CSV columns feed which features, what is predicted, how targets are
// normalised before fitting (z) and the ONNX "head" that turns z back into watts. encode/decode are the TypeScript
// reference of the head, so ONNX output and reference agree by construction and by test.
import type { OnnxFragment } from './families/index.js';
import { CURVE_COLUMNS, CURVE_FEATURES, SHAPE_FEATURES, cpuFamily, curveFeatures, shapeFeatures } from './features.js';
import { num, type CsvTable } from './csv.js';
import type { ModelTask } from '../shared/wire/model.js';
import { WS_ERR_MODEL_DATA } from '../shared/errors.js';

export type Row = Readonly<Record<string, string>>;

export interface TaskSpec {
  task: ModelTask;
  featureNames: readonly string[];
  outputNames: readonly string[];
  /** Outputs that count in MAPE/RMSE: the shape task echoes idle and 100 % from its inputs. */
  scoredOutputs: readonly string[];
  /** CSV columns read to build features. */
  inputColumns: readonly string[];
  rowFeatures(row: Row): number[] | null;
  rowTargets(row: Row): number[] | null;
  /** Watts (output order) → the regressor's target vector z. Null when a row cannot be normalised. */
  encode(watts: readonly number[], features: readonly number[]): number[] | null;
  decode(z: readonly number[], features: readonly number[]): number[];
  /** ONNX nodes from z [N,Kz] and features [N,F] to watts [N,K]. */
  head(z: string, features: string, out: string): OnnxFragment;
}

const gatherCol = (features: string, col: number, out: string): OnnxFragment => ({
  nodes: [{ op: 'Gather', inputs: [features, `${out}_idx`], outputs: [out], attrs: { axis: { kind: 'int', value: 1 } } }],
  initializers: [{ name: `${out}_idx`, type: 'int64', dims: [1], data: [col] }],
});

function merge(...parts: OnnxFragment[]): OnnxFragment {
  return { nodes: parts.flatMap((p) => p.nodes), initializers: parts.flatMap((p) => p.initializers) };
}

function hardwareOf(row: Row): Parameters<typeof curveFeatures>[0] | null {
  const sockets = num(row.sockets);
  const cores = num(row.cores);
  const threads = num(row.threads);
  const memoryGb = num(row.memory_gb);
  const year = num(row.year);
  const nodes = num(row.nodes) ?? 1;
  const cpuMhz = num(row.cpu_mhz);
  const cpuModel = row.cpu_model ?? '';
  if (!sockets || !cores || !threads || !memoryGb || !year || !cpuMhz || cpuModel === '') return null;
  return { cpuModel, sockets, cores, threads, memoryGb, year, nodes, cpuMhz, cpuVendor: row.cpu_vendor };
}

function curveTargets(row: Row): number[] | null {
  const w = CURVE_COLUMNS.map((c) => num(row[c]));
  return w.every((v): v is number => v !== null && v > 0) ? w : null;
}

export const CURVE_TASK: TaskSpec = {
  task: 'curve',
  featureNames: CURVE_FEATURES,
  outputNames: CURVE_COLUMNS,
  scoredOutputs: CURVE_COLUMNS,
  inputColumns: ['cpu_model', 'sockets', 'cores', 'threads', 'memory_gb', 'year', 'nodes', 'cpu_mhz'],
  rowFeatures: (row) => {
    const hw = hardwareOf(row);
    return hw ? curveFeatures(hw) : null;
  },
  rowTargets: curveTargets,
  // Per-node log watts: errors become relative, and multi-node results share one per-node scale.
  encode: (watts, f) => watts.map((w) => Math.log(w / (f[0] as number))),
  decode: (z, f) => z.map((v) => Math.exp(v) * (f[0] as number)),
  head: (z, features, out) =>
    merge(gatherCol(features, 0, 'cv_nodes'), {
      nodes: [
        { op: 'Exp', inputs: [z], outputs: ['cv_per_node'] },
        { op: 'Mul', inputs: ['cv_per_node', 'cv_nodes'], outputs: [out] },
      ],
      initializers: [],
    }),
};

const MIDDLE = CURVE_COLUMNS.slice(1, -1);

/**
 * Shape from two points. With `withHardware` the node's description (the curve task's features) is added: the same
 * idle/peak ratio bends differently on a 2008 Xeon and a 2020 EPYC, and every node that has a spec sheet also has a
 * description. The two-point-only variant serves nodes that have nothing else.
 */
function shapeTask(withHardware: boolean): TaskSpec {
  return {
    task: 'shape',
    featureNames: withHardware ? [...SHAPE_FEATURES, ...CURVE_FEATURES] : SHAPE_FEATURES,
    outputNames: CURVE_COLUMNS,
    scoredOutputs: MIDDLE,
    inputColumns: withHardware ? ['watts_idle', 'watts_100', ...CURVE_TASK.inputColumns] : ['watts_idle', 'watts_100'],
    rowFeatures: (row) => {
      const idle = num(row.watts_idle);
      const peak = num(row.watts_100);
      if (idle === null || peak === null || !(idle > 0 && peak > idle)) return null;
      if (!withHardware) return shapeFeatures(idle, peak);
      const hw = hardwareOf(row);
      return hw ? [...shapeFeatures(idle, peak), ...curveFeatures(hw)] : null;
    },
    rowTargets: curveTargets,
    // Fraction of the idle→peak span reached at each intermediate level.
    encode: (watts, f) => {
      const idle = f[0] as number;
      const span = (f[1] as number) - idle;
      return span > 0 ? watts.slice(1, -1).map((w) => (w - idle) / span) : null;
    },
    decode: (z, f) => {
      const idle = f[0] as number;
      const peak = f[1] as number;
      return [idle, ...z.map((v) => idle + v * (peak - idle)), peak];
    },
    head: (z, features, out) =>
      merge(gatherCol(features, 0, 'sh_idle'), gatherCol(features, 1, 'sh_peak'), {
        nodes: [
          { op: 'Sub', inputs: ['sh_peak', 'sh_idle'], outputs: ['sh_span'] },
          { op: 'Mul', inputs: [z, 'sh_span'], outputs: ['sh_scaled'] },
          { op: 'Add', inputs: ['sh_scaled', 'sh_idle'], outputs: ['sh_mid'] },
          { op: 'Concat', inputs: ['sh_idle', 'sh_mid', 'sh_peak'], outputs: [out], attrs: { axis: { kind: 'int', value: 1 } } },
        ],
        initializers: [],
      }),
  };
}

export const SHAPE_TASK = shapeTask(true);
export const SHAPE_POINTS_TASK = shapeTask(false);

/** Platform/wall power columns tried in order when --target is not given. */
export const DEFAULT_POWER_TARGETS = ['acpi_platform_watts', 'platform_watts', 'wall_watts', 'node_watts', 'power.draw [W]', 'watts'];

/**
 * Averaging period of known meters, used as the default counter window: nvidia-smi's power.draw is a 1 s average
 * (power.draw.instant is not). A meter not listed here is taken as per-sample.
 */
export const METER_AVERAGING_SECONDS: Readonly<Record<string, number>> = { 'power.draw [W]': 1 };

/** Columns never used as counter features: identifiers, time, grouping, and anything that is power itself. */
const NOT_A_COUNTER = /(^|_)(index|timestamp|time_block|phase|group)($|_)|^timestamp|watts|power|joules|temperature|memory\.used|pstate/i;

export function defaultCounterFeatures(table: CsvTable, targets: readonly string[]): string[] {
  return table.columns.filter((c) => {
    if (targets.includes(c) || NOT_A_COUNTER.test(c)) return false;
    const values = table.rows.map((r) => num(r[c]));
    if (values.some((v) => v === null)) return false;
    return new Set(values).size > 1;
  });
}

export function countersTask(featureNames: readonly string[], targets: readonly string[]): TaskSpec {
  if (featureNames.length === 0) throw new WS_ERR_MODEL_DATA('(counters)', 'no counter feature columns');
  if (targets.length === 0) throw new WS_ERR_MODEL_DATA('(counters)', 'no target column');
  return {
    task: 'counters',
    featureNames,
    outputNames: targets,
    scoredOutputs: targets,
    inputColumns: featureNames,
    rowFeatures: (row) => {
      const v = featureNames.map((c) => num(row[c]));
      return v.every((x): x is number => x !== null) ? v : null;
    },
    rowTargets: (row) => {
      const v = targets.map((c) => num(row[c]));
      return v.every((x): x is number => x !== null && x > 0) ? v : null;
    },
    encode: (watts) => [...watts],
    decode: (z) => [...z],
    head: (z, _features, out) => ({ nodes: [{ op: 'Identity', inputs: [z], outputs: [out] }], initializers: [] }),
  };
}

/** Cross-validation group of each row: whole CPU families, whole time blocks or load phases, never single rows. */
export function rowGroups(task: ModelTask, table: CsvTable, rows: readonly Row[], split: 'group' | 'rows' = 'group'): { groups: string[]; by: string } {
  // Row-level folds exist only to compare with baselines measured on a random split; never used to select models.
  if (split === 'rows') return { groups: rows.map((_, i) => `r${(i * 2654435761) % 4294967296}`), by: 'single rows (random split)' };
  if (task !== 'counters') return { groups: rows.map((r) => cpuFamily(r.cpu_model ?? '')), by: 'cpu family (cpu_model with the model number masked)' };
  for (const col of ['group', 'phase', 'time_block']) {
    if (table.columns.includes(col)) return { groups: rows.map((r) => r[col] ?? ''), by: `column ${col}` };
  }
  // No grouping column: contiguous blocks of the series, like the data's own time blocks.
  const blocks = 12;
  return { groups: rows.map((_, i) => `block-${Math.floor((i * blocks) / rows.length)}`), by: `${blocks} contiguous row blocks` };
}

/** Parses nvidia-smi ("2026/11/24 20:08:30.386", UTC) or unix-second timestamps. */
export function rowTime(row: Row): number | null {
  const unix = num(row.timestamp_unix_s);
  if (unix !== null) return unix;
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(row.timestamp ?? '');
  if (!m) return null;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, 0) / 1000 + Number(m[6]);
}

/**
 * Adds a `phase` column from a phase log (lines "unix_time_s,mode,duty,event"): rows inside a run get that run,
 * rows between runs get "after-<previous run>", so each load phase and each transition is one validation group.
 */
export function withPhases(table: CsvTable, phases: CsvTable): CsvTable {
  const runs: { start: number; end: number; label: string }[] = [];
  let open: { start: number; label: string } | null = null;
  for (const p of phases.rows) {
    const t = num(p.c0);
    const event = p.c3 ?? '';
    if (t === null) throw new WS_ERR_MODEL_DATA(phases.source, `bad time ${p.c0}`);
    if (event.startsWith('start')) open = { start: t, label: `${runs.length}:${p.c1}:${p.c2}` };
    else if (event.startsWith('end') && open) {
      runs.push({ start: open.start, end: t, label: open.label });
      open = null;
    }
  }
  if (runs.length === 0) throw new WS_ERR_MODEL_DATA(phases.source, 'no start/end pairs');
  const rows = table.rows.map((r) => {
    const t = rowTime(r);
    if (t === null) throw new WS_ERR_MODEL_DATA(table.source, 'rows need a timestamp to be matched to phases');
    const inside = runs.find((run) => t >= run.start && t <= run.end);
    const before = [...runs].reverse().find((run) => run.end < t);
    return { ...r, phase: inside ? inside.label : `after-${before ? before.label : 'start'}` };
  });
  return { source: table.source, columns: [...table.columns, 'phase'], rows };
}

/**
 * Replaces each feature cell by its mean over the trailing `windowSeconds` (rows in time order). A meter that
 * averages (nvidia-smi's power.draw is a 1 s average) must be compared with counters averaged the same way;
 * duty-cycled loads otherwise alternate 0 %/100 % utilisation from one 100 ms sample to the next.
 */
export function trailingMean(table: CsvTable, columns: readonly string[], windowSeconds: number): CsvTable {
  if (!(windowSeconds > 0)) return table;
  const times = table.rows.map((r) => rowTime(r));
  if (times.some((t) => t === null)) throw new WS_ERR_MODEL_DATA(table.source, 'a counter window needs a timestamp or timestamp_unix_s column');
  const t = times as number[];
  for (let i = 1; i < t.length; i++) if ((t[i] as number) < (t[i - 1] as number)) throw new WS_ERR_MODEL_DATA(table.source, `rows are not in time order at row ${i + 1}`);
  // Sliding sums over numeric cells only, so one empty cell leaves a gap instead of poisoning the window.
  const sums = columns.map(() => 0);
  const counts = columns.map(() => 0);
  const step = (row: Row, sign: 1 | -1): void =>
    columns.forEach((c, j) => {
      const v = num(row[c]);
      if (v === null) return;
      sums[j] = (sums[j] as number) + sign * v;
      counts[j] = (counts[j] as number) + sign;
    });
  let lo = 0;
  const rows = table.rows.map((row, i) => {
    step(row, 1);
    while ((t[i] as number) - (t[lo] as number) >= windowSeconds) step(table.rows[lo++] as Row, -1);
    const out: Record<string, string> = { ...row };
    columns.forEach((c, j) => (out[c] = (counts[j] as number) > 0 ? String((sums[j] as number) / (counts[j] as number)) : ''));
    return out;
  });
  return { ...table, rows };
}
