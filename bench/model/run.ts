// Batch inference for 5,000 candidate nodes: one onnxruntime-node session.run over the whole batch vs a plain
// TypeScript loop over the same coefficients/trees, in the same run. Three models: a linear curve (Kepler-style
// coefficients), the shipped gbdt curve model (11 outputs) and the shipped gbdt counters model.
//   npm run build && node dist/bench/model/run.js [--quick]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { readCsv } from '../../src/model/csv.js';
import { trainFromTable } from '../../src/model/pipeline.js';
import { buildOnnx, referencePredict } from '../../src/model/model-file.js';
import { fitRegressor, type Regressor } from '../../src/model/families/index.js';
import { OnnxPowerModel, packRows, predictCurves } from '../../src/model/power-model.js';
import { curveFeatures } from '../../src/model/features.js';
import type { ModelMetadata, NodeHardware } from '../../src/shared/wire/model.js';
import { projectRoot, resultsDir, sharedDataDir } from '../paths.js';

const N = 5000;
const quick = process.argv.includes('--quick');
const RUNS = quick ? 30 : 300;

interface Timing { p50Ms: number; p99Ms: number; meanMs: number }

function time(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function stats(ms: number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number;
  return { p50Ms: at(0.5), p99Ms: at(0.99), meanMs: s.reduce((a, b) => a + b, 0) / s.length };
}

/** The shipped family id (e.g. gbdt-d4-t600) back to fit options, refitted on the same rows: the same trees. */
function refit(id: string, x: number[][], z: number[][]): Regressor {
  const m = /^gbdt-d(\d+)-t(\d+)$/.exec(id);
  if (m) return fitRegressor('gbdt', x, z, { gbdt: { depth: Number(m[1]), trees: Number(m[2]) } });
  return fitRegressor(id as 'linear' | 'spline', x, z, id === 'spline' ? { knotsPerFeature: 4, lambda: 1e-3 } : { lambda: 1e-4 });
}

interface Row {
  model: string;
  family: string;
  outputs: number;
  onnx: Timing;
  tsLoop: Timing;
  ratioTsOverOnnx: number;
  maxRelDiff: number;
}

async function benchOne(name: string, task: 'curve' | 'counters', family: string | null, csv: string): Promise<Row> {
  const table = readCsv(csv);
  const trained = trainFromTable(task, table, { train: { families: ['linear'], folds: 2 } });
  const x = trained.data.features;
  const id = family ?? 'linear';
  const r = family === null ? trained.train.regressor : refit(id, x, trained.data.z);
  const meta: ModelMetadata = { ...trained.metadata, family: id };
  const model = await OnnxPowerModel.fromBytes(buildOnnx(trained.spec, r, meta), name);
  // 5,000 candidates drawn from the real rows, cycling.
  const rows = Array.from({ length: N }, (_, i) => x[i % x.length] as number[]);
  const packed = packRows(rows, model.featureNames.length);
  const k = model.outputNames.length;
  let sink = 0;
  for (let i = 0; i < 20; i++) await model.predict(packed, N);
  for (let i = 0; i < 3; i++) for (const row of rows) sink += referencePredict(trained.spec, r, row)[0] as number;
  const onnxMs: number[] = [];
  const tsMs: number[] = [];
  // Alternate the two so machine noise hits both alike.
  for (let i = 0; i < RUNS; i++) {
    onnxMs.push(await timeAsync(() => model.predict(packed, N)));
    tsMs.push(time(() => { for (const row of rows) sink += referencePredict(trained.spec, r, row)[0] as number; }));
  }
  const out = await model.predict(packed, N);
  let maxRel = 0;
  rows.forEach((row, i) => referencePredict(trained.spec, r, row).forEach((v, j) => (maxRel = Math.max(maxRel, Math.abs((out[i * k + j] as number) - v) / Math.max(1, Math.abs(v))))));
  await model.close();
  if (sink === 42) console.log('');
  const onnx = stats(onnxMs);
  const tsLoop = stats(tsMs);
  return { model: name, family: id, outputs: k, onnx, tsLoop, ratioTsOverOnnx: tsLoop.p50Ms / onnx.p50Ms, maxRelDiff: maxRel };
}

/** predictCurves over 5,000 NodeHardware built from `types` distinct hardware descriptions. */
async function endToEnd(types: number): Promise<Timing & { distinctHardware: number }> {
  const model = await OnnxPowerModel.load(join(projectRoot(), 'models', 'curve.onnx'));
  const nodes: NodeHardware[] = Array.from({ length: N }, (_, n) => {
    const i = n % types;
    return { cpuModel: i % 2 ? 'AMD EPYC 7763' : 'Intel Xeon Gold 6230', sockets: 2, cores: 40 + (i % 8) * 8, threads: 80 + (i % 8) * 16, memoryGb: 64 + i, year: 2019 + (i % 4), nodes: 1, cpuMhz: 2100 };
  });
  for (let i = 0; i < 10; i++) await predictCurves(model, nodes);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) ms.push(await timeAsync(() => predictCurves(model, nodes)));
  await model.close();
  if (curveFeatures(nodes[0] as NodeHardware).length !== model.featureNames.length) throw new Error('feature width');
  return { ...stats(ms), distinctHardware: types };
}

const data = sharedDataDir();
const shipped = JSON.parse(readFileSync(join(projectRoot(), 'models', 'index.json'), 'utf8')) as Record<string, { family: string }>;
const curveFamily = shipped.curve?.family ?? 'gbdt-d4-t150';
const nx12Family = shipped['counters-nx12']?.family ?? 'gbdt-d4-t300';
const rows = [
  await benchOne('curve (linear, Kepler-style coefficients)', 'curve', null, join(data, 'specpower', 'specpower_train.csv')),
  await benchOne(`curve (${curveFamily}, as shipped)`, 'curve', curveFamily, join(data, 'specpower', 'specpower_train.csv')),
  await benchOne(`counters nx12 (${nx12Family}, as shipped)`, 'counters', nx12Family, join(data, 'kepler-nx12', 'train.csv')),
];
const e2e = [await endToEnd(12), await endToEnd(N)];

console.log(`\nBatch inference, ${N} rows per call, ${RUNS} calls each (p50 / p99 ms)`);
console.log('| model | outputs | onnxruntime one run | TS loop, same coefficients | TS / ONNX | max rel diff |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.model} | ${r.outputs} | ${r.onnx.p50Ms.toFixed(3)} / ${r.onnx.p99Ms.toFixed(3)} | ${r.tsLoop.p50Ms.toFixed(3)} / ${r.tsLoop.p99Ms.toFixed(3)} | ${r.ratioTsOverOnnx.toFixed(2)}x | ${r.maxRelDiff.toExponential(1)} |`);
for (const e of e2e) console.log(`| predictCurves(5,000 nodes, ${e.distinctHardware} distinct hardware types), shipped curve.onnx | 11 | ${e.p50Ms.toFixed(3)} / ${e.p99Ms.toFixed(3)} | | | |`);

mkdirSync(resultsDir(), { recursive: true });
writeFileSync(
  join(resultsDir(), 'model.json'),
  `${JSON.stringify({ benchmark: 'model', at: new Date().toISOString(), machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '' }, parameters: { rows: N, runs: RUNS, intraOpNumThreads: 1 }, targetP50Ms: 2, results: rows, endToEndPredictCurves: e2e }, null, 2)}\n`,
);
