// Assembles one wattsched ONNX file: input `features` [N,F] float → regressor → task head → `watts` [N,K] float,
// with the metadata every consumer needs (task, feature order, units, data hash, validation error).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeModel, readMetadataProps } from './onnx/builder.js';
import { regressorNodes, predictRegressor, type Regressor } from './families/index.js';
import type { TaskSpec } from './tasks.js';
import { MODEL_TASKS, type ModelMetadata } from '../shared/wire/model.js';
import { WS_ERR_MODEL_FILE } from '../shared/errors.js';

export const INPUT_NAME = 'features';
export const OUTPUT_NAME = 'watts';

/** The package root: src/model/ under vitest and dist/src/model/ when built sit at different depths. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export function wattschedVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildOnnx(spec: TaskSpec, r: Regressor, meta: ModelMetadata): Uint8Array {
  const body = regressorNodes(r, INPUT_NAME, 'z');
  const head = spec.head('z', INPUT_NAME, OUTPUT_NAME);
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) props[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return serializeModel({
    producerVersion: meta.wattschedVersion,
    docString: `wattsched ${meta.task} power model (${meta.family}); outputs watts for ${meta.outputNames.join(', ')}`,
    metadata: props,
    graph: {
      name: `wattsched_${meta.task}`,
      inputs: [{ name: INPUT_NAME, type: 'float', shape: ['N', spec.featureNames.length] }],
      outputs: [{ name: OUTPUT_NAME, type: 'float', shape: ['N', spec.outputNames.length] }],
      nodes: [...body.nodes, ...head.nodes],
      initializers: [...body.initializers, ...head.initializers],
    },
  });
}

/** The TypeScript reference of what the ONNX graph computes for one row. */
export function referencePredict(spec: TaskSpec, r: Regressor, features: readonly number[]): number[] {
  return spec.decode(predictRegressor(r, features), features);
}

const JSON_KEYS = new Set(['featureNames', 'outputNames', 'scoredOutputs', 'inputColumns', 'trainingRows', 'validation', 'candidates', 'counterWindowSeconds']);

export function readModelMetadata(bytes: Uint8Array, source: string): ModelMetadata {
  let props: Record<string, string>;
  try {
    props = readMetadataProps(bytes);
  } catch (err) {
    throw new WS_ERR_MODEL_FILE(source, `not an ONNX file (${(err as Error).message})`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) {
    try {
      out[k] = JSON_KEYS.has(k) ? JSON.parse(v) : v;
    } catch {
      throw new WS_ERR_MODEL_FILE(source, `metadata ${k} is not JSON`);
    }
  }
  if (!MODEL_TASKS.includes(out.task as never) || !Array.isArray(out.featureNames) || !Array.isArray(out.outputNames)) {
    throw new WS_ERR_MODEL_FILE(source, 'no wattsched metadata (task, featureNames, outputNames)');
  }
  return out as unknown as ModelMetadata;
}
