// Hand-computed cases for the pure pieces: features, CPU families, fingerprints, folds, error measures, CSV,
// protobuf varints, counter windows and phase labels.
import { describe, expect, test } from 'vitest';
import { cpuFamily, cpuVendor, curveFeatures, fingerprint, shapeFeatures, counterFeatures } from '../../src/model/features.js';
import { groupFolds, summarise } from '../../src/model/metrics.js';
import { parseCsv } from '../../src/model/csv.js';
import { ProtoWriter, readFields } from '../../src/model/onnx/protobuf.js';
import { readMetadataProps, serializeModel } from '../../src/model/onnx/builder.js';
import { trailingMean, withPhases, rowTime, CURVE_TASK, SHAPE_TASK } from '../../src/model/tasks.js';
import { fitRidge, applyLinear } from '../../src/model/families/linalg.js';
import { fitGbdt, predictGbdt, GBDT_DEFAULTS } from '../../src/model/families/gbdt.js';

describe('cpu family and vendor', () => {
  test.for([
    ['Intel Xeon Platinum 8380', 'xeon-platinum-83xx', 'intel'],
    ['Intel Xeon E5-2660 v3', 'xeon-e5-26xx', 'intel'],
    ['AMD EPYC 7763', 'epyc-77xx', 'amd'],
    ['Intel Xeon L5335', 'xeon-l53xx', 'intel'],
    ['Intel(R) Xeon(R) CPU E3-1260L v5 @ 2.90GHz', 'xeon-e3-12xx', 'intel'],
    ['Ampere Altra Q80-30', 'ampere-altra-q80-30', 'arm'],
    ['', 'unknown', 'other'],
  ])('%s → %s (%s)', ([model, family, vendor]) => {
    expect(cpuFamily(model as string)).toBe(family);
    expect(cpuVendor(model as string)).toBe(vendor);
  });

  test.for([
    [{ cpuModel: 'Intel Xeon Gold 6230', sockets: 2, cores: 40 }, 'intel-xeon-gold-6230-s2-c40'],
    [{ cpuModel: 'AMD EPYC 7763', sockets: 2, cores: 128, gpuModel: 'NVIDIA A100 80GB' }, 'amd-epyc-7763-s2-c128-gpu-nvidia-a100-80gb'],
    [{ cpuModel: 'Intel(R) Xeon(R) E-2288G', sockets: 1, cores: 8 }, 'intel-xeon-e-2288g-s1-c8'],
  ] as const)('fingerprint %j = %s', ([hw, fp]) => {
    expect(fingerprint(hw)).toBe(fp);
  });
});

describe('features', () => {
  test('curve features of a 2-node, 2-socket-per-node Xeon L box', () => {
    const f = curveFeatures({ cpuModel: 'Intel Xeon L5335', sockets: 4, cores: 16, threads: 32, memoryGb: 64, year: 2008, nodes: 2, cpuMhz: 2000 });
    expect(f).toEqual([2, Math.log(16), Math.log(8), Math.log(2), Math.log(32), 2008, Math.log(2000), 2, 1, 0, 0, 1, 0]);
    expect(f.length).toBe(CURVE_TASK.featureNames.length);
  });

  test.for([
    [100, 200, [100, 200, 0.5, Math.log(200)]],
    [61, 122, [61, 122, 0.5, Math.log(122)]],
  ] as const)('shape features %d W idle, %d W peak', ([idle, peak, want]) => {
    expect(shapeFeatures(idle, peak)).toEqual(want);
  });

  test.for([
    [{ a: 1, b: 2 }, ['b', 'a'], [2, 1]],
    [{ a: 1 }, ['a', 'b'], { missing: ['b'] }],
    [{ a: Number.NaN }, ['a'], { missing: ['a'] }],
  ] as const)('counter features %j in order %j', ([rates, names, want]) => {
    expect(counterFeatures(rates, names)).toEqual(want);
  });

  test('shape encode/decode round-trips a SPECpower curve', () => {
    const watts = [66.8, 69.9, 73.2, 77.2, 82.2, 87.3, 92.7, 97.6, 102, 106, 109];
    const f = shapeFeatures(66.8, 109);
    const z = SHAPE_TASK.encode(watts, [...f, ...new Array<number>(13).fill(0)]) as number[];
    expect(z[0]).toBeCloseTo((69.9 - 66.8) / (109 - 66.8), 12);
    SHAPE_TASK.decode(z, f).forEach((w, i) => expect(w).toBeCloseTo(watts[i] as number, 10));
  });
});

