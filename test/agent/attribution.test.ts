// Attribution by hand-computed tables, then the ledger: totals that only go up through container churn, retention,
// the series cap, and a checkpoint that survives a restart.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { type AttributionInput, attribute } from '../../src/agent/attribution/attribute.js';
import { EnergyLedger, type LedgerInterval, readCheckpoint, writeCheckpoint } from '../../src/agent/attribution/ledger.js';
import { systemRowOf } from '../../src/agent/attribution/rows.js';
import { FakeTree } from './fake-sysfs.js';

// node 100 W, idle 40 W, so 60 W dynamic; /proc/stat says 3 busy CPU seconds, cgroups were charged 2.5 (a 1, b 1,
// s 0.5), so the kernel did 0.5: dynamic per CPU second = 60 / 3 = 20 W.
const base: AttributionInput = {
  nodeWatts: 100,
  idleWatts: 40,
  gpuWatts: 0,
  nodeBusySeconds: 3,
  consumers: [
    { key: 'a', pod: 'p1', cpuSeconds: 1 },
    { key: 'b', pod: 'p2', cpuSeconds: 1 },
    { key: 's', pod: null, cpuSeconds: 0.5 },
  ],
  podRequests: new Map([
    ['p1', 1],
    ['p2', 3],
  ]),
  policy: 'none',
};

describe('attribute', () => {
  test.each([
    { policy: 'none', a: 20, b: 20, s: 10, kernel: 10, idle: 40 },
    // even: 40 W / 2 pods = 20 W each on top of their dynamic share
    { policy: 'even', a: 40, b: 40, s: 10, kernel: 10, idle: 0 },
    // cpu-request: 1 : 3 of 40 W = 10 W and 30 W
    { policy: 'cpu-request', a: 30, b: 50, s: 10, kernel: 10, idle: 0 },
    // cpu-time: idle follows CPU seconds like dynamic: 40 W / 3 s = 13.33 W per second
    { policy: 'cpu-time', a: 20 + 40 / 3, b: 20 + 40 / 3, s: 10 + 20 / 3, kernel: 10 + 20 / 3, idle: 0 },
  ] as const)('idle policy $policy', ({ policy, a, b, s, kernel, idle }) => {
    const r = attribute({ ...base, policy });
    expect(r.rows.map((x) => x.watts)).toEqual([a, b, s].map((v) => expect.closeTo(v, 9)));
    expect(r.kernelWatts).toBeCloseTo(kernel, 9);
    expect(r.idleUnassignedWatts).toBeCloseTo(idle, 9);
    expect(r.residualRatio).toBeLessThan(1e-12);
  });

  test.each([
    { why: 'cpu-request with no requests leaves idle unassigned', input: { policy: 'cpu-request', podRequests: new Map() }, rows: [20, 20, 10], kernel: 10, idle: 40 },
    { why: 'nothing ran: dynamic (a meter can show some) is the kernel row', input: { nodeBusySeconds: 0, consumers: [] }, rows: [], kernel: 60, idle: 40 },
    { why: 'cgroups charged more than /proc/stat: kernel 0, split by cgroup time', input: { nodeBusySeconds: 1 }, rows: [24, 24, 12], kernel: 0, idle: 40 },
    { why: 'GPU watts are their own row, outside idle and dynamic', input: { nodeWatts: 300, gpuWatts: 200 }, rows: [20, 20, 10], kernel: 10, idle: 40, gpu: 200 },
    { why: 'idle above the node (a stale minimum) is clamped: no negative dynamic', input: { nodeWatts: 30 }, rows: [0, 0, 0], kernel: 0, idle: 30 },
    { why: 'a node at 0 W', input: { nodeWatts: 0, idleWatts: 0 }, rows: [0, 0, 0], kernel: 0, idle: 0 },
  ] as const)('$why', ({ input, rows, kernel, idle, ...rest }) => {
    const r = attribute({ ...base, ...(input as Partial<AttributionInput>) });
    expect(r.rows.map((x) => x.watts)).toEqual(rows.map((v) => expect.closeTo(v, 9)));
    expect(r.kernelWatts).toBeCloseTo(kernel, 9);
    expect(r.idleUnassignedWatts).toBeCloseTo(idle, 9);
    expect(r.gpuWatts).toBe('gpu' in rest ? rest.gpu : 0);
    expect(Math.abs(r.residualWatts)).toBeLessThan(1e-9);
  });

  test.each([
    // 200 W of GPU inside 300 W: 120 W of it by a's GPU use; the other 80 W stays the gpu row.
    { why: 'GPU watts by per-process use go to their rows; the rest stays the gpu row', gpuByKey: [['a', 120]], a: 140, b: 20, gpu: 80 },
    // The split asks for 400 W of a 200 W GPU: scaled by 0.5, never more than was measured.
    { why: 'a split above the measured GPU watts is scaled down to it', gpuByKey: [['a', 300], ['b', 100]], a: 170, b: 70, gpu: 0 },
  ] as const)('$why', ({ gpuByKey, a, b, gpu }) => {
    const r = attribute({ ...base, nodeWatts: 300, gpuWatts: 200, gpuByKey: new Map(gpuByKey as unknown as [string, number][]) });
    expect(r.rows.map((x) => x.watts)).toEqual([a, b, 10].map((v) => expect.closeTo(v, 9)));
    expect(r.gpuWatts).toBeCloseTo(gpu, 9);
    expect(Math.abs(r.residualWatts)).toBeLessThan(1e-9);
  });

  test('even idle within a pod follows its containers CPU time, or is even when none ran', () => {
    const r = attribute({
      ...base,
      policy: 'even',
      nodeBusySeconds: 4,
      consumers: [
        { key: 'a1', pod: 'p1', cpuSeconds: 3 },
        { key: 'a2', pod: 'p1', cpuSeconds: 1 },
        { key: 'b1', pod: 'p2', cpuSeconds: 0 },
        { key: 'b2', pod: 'p2', cpuSeconds: 0 },
      ],
    });
    // dynamic 60 W over 4 s = 15 W/s; idle 20 W per pod: p1 3:1 = 15 + 5, p2 evenly 10 + 10.
    expect(r.rows.map((x) => [x.dynamicWatts, x.idleWatts])).toEqual([
      [45, 15],
      [15, 5],
      [0, 10],
      [0, 10],
    ]);
  });
});

