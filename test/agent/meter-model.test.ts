// The model layer: hardware fingerprint from fake /proc and DMI trees, the curve chosen for it (shipped model, else
// the embedded curve scaled by threads), and the layering that replaces a failing meter by the next, never by 0.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { parseCpuinfo, readHardware } from '../../src/agent/meter/hardware.js';
import { NodePower } from '../../src/agent/meter/layers.js';
import { shippedCurve } from '../../src/agent/meter/curve-child.js';
import { ModelMeter, chooseNodeCurve, scaledDefaultCurve } from '../../src/agent/meter/model.js';
import { monotoneCurve } from '../../src/model/load-curve.js';
import { intervalBetween, parseProcStat } from '../../src/agent/meter/procstat.js';
import type { Meter, MeterInput, PowerReading } from '../../src/agent/meter/types.js';
import { FakeTree } from './fake-sysfs.js';

let tree: FakeTree | undefined;
afterEach(() => tree?.cleanup());

/** 2 sockets x 2 cores x 2 threads. */
function cpuinfo(): string {
  const blocks: string[] = [];
  let p = 0;
  for (const socket of [0, 1]) for (let t = 0; t < 4; t++) {
    blocks.push(`processor\t: ${p++}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\ncpu MHz\t\t: 2793.438\nphysical id\t: ${socket}\nsiblings\t: 4\ncpu cores\t: 2\n`);
  }
  return blocks.join('\n');
}

