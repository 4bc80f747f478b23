// Scores the shipped curve model for one hardware description, in a short-lived child process: onnxruntime maps
// ~25 MB of native library and allocates more that would stay in the agent for its whole life for a curve it needs
// once. `node curve-child.js MODELS_DIR HARDWARE_JSON` prints the result as JSON on stdout.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OnnxPowerModel, predictCurves } from '../../model/power-model.js';
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

export async function shippedCurve(modelsDir: string, hw: NodeHardware): Promise<ShippedCurve> {
  const index = JSON.parse(readFileSync(join(modelsDir, 'index.json'), 'utf8')) as Record<string, IndexEntry>;
  const found = Object.entries(index).find(([, e]) => e.task === 'curve');
  if (found === undefined) throw new Error(`no curve model in ${modelsDir}/index.json`);
  const [key, entry] = found;
  const model = await OnnxPowerModel.load(join(modelsDir, entry.file));
  try {
    const [values] = await predictCurves(model, [hw]);
    return { key, fingerprint: entry.fingerprint, mapePercent: entry.grouped?.mapePercent ?? model.metadata.validation.mapePercent, values: values ?? [] };
  } finally {
    await model.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  shippedCurve(process.argv[2] as string, JSON.parse(process.argv[3] as string) as NodeHardware).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (err: unknown) => {
      process.stderr.write((err as Error).message);
      process.exitCode = 1;
    },
  );
}