describe('system rows', () => {
  test.each([
    ['/', 'root'],
    ['/system.slice/ssh.service', 'system.slice'],
    ['/user.slice/user-0.slice/session-3.scope', 'user.slice'],
    ['/kubepods.slice/kubepods-besteffort.slice', 'kubepods.slice'],
    ['/wattsched-t9-loop-8812', 'other'],
    ['/docker/abc', 'other'],
  ])('%s -> %s', (path, row) => expect(systemRowOf(path)).toBe(row));
  test('an unnamed cgroup (came and went between walks) is other', () => expect(systemRowOf(null)).toBe('other'));
});

const labels = { pod: 'web-1', namespace: 'shop', workload: 'shop/Deployment/web' };
function interval(atMs: number, containers: [string, string, number, number][], system: [string, number][] = []): LedgerInterval {
  return {
    atMs,
    seconds: 1,
    containers: containers.map(([podUid, container, watts, cpu]) => ({ podUid, labels: { ...labels, pod: podUid }, container, watts, cpuSeconds: cpu, contextSwitches: 10 })),
    system: system.map(([name, watts]) => ({ name, watts, cpuSeconds: 0, contextSwitches: 0 })),
    zones: [{ source: 'model', zone: 'node', watts: 50 }],
    node: { source: 'model', watts: 50 },
  };
}