describe('hardware fingerprint', () => {
  test('cpuinfo: sockets from physical ids, cores summed per socket, threads = processors', () => {
    expect(parseCpuinfo(cpuinfo())).toEqual({ cpuModel: 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', vendor: 'GenuineIntel', sockets: 2, cores: 4, threads: 8, mhz: 2793.438 });
  });

  test('cpuinfo, meminfo and DMI make the description; the base clock comes from the model name', () => {
    tree = new FakeTree();
    tree.write('proc/cpuinfo', cpuinfo());
    tree.write('proc/meminfo', 'MemTotal:       65536000 kB\nMemFree: 1 kB');
    tree.write('dmi/bios_date', '03/15/2019');
    tree.write('dmi/sys_vendor', 'Dell Inc.');
    tree.write('dmi/product_name', 'PowerEdge R640');
    const h = readHardware({ procRoot: tree.path('proc'), dmiRoot: tree.path('dmi'), defaultYear: 2020 });
    expect(h.hardware).toEqual({ cpuModel: 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', sockets: 2, cores: 4, threads: 8, memoryGb: 62.5, year: 2019, nodes: 1, cpuMhz: 2100, cpuVendor: 'intel' });
    expect(h.system).toBe('Dell Inc. PowerEdge R640');
    expect(h.assumed).toEqual([]);
  });

  test('no DMI (a VM or container): the configured year, and the assumption is said', () => {
    tree = new FakeTree();
    tree.write('proc/cpuinfo', 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.118\nphysical id\t: 0\ncpu cores\t: 1\n');
    tree.write('proc/meminfo', 'MemTotal:       2097152 kB');
    const h = readHardware({ procRoot: tree.path('proc'), dmiRoot: tree.path('nodmi'), defaultYear: 2021 });
    expect(h.hardware).toMatchObject({ cpuModel: 'AMD EPYC', sockets: 1, cores: 1, threads: 1, memoryGb: 2, year: 2021, cpuMhz: 2596, cpuVendor: 'amd' });
    expect(h.assumed).toEqual(['year 2021 (no DMI bios_date)']);
  });
});

describe('/proc/stat', () => {
  test('busy = all but idle and iowait; utilisation and busy seconds over the interval', () => {
    const a = parseProcStat('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n');
    const b = parseProcStat('cpu  200 0 100 1000 50 10 10 30 0 0\n');
    expect(a).toEqual({ busy: 150, total: 1000 });
    expect(b).toEqual({ busy: 350, total: 1400 });
    // 200 busy ticks of 400: 50 %, 2 CPU seconds at USER_HZ 100.
    expect(intervalBetween(a, b)).toEqual({ utilisation: 0.5, busySeconds: 2 });
    expect(intervalBetween(null, b)).toEqual({ utilisation: 0, busySeconds: 0 });
  });
});

describe('node curve', () => {
  const hw = { cpuModel: 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', sockets: 2, cores: 40, threads: 80, memoryGb: 384, year: 2019, nodes: 1, cpuMhz: 2100 };

  test('the shipped curve model answers for a described node, with its id and known error', async () => {
    const c = await chooseNodeCurve(hw, { modelsDir: 'models', shipped: shippedCurve });
    expect(c.id).toBe('shipped:curve');
    // The known error is the one the shipped index stores for that model (its nested held-out MAPE).
    const index = JSON.parse(readFileSync('models/index.json', 'utf8')) as { curve: { grouped: { mapePercent: number } } };
    expect(c.errorPercent).toBe(index.curve.grouped.mapePercent);
    expect(c.curve).toHaveLength(11);
    for (let i = 1; i < 11; i++) expect(c.curve[i]).toBeGreaterThanOrEqual(c.curve[i - 1] as number);
    expect(c.curve[10]).toBeGreaterThan(c.curve[0] as number);
  });

  const dist = resolve('dist/src/agent/meter/model.js');
  test.skipIf(!existsSync(dist))(`the agent scores it in a child process (built CLI): the same curve as in-process${existsSync(dist) ? '' : ' (skipped: needs the built dist/: npm run build)'}`, async () => {
    const { shippedCurveInChild } = (await import(dist)) as typeof import('../../src/agent/meter/model.js');
    expect(await shippedCurveInChild('models', hw)).toEqual(await shippedCurve('models', hw));
  });

  test('without the shipped model: the SPECpower median curve scaled by threads/240', async () => {
    const c = await chooseNodeCurve({ ...hw, threads: 24 }, { modelsDir: '/nonexistent/wattsched-t9', shipped: shippedCurve });
    expect(c.id).toBe('embedded:specpower-median');
    expect(c.curve[0]).toBeCloseTo(12.3, 9); // 123 W x 0.1
    expect(c.curve[10]).toBeCloseTo(62.9, 9); // 629 W x 0.1
    // 25 % load lies halfway between 20 % (255 W) and 30 % (290 W): (255 + 290) / 2 x 0.1 = 27.25 W.
    const r = await new ModelMeter(c).read({ monotonicNs: 0, cpuUtilisation: 0.25 });
    expect(r.watts).toBeCloseTo(27.25, 9);
    expect(r.idleWatts).toBeCloseTo(12.3, 9);
    expect(r.model).toMatchObject({ id: 'embedded:specpower-median', errorPercent: null });
  });

  test('a configured curve wins; a model output that falls with load is made non-decreasing', async () => {
    const curve = [50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150];
    expect((await chooseNodeCurve(hw, { modelsDir: 'models', configured: curve })).curve).toEqual(curve);
    expect(monotoneCurve([10, 20, 15, 30, 30, 40, 50, 60, 70, 80, -5], 't')).toEqual([10, 20, 20, 30, 30, 40, 50, 60, 70, 80, 80]);
    expect(scaledDefaultCurve({ ...hw, threads: 240 })).toEqual([123, 217, 255, 290, 326, 354, 389, 442, 499, 565, 629]);
  });
});

/** A meter that answers `watts` until `failAfter` reads, then throws as a vanished sysfs file would. */
class DyingMeter implements Meter {
  readonly source = 'rapl' as const;
  reads = 0;
  constructor(readonly name: string, private readonly watts: number, private readonly failAfter: number, readonly platform = false) {}
  async read(): Promise<PowerReading> {
    if (++this.reads > this.failAfter) throw new Error(`${this.name}: energy_uj: missing`);
    return { source: this.source, watts: this.watts, zones: [{ zone: 'package-0', watts: this.watts, inTotal: true }] };
  }
  async close() {}
}

describe('NodePower layers', () => {
  const model = new ModelMeter({ curve: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200], id: 'config', errorPercent: null, detail: 't' });
  const at = (u: number): MeterInput => ({ monotonicNs: 0, cpuUtilisation: u });

  test('a meter that dies mid-run is reported and replaced by the model in the same interval, never by 0', async () => {
    const rapl = new DyingMeter('rapl', 80, 2);
    const p = new NodePower([rapl, model], [], [{ name: 'acpi', reason: 'no ACPI power_meter device' }]);
    expect(await p.read(at(0.5))).toMatchObject({ source: 'rapl', watts: 80, idleWatts: 80 });
    expect(await p.read(at(0.5))).toMatchObject({ source: 'rapl', watts: 80 });
    const third = await p.read(at(0.5));
    expect(third).toMatchObject({ source: 'model', watts: 150, idleWatts: 100, model: { id: 'config' } });
    expect(p.states()).toEqual([
      { name: 'rapl', source: 'rapl', state: 'failed', detail: 'rapl: energy_uj: missing', failures: 1 },
      { name: 'model', source: 'model', state: 'active', detail: null, failures: 0 },
      { name: 'acpi', source: null, state: 'unavailable', detail: 'no ACPI power_meter device', failures: 0 },
    ]);
    expect(rapl.reads).toBe(3); // not retried after it failed
    await p.read(at(0.5));
    expect(rapl.reads).toBe(3);
  });

  test('a measuring meter idle is the lowest reading so far; GPUs add to a non-platform layer only', async () => {
    const gpu = new DyingMeter('nvidia', 300, 1);
    const p = new NodePower([new DyingMeter('rapl', 90, 10), model], [gpu], []);
    expect(await p.read(at(0.1))).toMatchObject({ source: 'rapl', watts: 390, additiveWatts: 300, idleWatts: 90 });
    // The GPU sampler died: its watts leave the total, its state says so, the base layer carries on.
    expect(await p.read(at(0.1))).toMatchObject({ source: 'rapl', watts: 90, additiveWatts: 0 });
    expect(p.states().find((s) => s.name === 'nvidia')).toMatchObject({ state: 'failed', failures: 1 });
    const platform = new NodePower([new DyingMeter('acpi', 400, 10, true)], [new DyingMeter('nvidia', 300, 10)], []);
    expect(await platform.read(at(0.1))).toMatchObject({ watts: 400, additiveWatts: 0 });
  });
});
