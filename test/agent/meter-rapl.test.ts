// RAPL through powercap on fake trees: watts from energy deltas, wrap-around at max_energy_range_uj, psys over
// packages, AMD naming, missing zones, unreadable files (as an unprivileged user) and a zone that vanishes mid-run.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { RaplMeter } from '../../src/agent/meter/rapl.js';
import { energyDelta } from '../../src/agent/meter/types.js';
import { FakeTree, raplZone } from './fake-sysfs.js';

const S = 1e9;
let tree: FakeTree;
afterEach(() => tree?.cleanup());

function open(t: FakeTree) {
  const o = RaplMeter.open(t.root, 0);
  if (!('meter' in o)) throw new Error(o.unavailable.reason);
  return o.meter;
}

describe('energyDelta', () => {
  test.each([
    { why: 'plain increase', prev: 100, cur: 350, max: 1000, want: 250 },
    { why: 'wrap at max range', prev: 900, cur: 50, max: 1000, want: 150 },
    { why: 'no change', prev: 5, cur: 5, max: 1000, want: 0 },
    { why: 'reset without a known range counts from 0', prev: 900, cur: 50, max: null, want: 50 },
  ])('$why', ({ prev, cur, max, want }) => {
    expect(energyDelta(prev, cur, max)).toBe(want);
  });
});

describe('RaplMeter', () => {
  test('package + dram make the total; core is exported but inside its package', async () => {
    tree = new FakeTree();
    raplZone(tree, 'intel-rapl:0', 'package-0', 1_000_000);
    raplZone(tree, 'intel-rapl:0:0', 'core', 500_000);
    raplZone(tree, 'intel-rapl:0:1', 'dram', 0);
    tree.write('intel-rapl/enabled', 1); // the control-type directory is not a zone
    const m = open(tree);
    tree.write('intel-rapl:0/energy_uj', 1_000_000 + 2 * 80_000_000); // 160 J in 2 s = 80 W
    tree.write('intel-rapl:0:0/energy_uj', 500_000 + 2 * 50_000_000); // 50 W
    tree.write('intel-rapl:0:1/energy_uj', 2 * 10_000_000); // 10 W
    const r = await m.read({ monotonicNs: 2 * S, cpuUtilisation: 0 });
    expect(r.source).toBe('rapl');
    expect(r.watts).toBeCloseTo(90, 9);
    expect(r.zones).toEqual([
      { zone: 'package-0', watts: 80, inTotal: true },
      { zone: 'core-0', watts: 50, inTotal: false },
      { zone: 'dram-0', watts: 10, inTotal: true },
    ]);
  });

  test('energy_uj wrapping at max_energy_range_uj gives the true energy, not a negative or huge number', async () => {
    tree = new FakeTree();
    raplZone(tree, 'intel-rapl:0', 'package-0', 999_000_000, 1_000_000_000);
    const m = open(tree);
    // 1,000,000 µJ to the wrap point, then 4,000,000 µJ past 0: 5 J in 1 s.
    tree.write('intel-rapl:0/energy_uj', 3_000_000);
    const r = await m.read({ monotonicNs: 1 * S, cpuUtilisation: 0 });
    expect(r.watts).toBeCloseTo(4, 9);
  });

  test('psys, when present, is the total (it contains the packages)', async () => {
    tree = new FakeTree();
    raplZone(tree, 'intel-rapl:0', 'package-0', 0);
    raplZone(tree, 'intel-rapl:1', 'psys', 0);
    const m = open(tree);
    tree.write('intel-rapl:0/energy_uj', 30_000_000);
    tree.write('intel-rapl:1/energy_uj', 45_000_000);
    const r = await m.read({ monotonicNs: 1 * S, cpuUtilisation: 0 });
    expect(r.watts).toBeCloseTo(45, 9);
  });

  test('AMD zones (amd-rapl, two packages) are read the same way', async () => {
    tree = new FakeTree();
    raplZone(tree, 'amd-rapl:0', 'package-0', 0);
    raplZone(tree, 'amd-rapl:1', 'package-1', 0);
    const m = open(tree);
    tree.write('amd-rapl:0/energy_uj', 100_000_000);
    tree.write('amd-rapl:1/energy_uj', 60_000_000);
    const r = await m.read({ monotonicNs: 4 * S, cpuUtilisation: 0 });
    expect(r.watts).toBeCloseTo(40, 9); // 160 J / 4 s
  });

  test('no zones, or only sub-zones: unavailable with the reason', () => {
    tree = new FakeTree();
    expect(RaplMeter.open(tree.root, 0)).toEqual({ unavailable: { name: 'rapl', reason: `${tree.root}: no intel-rapl/amd-rapl zones` } });
    raplZone(tree, 'intel-rapl:0:2', 'dram', 0);
    const o = RaplMeter.open(tree.root, 0);
    expect('unavailable' in o && o.unavailable.reason).toMatch(/no package or psys zone among dram-0/);
    expect(RaplMeter.open(tree.path('absent'), 0)).toMatchObject({ unavailable: { reason: expect.stringMatching(/missing/) } });
  });

  test('a zone that disappears mid-run makes read() throw (the layer above moves on), never 0 W', async () => {
    tree = new FakeTree();
    raplZone(tree, 'intel-rapl:0', 'package-0', 0);
    const m = open(tree);
    tree.remove('intel-rapl:0');
    await expect(m.read({ monotonicNs: 1 * S, cpuUtilisation: 0 })).rejects.toThrow(/energy_uj: missing/);
  });

  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const dist = resolve('dist/src/agent/meter/rapl.js');
  test.skipIf(!root || !existsSync(dist))(`a root-only energy_uj read by an unprivileged user explains the restriction${!root ? ' (skipped: needs root to run as nobody)' : !existsSync(dist) ? ' (skipped: needs the built dist/)' : ''}`, () => {
    tree = new FakeTree();
    raplZone(tree, 'intel-rapl:0', 'package-0', 0);
    tree.write('intel-rapl:0/energy_uj', 0, 0o400); // as on Linux >= 5.10
    const script = `import(${JSON.stringify(dist)}).then(({ RaplMeter }) => console.log(JSON.stringify(RaplMeter.open(${JSON.stringify(tree.root)}, 0))))`;
    const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    const o = JSON.parse(out) as { unavailable?: { reason: string } };
    expect(o.unavailable?.reason).toMatch(/energy_uj: permission denied \(energy counters are root-only since Linux 5\.10, CVE-2020-8694/);
  });
});