describe('EnergyLedger', () => {
  test('a pod keeps what its replaced containers did: totals only go up through churn', () => {
    const l = new EnergyLedger({ retentionMs: 60_000, maxPods: 10 });
    l.apply(interval(1000, [['P', 'app', 10, 0.5]]));
    l.apply(interval(2000, [['P', 'app', 20, 1]]));
    // The container restarted: a new cgroup with the same name; its own counters start at 0, the pod's do not.
    l.apply(interval(3000, [['P', 'app', 5, 0.25], ['P', 'sidecar', 1, 0.1]]));
    const p = l.pods.get('P')!;
    expect(p.totals.joules).toBeCloseTo(36, 9); // 10 + 20 + 5 + 1 W for 1 s each
    expect(p.totals.cpuSeconds).toBeCloseTo(1.85, 9);
    expect(p.totals.contextSwitches).toBe(40);
    expect(p.containers.get('app')?.joules).toBeCloseTo(35, 9);
    expect(p.watts).toBeCloseTo(6, 9);
    expect(l.workloads.get('shop\u0000shop/Deployment/web')?.totals.joules).toBeCloseTo(36, 9);
    expect(l.nodeJoules.get('model')).toBeCloseTo(150, 9);
  });

  test('a finished pod stays (0 W, final total) for the retention window, then is dropped', () => {
    const l = new EnergyLedger({ retentionMs: 10_000, maxPods: 10 });
    l.apply(interval(1000, [['P', 'app', 10, 1], ['Q', 'app', 1, 1]]));
    l.apply(interval(6000, [['Q', 'app', 1, 1]]));
    expect(l.pods.get('P')).toMatchObject({ watts: 0, totals: { joules: 10 } });
    l.apply(interval(11_000, [['Q', 'app', 1, 1]]));
    expect(l.pods.has('P')).toBe(true); // last seen 1000, 10,000 ms ago: still inside
    l.apply(interval(11_001, [['Q', 'app', 1, 1]]));
    expect(l.pods.has('P')).toBe(false);
  });

  test('the cap: pods beyond it go to the overflow row, each counted once as a dropped series', () => {
    const l = new EnergyLedger({ retentionMs: 60_000, maxPods: 1 });
    l.apply(interval(1000, [['P', 'app', 10, 1], ['Q', 'app', 3, 1]], [['kernel', 2]]));
    l.apply(interval(2000, [['P', 'app', 10, 1], ['Q', 'app', 3, 1]], [['kernel', 2]]));
    expect([...l.pods.keys()]).toEqual(['P']);
    expect(l.droppedSeries).toBe(1);
    expect(l.system.get('overflow')).toMatchObject({ watts: 3, joules: 6 });
    // Conservation still holds over what is exported: 10 + 3 + 2 = 15 of a 50 W node here, so the residual shows it.
    expect(l.residualRatio()).toBeCloseTo(35 / 50, 9);
  });

  let tree: FakeTree | undefined;
  afterEach(() => tree?.cleanup());

  test('checkpoint: written atomically, restored into a fresh ledger with the same totals', () => {
    tree = new FakeTree('wattsched-t9-ckpt-');
    const path = tree.path('energy.json');
    const l = new EnergyLedger({ retentionMs: 60_000, maxPods: 10 });
    l.apply(interval(1000, [['P', 'app', 10, 1]], [['system.slice', 4]]));
    writeCheckpoint(path, l, 1000);
    expect(readdirSync(tree.root)).toEqual(['energy.json']); // no temp file left behind
    const again = new EnergyLedger({ retentionMs: 60_000, maxPods: 10 });
    expect(readCheckpoint(path, again)).toBeNull();
    expect(again.pods.get('P')).toMatchObject({ pod: 'P', watts: 0, totals: { joules: 10, cpuSeconds: 1, contextSwitches: 10 } });
    expect(again.system.get('system.slice')?.joules).toBe(4);
    expect(again.nodeJoules.get('model')).toBe(50);
    again.apply(interval(2000, [['P', 'app', 10, 1]]));
    expect(again.pods.get('P')?.totals.joules).toBe(20);
  });

  test('checkpoint: absent is a first start; garbage is reported, not a crash', () => {
    tree = new FakeTree('wattsched-t9-ckpt-');
    const l = new EnergyLedger({ retentionMs: 1, maxPods: 1 });
    expect(readCheckpoint(tree.path('none.json'), l)).toBe('no checkpoint yet');
    writeFileSync(tree.path('bad.json'), '{"version": 99}');
    expect(readCheckpoint(tree.path('bad.json'), l)).toMatch(/unusable checkpoint \(checkpoint version 99, expected 1\)/);
    writeFileSync(tree.path('trunc.json'), '{"vers');
    expect(readCheckpoint(tree.path('trunc.json'), l)).toMatch(/unusable checkpoint/);
    expect(existsSync(tree.path('trunc.json'))).toBe(true);
  });
});

