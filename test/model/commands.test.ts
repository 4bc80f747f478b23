// `wattsched train` and `wattsched evaluate` run in-process exactly as the CLI calls them, plus the PowerModel
// helpers on the shipped models.
import { afterAll, describe, expect, test, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main as train } from '../../src/model/commands/train.js';
import { main as evaluate } from '../../src/model/commands/evaluate.js';
import { OnnxPowerModel, predictCurves, predictShapes, estimateFromCounters } from '../../src/model/power-model.js';
import type { NodeHardware } from '../../src/shared/wire/model.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fx = (n: string): string => join(root, 'test/model/fixtures', n);
const tmp = mkdtempSync(join(tmpdir(), 'wattsched-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function capture(fn: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return lines.join('\n');
}

describe('train then evaluate --json', () => {
  test.for([
    { task: 'curve', data: ['specpower_sample.csv'], extra: [] as string[] },
    { task: 'shape', data: ['specpower_sample.csv'], extra: [] },
    { task: 'counters', data: ['nx12_sample.csv'], extra: [] },
    { task: 'counters', data: ['h100_sample.csv'], extra: ['--phases', fx('h100_phases.csv'), '--window-s', '1'] },
  ])('$task on $data', async ({ task, data, extra }) => {
    const out = join(tmp, `${task}-${data[0]}.onnx`);
    const report = JSON.parse(await capture(() => train(['--task', task, '--data', ...data.map(fx), '--out', out, '--max-trees', '40', '--json', ...extra]))) as { validation: { mapePercent: number; folds: number } };
    expect(existsSync(out)).toBe(true);
    expect(report.validation.folds).toBeGreaterThanOrEqual(2);
    const evalArgs = ['--model', out, '--data', ...data.map(fx), '--json', ...(extra.includes('--phases') ? ['--phases', fx('h100_phases.csv')] : [])];
    const e = JSON.parse(await capture(() => evaluate(evalArgs))) as { n: number; mape_percent: number; rmse_watts: number; worst_group: { group: string; n: number; mape_percent: number } };
    expect(e.n).toBeGreaterThan(100);
    expect(Object.keys(e).slice(0, 4)).toEqual(['n', 'mape_percent', 'rmse_watts', 'worst_group']);
    // In-sample error is below the out-of-fold error the trainer reported.
    expect(e.mape_percent).toBeLessThan(report.validation.mapePercent);
    expect(e.worst_group.mape_percent).toBeGreaterThanOrEqual(e.mape_percent);
  });
});

describe('counter window defaults to the meter averaging period', () => {
  test.for([
    { target: 'power.draw [W]', window: [] as string[], want: 1 },
    { target: 'power.draw.instant [W]', window: [], want: 0 },
    { target: 'power.draw [W]', window: ['--window-s', '0'], want: 0 },
  ])('$target $window → $want s', async ({ target, window, want }) => {
    const out = join(tmp, `win-${want}-${window.length}.onnx`);
    await capture(() => train(['--task', 'counters', '--data', fx('h100_sample.csv'), '--target', target, '--families', 'linear', '--out', out, ...window]));
    const model = await OnnxPowerModel.load(out);
    expect(model.metadata.counterWindowSeconds).toBe(want);
    await model.close();
  });
});

describe('usage and data errors are typed, never crashes', () => {
  const notOnnx = join(tmp, 'not.onnx');
  writeFileSync(notOnnx, 'hello');
  test.for([
    { name: 'no task', run: () => train(['--data', fx('nx12_sample.csv'), '--out', join(tmp, 'x.onnx')]), code: 'WS_ERR_USAGE' },
    { name: 'bad task', run: () => train(['--task', 'magic', '--data', fx('nx12_sample.csv'), '--out', join(tmp, 'x.onnx')]), code: 'WS_ERR_USAGE' },
    { name: 'no out', run: () => train(['--task', 'curve', '--data', fx('specpower_sample.csv')]), code: 'WS_ERR_USAGE' },
    { name: 'unknown family', run: () => train(['--task', 'curve', '--data', fx('specpower_sample.csv'), '--out', join(tmp, 'x.onnx'), '--families', 'svm']), code: 'WS_ERR_USAGE' },
    { name: 'unknown flag', run: () => train(['--task', 'curve', '--frobnicate']), code: 'WS_ERR_USAGE' },
    { name: 'missing target', run: () => train(['--task', 'counters', '--data', fx('nx12_sample.csv'), '--out', join(tmp, 'x.onnx'), '--target', 'nope']), code: 'WS_ERR_MODEL_DATA' },
    { name: 'curve on counters data', run: () => train(['--task', 'curve', '--data', fx('nx12_sample.csv'), '--out', join(tmp, 'x.onnx')]), code: 'WS_ERR_MODEL_DATA' },
    { name: 'missing data file', run: () => train(['--task', 'curve', '--data', join(tmp, 'absent.csv'), '--out', join(tmp, 'x.onnx')]), code: 'WS_ERR_MODEL_DATA' },
    { name: 'evaluate without model', run: () => evaluate(['--data', fx('nx12_sample.csv')]), code: 'WS_ERR_USAGE' },
    { name: 'evaluate a non-ONNX file', run: () => evaluate(['--model', notOnnx, '--data', fx('nx12_sample.csv')]), code: 'WS_ERR_MODEL_FILE' },
    { name: 'evaluate on data without the columns', run: () => evaluate(['--model', join(root, 'models/curve.onnx'), '--data', fx('nx12_sample.csv')]), code: 'WS_ERR_MODEL_DATA' },
  ])('$name → $code', async ({ run, code }) => {
    await expect(run()).rejects.toMatchObject({ code });
  });
});

describe('PowerModel on the shipped models', () => {
  test('5,000 candidate nodes are scored in one call', async () => {
    const model = await OnnxPowerModel.load(join(root, 'models/curve.onnx'));
    try {
      const run = vi.spyOn(model, 'predict');
      const nodes: NodeHardware[] = Array.from({ length: 5000 }, (_, i) => ({ cpuModel: 'Intel Xeon Gold 6230', sockets: 2, cores: 40, threads: 80, memoryGb: 192 + (i % 8) * 64, year: 2019, nodes: 1, cpuMhz: 2100 }));
      const curves = await predictCurves(model, nodes);
      expect(run).toHaveBeenCalledTimes(1);
      expect(curves.length).toBe(5000);
      const c = curves[0] as number[];
      expect(c.length).toBe(11);
      // A 2-socket 2019 server: idle below full load, and in a plausible range.
      expect(c[0]).toBeLessThan(c[10] as number);
      expect(c[10]).toBeGreaterThan(150);
      expect(c[10]).toBeLessThan(800);
    } finally {
      await model.close();
    }
  });

  test('shape-from-two-points keeps the two points and stays between them', async () => {
    const model = await OnnxPowerModel.load(join(root, 'models/shape-points.onnx'));
    try {
      const [c] = await predictShapes(model, [{ idleWatts: 60, peakWatts: 300 }]);
      expect(c?.[0]).toBeCloseTo(60, 3);
      expect(c?.[10]).toBeCloseTo(300, 3);
      for (const w of c?.slice(1, -1) ?? []) expect(w > 60 && w < 300).toBe(true);
      await expect(predictShapes(model, [{ idleWatts: 300, peakWatts: 60 }])).rejects.toMatchObject({ code: 'WS_ERR_MODEL_INPUT' });
    } finally {
      await model.close();
    }
  });

  test('counters model names the missing counter', async () => {
    const model = await OnnxPowerModel.load(join(root, 'models/counters-nx12.onnx'));
    try {
      await expect(estimateFromCounters(model, [{ cpu_cycles_per_s: 1e9 }])).rejects.toMatchObject({ code: 'WS_ERR_MODEL_INPUT' });
      await expect(model.predict(new Float32Array(3), 1)).rejects.toMatchObject({ code: 'WS_ERR_MODEL_INPUT' });
      await expect(predictCurves(model, [])).rejects.toMatchObject({ code: 'WS_ERR_MODEL_INPUT' });
    } finally {
      await model.close();
    }
  });
});
