// The cgroupfs side against fake directory trees: layout detection for the three layouts, and the fallback
// collector's arithmetic (self time, vanished children, /proc context switches) on files we control.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FallbackCollector } from '../../src/agent/collector/fallback.js';
import { type CgroupLayout, detectLayout, procCgroupPath, walkCgroups } from '../../src/agent/resource/cgroupfs.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wattsched-cgfake-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function file(rel: string, text: string): void {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
}

const cpuStat = (usec: number) => `usage_usec ${usec}\nuser_usec ${Math.floor(usec / 2)}\nsystem_usec ${Math.ceil(usec / 2)}\n`;

describe('detectLayout on fake trees', () => {
  test.for([
    { why: 'pure v2', files: ['cgroup.controllers'], want: { name: 'v2', v2: '', cpuacct: undefined } },
    { why: 'hybrid (systemd default on older distros)', files: ['unified/cgroup.controllers', 'cpuacct/cpuacct.usage', 'cpu/cpu.shares'], want: { name: 'hybrid', v2: 'unified', cpuacct: 'cpuacct' } },
    { why: 'hybrid with co-mounted cpu,cpuacct', files: ['unified/cgroup.controllers', 'cpu,cpuacct/cpuacct.usage'], want: { name: 'hybrid', v2: 'unified', cpuacct: 'cpu,cpuacct' } },
    { why: 'pure v1', files: ['cpu,cpuacct/cpuacct.usage', 'memory/memory.usage_in_bytes'], want: { name: 'v1', v2: undefined, cpuacct: 'cpu,cpuacct' } },
  ])('$why', ({ files, want }) => {
    for (const f of files) file(f, '0\n');
    const l = detectLayout(root) as CgroupLayout;
    expect(l.name).toBe(want.name);
    expect(l.v2Path).toBe(want.v2 === undefined ? undefined : want.v2 === '' ? root : join(root, want.v2));
    expect(l.cpuacctPath).toBe(want.cpuacct === undefined ? undefined : join(root, want.cpuacct));
  });

  test('an empty directory is an error with a reason', () => {
    expect(detectLayout(root)).toEqual({ error: expect.stringContaining('no cgroup hierarchy') });
  });

  test('a forced layout that the tree does not have is an error', () => {
    file('cgroup.controllers', '');
    expect(detectLayout(root, 'v1')).toEqual({ error: expect.stringContaining('layout v1 requested') });
    expect(detectLayout(root, 'hybrid')).toEqual({ error: expect.stringContaining('layout hybrid requested') });
  });
});

describe('procCgroupPath', () => {
  const hybrid = '12:cpu,cpuacct:/kubepods/pod1/abc\n11:memory:/kubepods/pod1/abc\n1:name=systemd:/kubepods/pod1/abc\n0::/kubepods/pod1/abc\n';
  test.for([
    { content: '0::/system.slice/ssh.service\n', h: 'v2', want: '/system.slice/ssh.service' },
    { content: hybrid, h: 'v2', want: '/kubepods/pod1/abc' },
    { content: hybrid, h: 'cpuacct', want: '/kubepods/pod1/abc' },
    { content: '0::/x\n', h: 'cpuacct', want: null },
    { content: '', h: 'v2', want: null },
  ] as const)('$h of $content', ({ content, h, want }) => {
    expect(procCgroupPath(content, h)).toBe(want);
  });
});