describe('EnergyAccounting with a GPU', () => {
  let procTree: FakeTree | undefined;
  afterEach(() => procTree?.cleanup());

  test('GPU watts follow the GPU process to its pod through /proc/<pid>/cgroup; conservation holds', async () => {
    const { EnergyAccounting } = await import('../../src/agent/monitor/energy.js');
    const { NodePower } = await import('../../src/agent/meter/layers.js');
    const { ModelMeter } = await import('../../src/agent/meter/model.js');
    const uid = '0f5b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
    const path = `/kubepods/besteffort/pod${uid}/${'c'.repeat(64)}`;
    procTree = new FakeTree('wattsched-t9-proc-');
    procTree.write('4242/cgroup', `12:cpuacct:/x\n0::${path}`);
    procTree.write('4343/cgroup', '0::/system.slice/ml.service');
    const gpu = {
      name: 'nvidia',
      source: 'nvidia' as const,
      platform: false,
      read: async () => ({
        source: 'nvidia' as const,
        watts: 400,
        zones: [{ zone: 'gpu-0', watts: 400, inTotal: true }],
        // 3 : 1 between the pod's process and a system service; pid 9999 has exited (no /proc entry).
        processes: [{ zone: 'gpu-0', pid: 4242, weight: 60 }, { zone: 'gpu-0', pid: 4343, weight: 20 }, { zone: 'gpu-0', pid: 9999, weight: 20 }],
      }),
      close: async () => {},
    };
    const curve = [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];
    const energy = new EnergyAccounting({
      power: new NodePower([new ModelMeter({ curve, id: 'config', errorPercent: null, detail: '' })], [gpu], []),
      nodeCpu: () => ({ utilisation: 0, busySeconds: 0 }),
      ledger: new EnergyLedger({ retentionMs: 60_000, maxPods: 10 }),
      policy: 'none',
      checkpointPath: null,
      procRoot: procTree.root,
    });
    const owner = { kind: 'pod' as const, podUid: uid, containerId: 'c'.repeat(64), qos: 'besteffort' as const, name: uid };
    const report = {
      node: 'n', at: '', intervalSeconds: 1, layout: 'v2' as const,
      collector: { name: 'ebpf' as const, variant: '', reason: null, attempts: [] }, counters: {}, droppedCgroups: 0,
      kubernetes: { mode: 'standalone' as const, detail: '' },
      cgroups: [
        { id: '1', path, exited: false, owner, cumulative: { cpuSeconds: 0 }, rates: { cpuSeconds: 0 } },
        { id: '2', path: '/system.slice/ml.service', exited: false, owner: { kind: 'system' as const, name: 'ml.service' }, cumulative: { cpuSeconds: 0 }, rates: { cpuSeconds: 0 } },
      ],
      pods: [{ uid, namespace: null, name: null, qos: null, workload: null, containers: [], cumulative: { cpuSeconds: 0 }, rates: { cpuSeconds: 0 } }],
    };
    const out = await energy.account(report, () => undefined, 1e9);
    // Node 100 W (idle, nothing ran) + 400 W GPU: pod 240 W, system.slice 80 W, gpu row 80 W (the exited process).
    expect(out.power?.watts).toBe(500);
    expect(out.pods[0]?.energy?.watts).toBeCloseTo(240, 9);
    const sys = Object.fromEntries((out.power?.system ?? []).map((r) => [r.name, r.watts]));
    expect(sys).toMatchObject({ 'system.slice': 80, gpu: 80, idle: 100, kernel: 0 });
    expect(out.power?.residualRatio).toBeLessThan(1e-12);
  });
});

describe('EnergyAccounting counter rates', () => {
  test('a meter that reads counterRates gets the node sums of the interval: busy CPU from /proc/stat, switches over every cgroup', async () => {
    const { EnergyAccounting } = await import('../../src/agent/monitor/energy.js');
    const { NodePower } = await import('../../src/agent/meter/layers.js');
    const seen: (Readonly<Record<string, number>> | undefined)[] = [];
    // Stands in for a counters model: watts = 10 + switches per second / 100.
    const meter = {
      name: 'counters',
      source: 'model' as const,
      platform: true,
      read: async (input: { counterRates?: () => Readonly<Record<string, number>> }) => {
        const rates = input.counterRates?.();
        seen.push(rates);
        const w = 10 + (rates?.context_switches_per_s ?? 0) / 100;
        return { source: 'model' as const, watts: w, zones: [{ zone: 'node', watts: w, inTotal: true }], idleWatts: 10 };
      },
      close: async () => {},
    };
    const energy = new EnergyAccounting({
      power: new NodePower([meter], [], []),
      nodeCpu: () => ({ utilisation: 0.25, busySeconds: 1 }),
      ledger: new EnergyLedger({ retentionMs: 60_000, maxPods: 10 }),
      policy: 'none',
      checkpointPath: null,
    });
    const cg = (id: string, name: string, switchesPerS: number) => ({ id, path: `/${name}`, exited: false, owner: { kind: 'system' as const, name }, cumulative: { cpuSeconds: 0 }, rates: { cpuSeconds: 0.25, contextSwitches: switchesPerS } });
    const report = (intervalSeconds: number) => ({
      node: 'n', at: '', intervalSeconds, layout: 'v2' as const,
      collector: { name: 'ebpf' as const, variant: '', reason: null, attempts: [] },
      counters: { context_switches: { live: true, detail: '' }, cycles: { live: false, detail: '' } }, droppedCgroups: 0,
      kubernetes: { mode: 'standalone' as const, detail: '' },
      cgroups: [cg('1', 'a', 300), cg('2', 'b', 500)],
      pods: [],
    });
    // First reading: no interval yet, so no rates. Then a 2 s interval: 1 busy CPU s / 2 s = 0.5, switches 300 + 500.
    await energy.account(report(0), () => undefined, 0);
    const out = await energy.account(report(2), () => undefined, 2e9);
    expect(seen).toEqual([undefined, { cpu_seconds_per_s: 0.5, context_switches_per_s: 800 }]);
    expect(out.power?.watts).toBe(18);
  });
});