describe('error measures', () => {
  test('MAPE, RMSE and the worst group by hand', () => {
    // Row 1: |110-100|/100 = 10 %, row 2: |90-100|/100 = 10 %, row 3: |250-200|/200 = 25 %.
    const s = summarise([[110], [90], [250]], [[100], [100], [200]], ['a', 'a', 'b'], ['w'], [0]);
    expect(s.n).toBe(3);
    expect(s.mape_percent).toBeCloseTo(15, 10);
    expect(s.rmse_watts).toBeCloseTo(Math.sqrt((100 + 100 + 2500) / 3), 10);
    expect(s.worst_group).toEqual({ group: 'b', n: 1, mape_percent: 25 });
  });

  test('only scored outputs count (shape task echoes idle and peak)', () => {
    const s = summarise([[100, 150, 200]], [[100, 100, 200]], ['g'], ['idle', 'mid', 'peak'], [1]);
    expect(s.mape_percent).toBeCloseTo(50, 10);
  });

  test.for([
    { groups: ['a', 'a', 'a', 'b', 'b', 'c'], folds: 2, want: [0, 0, 0, 1, 1, 1] },
    { groups: ['x', 'y', 'z'], folds: 5, want: [0, 1, 2] },
    { groups: ['a', 'b', 'a', 'b'], folds: 2, want: [0, 1, 0, 1] },
  ])('group folds of $groups into $folds', ({ groups, folds, want }) => {
    const got = groupFolds(groups, folds);
    expect(got).toEqual(want);
    // No group is split across folds.
    for (const g of new Set(groups)) expect(new Set(got.filter((_, i) => groups[i] === g)).size).toBe(1);
  });
});

describe('CSV', () => {
  test.for([
    ['a,b\n1,2\n', [{ a: '1', b: '2' }]],
    ['a, b \r\n 1 , "x,y"\r\n', [{ a: '1', b: 'x,y' }]],
    ['a\n"he said ""hi"""\n', [{ a: 'he said "hi"' }]],
    ['a,b\n1,2', [{ a: '1', b: '2' }]],
  ])('%j', ([text, rows]) => {
    expect(parseCsv(text as string).rows).toEqual(rows);
  });

  test.for([['a,b\n1\n'], ['a\n"open\n'], ['']])('malformed %j is a WS_ERR_MODEL_DATA', ([text]) => {
    expect(() => parseCsv(text as string)).toThrow(expect.objectContaining({ code: 'WS_ERR_MODEL_DATA' }));
  });
});

describe('protobuf and ONNX metadata', () => {
  test.for([
    [1, [0x08, 0x01]],
    [300, [0x08, 0xac, 0x02]],
    [-1, [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
  ])('varint %d', ([v, bytes]) => {
    expect(Array.from(new ProtoWriter().int(1, v as number).finish())).toEqual(bytes);
    expect(readFields(Uint8Array.from(bytes as number[]))[0]?.int).toBe(BigInt.asUintN(64, BigInt(v as number)));
  });

  test('metadata_props round-trip', () => {
    const bytes = serializeModel({ producerVersion: '0', metadata: { task: 'curve', featureNames: '["a","b"]', 'ünï': 'cødé' }, graph: { name: 'g', inputs: [], outputs: [], nodes: [], initializers: [] } });
    expect(readMetadataProps(bytes)).toEqual({ task: 'curve', featureNames: '["a","b"]', 'ünï': 'cødé' });
  });

  test('truncated input throws', () => {
    expect(() => readFields(Uint8Array.from([0x0a, 0x05, 0x01]))).toThrow(/truncated/);
  });
});

describe('counter windows and phases', () => {
  const table = parseCsv('timestamp_unix_s,x\n0,0\n0.5,10\n1.0,20\n1.5,\n2.0,40\n');
  test.for([
    [0, ['0', '10', '20', '', '40']],
    [1, ['0', '5', '15', '20', '40']],
    [10, ['0', '5', '10', '10', '17.5']],
  ] as const)('trailing mean over %d s', ([w, want]) => {
    expect(trailingMean(table, ['x'], w).rows.map((r) => r.x)).toEqual(want);
  });

  test('rows out of time order are refused', () => {
    expect(() => trailingMean(parseCsv('timestamp_unix_s,x\n2,1\n1,1\n'), ['x'], 1)).toThrow(/time order/);
  });

  test('nvidia-smi timestamps are UTC', () => {
    expect(rowTime({ timestamp: '2026/11/24 20:08:30.386' })).toBeCloseTo(Date.UTC(2026, 10, 24, 20, 8, 30, 386) / 1000, 6);
  });

  test('phase labels: inside a run, between runs, before the first', () => {
    const samples = parseCsv('timestamp_unix_s,p\n5,1\n10,1\n15,1\n25,1\n');
    const phases = parseCsv('10,idle,1.0,start\n20,idle,1.0,end\n', 'phases', false);
    expect(withPhases(samples, phases).rows.map((r) => r.phase)).toEqual(['after-start', '0:idle:1.0', '0:idle:1.0', 'after-0:idle:1.0']);
  });
});

describe('model families on hand-made data', () => {
  test('ridge recovers an exact line', () => {
    const x = [[0], [1], [2], [3]];
    const c = fitRidge(x, x.map(([v]) => [3 + 2 * (v as number)]), 1e-12);
    expect(applyLinear(c, [10])[0]).toBeCloseTo(23, 6);
  });

  test('a depth-1 tree splits a step at the midpoint', () => {
    const x = [[0], [1], [2], [3]];
    const y = [[10], [10], [30], [30]];
    const m = fitGbdt(x, y, { ...GBDT_DEFAULTS, trees: 1, depth: 1, learningRate: 1, minLeaf: 1, lambda: 0, subsample: 1 });
    expect(m.trees[0]?.[0]).toMatchObject({ feature: 0, threshold: 1.5 });
    expect(predictGbdt(m, [0.2])[0]).toBeCloseTo(10, 10);
    expect(predictGbdt(m, [2.7])[0]).toBeCloseTo(30, 10);
  });
});