describe('FallbackCollector on a fake v2 tree', () => {
  function layout(): CgroupLayout {
    return { name: 'v2', v2Path: join(root, 'cg') };
  }

  test('walks children before parents with inode ids', () => {
    file('cg/cgroup.controllers', '');
    file('cg/a/b/cpu.stat', cpuStat(1));
    const nodes = walkCgroups(join(root, 'cg'));
    expect(nodes.map((n) => n.path)).toEqual(['/a/b', '/a', '/']);
    expect(nodes[0]?.parentId).toBe(nodes[1]?.id);
    expect(nodes[2]?.parentId).toBeNull();
  });

  test('self time subtracts live children, and a vanished child leaves only its unseen tail to the parent', async () => {
    file('cg/cgroup.controllers', '');
    file('cg/cpu.stat', cpuStat(1000));
    file('cg/a/cpu.stat', cpuStat(600));
    file('cg/a/x/cpu.stat', cpuStat(400));
    file('cg/b/cpu.stat', cpuStat(100));
    file('cg/b/cpu.pressure', 'some avg10=0.00 avg60=0.00 avg300=0.00 total=2500\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=100\n');
    const c = new FallbackCollector({ layout: layout(), source: 'auto', procSwitches: false, reason: 'test' });
    const byPath = (r: Awaited<ReturnType<typeof c.read>>) => new Map(r.cgroups.map((s) => [s.path, s]));
    const r1 = byPath(await c.read());
    expect(r1.get('/')?.counters.cpuSeconds).toBeCloseTo(300e-6, 12);
    expect(r1.get('/a')?.counters.cpuSeconds).toBeCloseTo(200e-6, 12);
    expect(r1.get('/a/x')?.counters.cpuSeconds).toBeCloseTo(400e-6, 12);
    expect(r1.get('/b')?.counters.cpuPressureSomeSeconds).toBeCloseTo(2500e-6, 12);

    // x runs 100 µs more, then is removed; a's own tasks use 100 µs more; the root's 100 µs more.
    rmSync(join(root, 'cg/a/x'), { recursive: true });
    file('cg/a/cpu.stat', cpuStat(800));
    file('cg/cpu.stat', cpuStat(1300));
    const r2 = byPath(await c.read());
    expect(r2.get('/a/x')?.exited).toBe(true);
    expect(r2.get('/a/x')?.counters.cpuSeconds).toBeCloseTo(400e-6, 12);
    expect(r2.get('/a')?.counters.cpuSeconds).toBeCloseTo(400e-6, 12); // 200 + own 100 + x's unseen 100
    expect(r2.get('/')?.counters.cpuSeconds).toBeCloseTo(400e-6, 12);
    const total = [...r2.values()].filter((s) => !s.exited).reduce((a, s) => a + s.counters.cpuSeconds, 0) + 400e-6;
    expect(total).toBeCloseTo(1300e-6, 12); // nothing counted twice, nothing lost

    const r3 = byPath(await c.read());
    expect(r3.has('/a/x')).toBe(false); // reported once as exited, then forgotten
  });

  test('self time never goes backwards when children are read ahead of a stale parent', async () => {
    file('cg/cgroup.controllers', '');
    file('cg/cpu.stat', cpuStat(1000));
    file('cg/a/cpu.stat', cpuStat(500));
    const c = new FallbackCollector({ layout: layout(), source: 'v2', procSwitches: false, reason: null });
    await c.read();
    file('cg/a/cpu.stat', cpuStat(900)); // parent not yet updated
    const r = await c.read();
    expect(r.cgroups.find((s) => s.path === '/')?.counters.cpuSeconds).toBeCloseTo(500e-6, 12);
  });

  test('context switches from /proc threads, by cgroup, counting only increments of known threads', async () => {
    file('cg/cgroup.controllers', '');
    file('cg/cpu.stat', cpuStat(10));
    file('cg/a/cpu.stat', cpuStat(5));
    const status = (v: number, nv: number) => `Name:\tx\nvoluntary_ctxt_switches:\t${v}\nnonvoluntary_ctxt_switches:\t${nv}\n`;
    file('proc/100/cgroup', '0::/a\n');
    file('proc/100/task/100/status', status(10, 5));
    file('proc/100/task/101/status', status(1, 1));
    file('proc/200/cgroup', '0::/\n');
    file('proc/200/task/200/status', status(7, 0));
    file('proc/self/cgroup', '0::/a\n'); // not numeric: ignored
    const c = new FallbackCollector({ layout: layout(), source: 'v2', procSwitches: true, procRoot: join(root, 'proc'), reason: null });
    const get = async () => new Map((await c.read()).cgroups.map((s) => [s.path, s.counters.contextSwitches]));
    expect(await get()).toEqual(new Map([['/a', 17], ['/', 7]]));
    rmSync(join(root, 'proc/100/task/101'), { recursive: true });
    file('proc/100/task/100/status', status(20, 5));
    expect(await get()).toEqual(new Map([['/a', 27], ['/', 7]]));
    expect(c.counters().context_switches.live).toBe(true);
    expect(c.counters().cycles.live).toBe(false);
  });

  test('v1 cpuacct hierarchy', async () => {
    file('cpuacct/cpuacct.usage', '5000000\n');
    file('cpuacct/job/cpuacct.usage', '2000000\n');
    const l = detectLayout(root) as CgroupLayout;
    const c = new FallbackCollector({ layout: l, source: 'auto', procSwitches: false, reason: null });
    expect(c.status().variant).toContain('cpuacct');
    const r = new Map((await c.read()).cgroups.map((s) => [s.path, s.counters.cpuSeconds]));
    expect(r.get('/job')).toBeCloseTo(0.002, 12);
    expect(r.get('/')).toBeCloseTo(0.003, 12);
    expect(c.counters().cpu_pressure.live).toBe(false);
  });
});
