// Every family × task trained on real fixture rows, exported to ONNX, run by onnxruntime-node in one batch, and
// compared with the TypeScript reference prediction of the same fitted regressor.
import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readCsv } from '../../src/model/csv.js';
import { trainFromTable } from '../../src/model/pipeline.js';
import { referencePredict } from '../../src/model/model-file.js';
import { OnnxPowerModel, packRows } from '../../src/model/power-model.js';
import { withPhases } from '../../src/model/tasks.js';
import type { Family } from '../../src/model/families/index.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const spec = readCsv(fixture('specpower_sample.csv'));
const nx12 = readCsv(fixture('nx12_sample.csv'));
const h100 = withPhases(readCsv(fixture('h100_sample.csv')), readCsv(fixture('h100_phases.csv'), false));

const cases: { task: 'curve' | 'shape' | 'counters'; data: string; family: Family; features?: string[]; targets?: string[] }[] = [];
for (const family of ['linear', 'spline', 'gbdt'] as const) {
  cases.push({ task: 'curve', data: 'specpower', family });
  cases.push({ task: 'shape', data: 'specpower', family });
  cases.push({ task: 'shape', data: 'specpower', family, features: ['points'] });
  cases.push({ task: 'counters', data: 'nx12', family });
  cases.push({ task: 'counters', data: 'nx12', family, targets: ['rapl_package_watts', 'rapl_dram_watts'] });
  cases.push({ task: 'counters', data: 'h100', family });
}

/** Relative to the watts predicted (float32 graph vs float64 reference), floored at 1 W. */
const TOLERANCE = 1e-4;

describe('ONNX output equals the TypeScript reference', () => {
  test.for(cases)('$task $family on $data $features $targets', async (c) => {
    const table = c.data === 'specpower' ? spec : c.data === 'nx12' ? nx12 : h100;
    const trained = trainFromTable(c.task, table, {
      ...(c.features ? { features: c.features } : {}),
      ...(c.targets ? { targets: c.targets } : {}),
      train: { families: [c.family], maxTrees: 40, depths: [3], folds: 3 },
    });
    expect(trained.metadata.family.startsWith(c.family)).toBe(true);
    const model = await OnnxPowerModel.fromBytes(trained.onnx, `${c.task}-${c.family}`);
    try {
      const rows = trained.data.features;
      const out = await model.predict(packRows(rows, model.featureNames.length), rows.length);
      const k = model.outputNames.length;
      expect(out.length).toBe(rows.length * k);
      let worst = 0;
      rows.forEach((row, i) => {
        const ref = referencePredict(trained.spec, trained.train.regressor, row);
        ref.forEach((r, j) => {
          worst = Math.max(worst, Math.abs((out[i * k + j] as number) - r) / Math.max(1, Math.abs(r)));
        });
      });
      expect(worst).toBeLessThan(TOLERANCE);
      // The model must be a real fit, not a constant: predictions vary with the inputs.
      expect(new Set(Array.from(out.filter((_, i) => i % k === k - 1), (v) => v.toFixed(1))).size).toBeGreaterThan(3);
    } finally {
      await model.close();
    }
  });
});
