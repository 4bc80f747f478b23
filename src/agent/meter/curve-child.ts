// Scores a curve model for one hardware description, in a short-lived child process: onnxruntime maps ~25 MB of
// native library and allocates more that would stay in the agent for its whole life for a curve it needs once per
// model. Two modes, each printing the result as JSON on stdout:
//   node curve-child.js MODELS_DIR HARDWARE_JSON          the shipped curve model of MODELS_DIR/index.json
//   node curve-child.js --onnx FILE HARDWARE_JSON        any model file (one the model server sent) as a load curve
// and one long-lived mode, for a counters model scored every interval (counters-child.ts is its client):
//   node curve-child.js --serve FILE                      prints {"ready":…} once, then one {"watts":[…]} or
//                                                         {"error":…} line per JSON line of feature rows on stdin
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OnnxPowerModel, packRows } from '../../model/power-model.js';
import { loadCurves } from '../../model/load-curve.js';
import type { NodeHardware } from '../../shared/wire/model.js';

export interface ShippedCurve {
  key: string;
  fingerprint: string;
  mapePercent: number | null;
  values: number[];
}

interface IndexEntry {
  file: string;
  task: string;
  fingerprint: string;
  grouped?: { mapePercent?: number };
}

/** The model as a load curve (non-negative, never falling); throws with the reason when it cannot be one. */
async function curveOf(model: OnnxPowerModel, hw: NodeHardware): Promise<number[]> {
  const [r] = await loadCurves(model, [hw]);
  if (r === undefined || 'error' in r) throw new Error(r?.error ?? 'no curve');
  return [...r.curve];
}

export async function shippedCurve(modelsDir: string, hw: NodeHardware): Promise<ShippedCurve> {
  const index = JSON.parse(readFileSync(join(modelsDir, 'index.json'), 'utf8')) as Record<string, IndexEntry>;
  const found = Object.entries(index).find(([, e]) => e.task === 'curve');
  if (found === undefined) throw new Error(`no curve model in ${modelsDir}/index.json`);
  const [key, entry] = found;
  const model = await OnnxPowerModel.load(join(modelsDir, entry.file));
  try {
    return { key, fingerprint: entry.fingerprint, mapePercent: entry.grouped?.mapePercent ?? model.metadata.validation.mapePercent, values: await curveOf(model, hw) };
  } finally {
    await model.close();
  }
}

/** Any model file as this node's load curve. */
export async function fileCurve(file: string, hw: NodeHardware): Promise<number[]> {
  const model = await OnnxPowerModel.load(file);
  try {
    return await curveOf(model, hw);
  } finally {
    await model.close();
  }
}

async function serve(file: string): Promise<void> {
  const model = await OnnxPowerModel.load(file);
  const line = (x: unknown): boolean => process.stdout.write(`${JSON.stringify(x)}\n`);
  line({ ready: true, task: model.task, featureNames: model.featureNames, outputNames: model.outputNames });
  for await (const text of createInterface({ input: process.stdin })) {
    try {
      const rows = JSON.parse(text) as number[][];
      line({ watts: Array.from(await model.predict(packRows(rows, model.featureNames.length), rows.length)) });
    } catch (err) {
      line({ error: (err as Error).message });
    }
  }
  await model.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [a, b, c] = process.argv.slice(2) as [string, string, string | undefined];
  const once = (): Promise<unknown> => (a === '--onnx' ? fileCurve(b, JSON.parse(c as string) as NodeHardware).then((values) => ({ values })) : shippedCurve(a, JSON.parse(b) as NodeHardware));
  const work = a === '--serve' ? serve(b) : once().then((r) => void process.stdout.write(JSON.stringify(r)));
  work.catch((err: unknown) => {
    process.stderr.write((err as Error).message);
    process.exitCode = 1;
  });
}
