// Errors that can be compared: the error stored with a model is the outer-fold error of nested cross-validation
// (family and settings chosen inside each outer training part), retrained versions carry the error on their newest
// windows, and the fallback chain compares only errors measured the same way.
import { afterEach, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCsv } from '../../src/model/csv.js';
import { countersTask, defaultCounterFeatures, rowGroups } from '../../src/model/tasks.js';
import { prepare, trainTask } from '../../src/model/training.js';
import { groupFolds, summarise } from '../../src/model/metrics.js';
import { trainFromTable } from '../../src/model/pipeline.js';
import { ModelStore } from '../../src/model/server/store.js';
import { resolveModel } from '../../src/model/server/resolve.js';
import type { HeldOutMethod, ModelMetadata } from '../../src/shared/wire/model.js';

const nx12 = readCsv(fileURLToPath(new URL('./fixtures/nx12_sample.csv', import.meta.url)));
const TARGET = 'acpi_platform_watts';
const FEATURES = defaultCounterFeatures(nx12, [TARGET]);
const spec = countersTask(FEATURES, [TARGET]);
const OPTS = { maxTrees: 50, depths: [2, 3], folds: 4, innerFolds: 3 };

function dataset(rows = nx12.rows) {
  return prepare(spec, rows, rowGroups('counters', nx12, rows).groups, 'nx12');
}

describe('nested cross-validation', () => {
  test('an outer fold\'s predictions do not depend on that fold\'s targets (selection and fit never saw them)', () => {
    const base = dataset();
    const outer = groupFolds(base.groups, OPTS.folds);
    const a = trainTask(spec, base, OPTS);
    // Scale the targets of outer fold 0 by 3: if any of them leaked into the choice or the fit for fold 0, its
    // predictions would move.
    const rows = nx12.rows.map((r, i) => (outer[i] === 0 ? { ...r, [TARGET]: String(Number(r[TARGET]) * 3) } : r));
    const b = trainTask(spec, dataset(rows), OPTS);
    const fold0 = outer.map((f, i) => (f === 0 ? i : -1)).filter((i) => i >= 0);
    expect(fold0.length).toBeGreaterThan(10);
    for (const i of fold0) expect(b.outOfFold[i]).toEqual(a.outOfFold[i]);
    // …while the other folds' predictions, trained with fold 0's scaled rows, do move.
    const other = outer.findIndex((f) => f !== 0);
    expect(b.outOfFold[other]).not.toEqual(a.outOfFold[other]);
  });

  test('the stored error is the outer-fold error of the procedure, with one choice per outer fold', () => {
    const d = dataset();
    const r = trainTask(spec, d, OPTS);
    expect(r.chosenPerFold).toHaveLength(OPTS.folds);
    expect(r.validation.mape_percent).toBe(summarise(r.outOfFold, d.watts, d.groups, spec.outputNames, [0]).mape_percent);
    expect(r.validation).toMatchObject({ folds: OPTS.folds, innerFolds: OPTS.innerFolds });
    // The shipped candidate was chosen by its own selection score; every outer fold chose from the same list.
    expect(Object.keys(r.candidates)).toContain(r.best.id);
    for (const c of r.chosenPerFold) expect(Object.keys(r.candidates)).toContain(c);
  });

  test('the ONNX metadata says how its error was measured', () => {
    const m = trainFromTable('counters', nx12, { targets: [TARGET], train: OPTS });
    expect(m.metadata.validation).toMatchObject({ method: 'nested-cv', folds: OPTS.folds, innerFolds: OPTS.innerFolds, mapePercent: Number(m.train.validation.mape_percent.toFixed(4)) });
  });
});

describe('the fallback chain ranks only errors measured the same way', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const meta = (mapePercent: number, method: HeldOutMethod | undefined): ModelMetadata => ({
    task: 'counters', family: 'linear', featureNames: ['x'], outputNames: ['watts'], scoredOutputs: ['watts'], units: 'W', inputColumns: ['x'], trainingDataSha256: '0'.repeat(64), trainingRows: 100,
    validation: { split: 's', folds: 1, mapePercent, rmseWatts: 1, ...(method ? { method } : {}) }, candidates: {}, wattschedVersion: '0',
  });

  test.for([
    { name: 'same measure: the lower error', versions: [['intel-xeon-gold-6230-s2-c40', 9, 'newest-windows'], ['intel-xeon-gold-6248-s2-c40', 7, 'newest-windows']], want: 'intel-xeon-gold-6248-s2-c40' },
    { name: 'fleet windows before public-data nested CV, whatever the numbers', versions: [['intel-xeon-gold-6230-s2-c40', 9, 'newest-windows'], ['intel-xeon-gold-6248-s2-c40', 3, 'nested-cv']], want: 'intel-xeon-gold-6230-s2-c40' },
    { name: 'an unrecorded measure only when nothing else matches', versions: [['intel-xeon-gold-6230-s2-c40', 1, undefined], ['intel-xeon-gold-6248-s2-c40', 20, 'nested-cv']], want: 'intel-xeon-gold-6248-s2-c40' },
  ] as const)('$name', async ({ versions, want }) => {
    dir = mkdtempSync(join(tmpdir(), 'wattsched-rank-'));
    const store = new ModelStore(dir, { maxFingerprints: 10, maxSamplesPerFingerprint: 1000, maxSampleBytesPerFingerprint: 1 << 20, maxSampleBytes: 1 << 20 });
    for (const [fp, mape, method] of versions) await store.publish(fp, new Uint8Array([1, 2, 3]), meta(mape, method), 'retrained', new Date(0));
    expect(resolveModel(store, 'intel-xeon-gold-6254-s2-c36')).toMatchObject({ match: 'family', fingerprint: want });
    await store.close();
  });
});
