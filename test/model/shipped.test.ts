// The shipped models are what models/index.json says they are: same bytes, wattsched metadata, loadable, and
// each one's validation error is the nested (outer-fold) grouped figure the docs quote.
import { describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModelMetadata } from '../../src/model/model-file.js';
import { OnnxPowerModel } from '../../src/model/power-model.js';

const dir = fileURLToPath(new URL('../../models/', import.meta.url));
const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Record<string, { file: string; sha256: string; task: string; family: string; grouped: { mapePercent: number }; featureNames: string[] }>;

describe('shipped models', () => {
  test.for(Object.entries(index))('%s', async ([name, e]) => {
    const bytes = readFileSync(join(dir, e.file));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(e.sha256);
    const meta = readModelMetadata(bytes, name);
    expect(meta).toMatchObject({ task: e.task, family: e.family, units: 'W', featureNames: e.featureNames });
    expect(meta.trainingDataSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(meta.validation.mapePercent).toBeCloseTo(e.grouped.mapePercent, 1);
    expect(meta.validation).toMatchObject({ method: 'nested-cv', folds: 5, innerFolds: 3 });
    const model = await OnnxPowerModel.fromBytes(bytes, name);
    const out = await model.predict(new Float32Array(model.featureNames.length * 2).fill(1), 2);
    expect(out.length).toBe(2 * model.outputNames.length);
    await model.close();
  });
});
