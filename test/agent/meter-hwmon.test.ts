// hwmon and the ACPI power meter on fake /sys/class/hwmon trees: microwatt power inputs, averages, cumulative
// microjoule energy inputs, attributes under device/, labels, and the ACPI meter kept apart from the rest.
import { afterEach, describe, expect, test } from 'vitest';
import { HwmonMeter } from '../../src/agent/meter/hwmon.js';
import { FakeTree } from './fake-sysfs.js';

const S = 1e9;
let tree: FakeTree;
afterEach(() => tree?.cleanup());

function open(t: FakeTree, which: 'acpi' | 'hwmon') {
  const o = HwmonMeter.open(t.root, which, 0);
  if (!('meter' in o)) throw new Error(o.unavailable.reason);
  return o.meter;
}

describe('HwmonMeter', () => {
  test('power*_input (µW) with labels, and power*_average under device/', async () => {
    tree = new FakeTree();
    tree.write('hwmon0/name', 'coretemp'); // no power sensor: ignored
    tree.write('hwmon0/temp1_input', 40000);
    tree.write('hwmon1/name', 'psu');
    tree.write('hwmon1/power1_input', 120_500_000);
    tree.write('hwmon1/power1_label', 'pin');
    tree.write('hwmon2/device/name', 'amdgpu');
    tree.write('hwmon2/device/power1_average', 35_000_000);
    const m = open(tree, 'hwmon');
    expect(m.source).toBe('hwmon');
    expect(m.platform).toBe(false);
    const r = await m.read({ monotonicNs: 1 * S, cpuUtilisation: 0 });
    expect(r.zones).toEqual([
      { zone: 'psu/pin', watts: 120.5, inTotal: true },
      { zone: 'amdgpu/power1', watts: 35, inTotal: true },
    ]);
    expect(r.watts).toBeCloseTo(155.5, 9);
  });

  test('energy*_input (µJ) becomes watts over the interval; a counter reset counts from 0', async () => {
    tree = new FakeTree();
    tree.write('hwmon3/name', 'amd_energy');
    tree.write('hwmon3/energy1_input', 5_000_000);
    tree.write('hwmon3/energy1_label', 'Esocket0');
    const m = open(tree, 'hwmon');
    tree.write('hwmon3/energy1_input', 5_000_000 + 3 * 42_000_000); // 126 J in 3 s
    expect((await m.read({ monotonicNs: 3 * S, cpuUtilisation: 0 })).watts).toBeCloseTo(42, 9);
    tree.write('hwmon3/energy1_input', 7_000_000); // went back: driver reloaded; 7 J in the 1 s since
    expect((await m.read({ monotonicNs: 4 * S, cpuUtilisation: 0 })).watts).toBeCloseTo(7, 9);
  });

  test('a device with both power and energy sensors counts power only (no double count)', async () => {
    tree = new FakeTree();
    tree.write('hwmon0/name', 'dev');
    tree.write('hwmon0/power1_input', 10_000_000);
    tree.write('hwmon0/energy1_input', 0);
    const r = await open(tree, 'hwmon').read({ monotonicNs: 1 * S, cpuUtilisation: 0 });
    expect(r.watts).toBeCloseTo(10, 9);
  });

  test('the ACPI power_meter is its own platform meter and is not in the hwmon meter', async () => {
    tree = new FakeTree();
    tree.write('hwmon0/name', 'power_meter');
    tree.write('hwmon0/power1_average', 310_000_000);
    const acpi = open(tree, 'acpi');
    expect([acpi.source, acpi.platform]).toEqual(['acpi', true]);
    expect((await acpi.read({ monotonicNs: 1 * S, cpuUtilisation: 0 })).watts).toBeCloseTo(310, 9);
    expect(HwmonMeter.open(tree.root, 'hwmon', 0)).toEqual({ unavailable: { name: 'hwmon', reason: `${tree.root}: no hwmon power or energy sensor` } });
  });

  test('no devices: unavailable; a sensor that vanishes mid-run: read() throws', async () => {
    tree = new FakeTree();
    expect(HwmonMeter.open(tree.root, 'acpi', 0)).toEqual({ unavailable: { name: 'acpi', reason: `${tree.root}: no ACPI power_meter device` } });
    tree.write('hwmon0/name', 'psu');
    tree.write('hwmon0/power1_input', 1_000_000);
    const m = open(tree, 'hwmon');
    tree.remove('hwmon0');
    await expect(m.read({ monotonicNs: 1 * S, cpuUtilisation: 0 })).rejects.toThrow(/power1_input: missing/);
  });
});
