import { describe, expect, test } from 'vitest';
import type { CollectorReading } from '../../src/agent/collector/types.js';
import { addCounters, buildReport, ratesBetween } from '../../src/agent/monitor/report.js';
import type { Counters } from '../../src/shared/wire/agent.js';

describe('ratesBetween', () => {
  test.for([
    { why: 'steady', prev: { cpuSeconds: 1, contextSwitches: 100 }, cur: { cpuSeconds: 3, contextSwitches: 300 }, s: 2, want: { cpuSeconds: 1, contextSwitches: 100 } },
    { why: 'new cgroup: all of it is in the interval', prev: null, cur: { cpuSeconds: 0.5 }, s: 0.5, want: { cpuSeconds: 1 } },
    { why: 'counter went back (reset) gives 0', prev: { cpuSeconds: 5 }, cur: { cpuSeconds: 1 }, s: 1, want: { cpuSeconds: 0 } },
    { why: 'zero interval gives 0', prev: { cpuSeconds: 1 }, cur: { cpuSeconds: 2 }, s: 0, want: { cpuSeconds: 0 } },
    { why: 'counter missing before gives 0', prev: { cpuSeconds: 1 }, cur: { cpuSeconds: 2, cycles: 10 }, s: 1, want: { cpuSeconds: 1, cycles: 0 } },
    { why: 'idle', prev: { cpuSeconds: 0 }, cur: { cpuSeconds: 0 }, s: 1, want: { cpuSeconds: 0 } },
    {
      why: 'every counter, over 4 s',
      prev: { cpuSeconds: 2, contextSwitches: 40, cycles: 4e9, instructions: 8e9, cacheMisses: 400, cpuPressureSomeSeconds: 1 },
      cur: { cpuSeconds: 6, contextSwitches: 120, cycles: 1.2e10, instructions: 1.6e10, cacheMisses: 1200, cpuPressureSomeSeconds: 3 },
      s: 4,
      want: { cpuSeconds: 1, contextSwitches: 20, cycles: 2e9, instructions: 2e9, cacheMisses: 200, cpuPressureSomeSeconds: 0.5 },
    },
  ] as { why: string; prev: Counters | null; cur: Counters; s: number; want: Counters }[])('$why', ({ prev, cur, s, want }) => {
    expect(ratesBetween(prev, cur, s)).toEqual(want);
  });
});

const UID = '0f5b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const SD = UID.replaceAll('-', '_');
const C1 = 'a'.repeat(64);
const C2 = 'b'.repeat(64);
const podPath = (c: string) => `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${SD}.slice/cri-containerd-${c}.scope`;

function reading(atS: number, cgroups: CollectorReading['cgroups']): CollectorReading {
  return { monotonicNs: atS * 1e9, cgroups, dropped: 0 };
}

describe('addCounters', () => {
  test('adds every counter present, and starts one the sum did not have yet from 0', () => {
    const into: Counters = { cpuSeconds: 1, contextSwitches: 10 };
    addCounters(into, { cpuSeconds: 0.5, contextSwitches: 5, cycles: 7, instructions: 9, cacheMisses: 3, cpuPressureSomeSeconds: 0.25 });
    addCounters(into, { cpuSeconds: 0.25 });
    expect(into).toEqual({ cpuSeconds: 1.75, contextSwitches: 15, cycles: 7, instructions: 9, cacheMisses: 3, cpuPressureSomeSeconds: 0.25 });
  });
});

describe('buildReport', () => {
  const ctx = {
    node: 'n1',
    at: new Date('2026-01-01T00:00:00Z'),
    layout: 'v2' as const,
    collector: { name: 'fallback' as const, variant: 'x', reason: 'r', attempts: [] },
    counters: {},
    kubernetes: { mode: 'standalone' as const, detail: 'd' },
    lookupPod: (uid: string) =>
      uid === UID ? { uid, namespace: 'shop', name: 'web-1', qos: 'burstable' as const, workload: { kind: 'Deployment' as const, namespace: 'shop', name: 'web', id: 'shop/Deployment/web' }, cpuRequestCores: 0, containerNames: new Map<string, string>() } : undefined,
  };

  test('groups container cgroups into pods with summed counters and rates; others stay cgroups', () => {
    const prev = reading(10, [
      { id: '1', path: podPath(C1), exited: false, counters: { cpuSeconds: 1, contextSwitches: 10 } },
      { id: '2', path: podPath(C2), exited: false, counters: { cpuSeconds: 2, contextSwitches: 20 } },
      { id: '3', path: '/system.slice/ssh.service', exited: false, counters: { cpuSeconds: 5 } },
    ]);
    const cur = reading(12, [
      { id: '1', path: podPath(C1), exited: false, counters: { cpuSeconds: 2, contextSwitches: 30 } },
      { id: '2', path: podPath(C2), exited: true, counters: { cpuSeconds: 3, contextSwitches: 40 } },
      { id: '3', path: '/system.slice/ssh.service', exited: false, counters: { cpuSeconds: 5 } },
      { id: '9', path: null, exited: true, counters: { cpuSeconds: 0.2 } },
    ]);
    const r = buildReport(prev, cur, ctx);
    expect(r.intervalSeconds).toBe(2);
    expect(r.pods).toHaveLength(1);
    const pod = r.pods[0]!;
    expect(pod).toMatchObject({ uid: UID, namespace: 'shop', name: 'web-1', qos: 'burstable', containers: [C1, C2] });
    expect(pod.workload?.id).toBe('shop/Deployment/web');
    expect(pod.cumulative).toEqual({ cpuSeconds: 5, contextSwitches: 70 });
    expect(pod.rates).toEqual({ cpuSeconds: 1, contextSwitches: 20 });
    expect(r.cgroups.find((c) => c.id === '3')?.owner).toEqual({ kind: 'system', name: 'ssh.service' });
    expect(r.cgroups.find((c) => c.id === '9')).toMatchObject({ path: null, exited: true, owner: { kind: 'group', name: 'cgroup-id:9' }, rates: { cpuSeconds: 0.1 } });
  });

  test('each cgroup is compared with its own previous sample whatever order the readings list them in', () => {
    // Rates by hand over 2 s: id 1 (1 -> 3 s) 1/s; id 2 (2 -> 2.5 s) 0.25/s; id 3 gone; id 4 new, all 0.4 s in it: 0.2/s.
    const prev = reading(10, [
      { id: '1', path: '/a.slice', exited: false, counters: { cpuSeconds: 1 } },
      { id: '2', path: '/b.slice', exited: false, counters: { cpuSeconds: 2 } },
      { id: '3', path: '/c.slice', exited: false, counters: { cpuSeconds: 9 } },
    ]);
    const cur = reading(12, [
      { id: '2', path: '/b.slice', exited: false, counters: { cpuSeconds: 2.5 } },
      { id: '4', path: '/d.slice', exited: false, counters: { cpuSeconds: 0.4 } },
      { id: '1', path: '/a.slice', exited: false, counters: { cpuSeconds: 3 } },
    ]);
    const rates = Object.fromEntries(buildReport(prev, cur, ctx).cgroups.map((c) => [c.id, c.rates.cpuSeconds]));
    expect(rates).toEqual({ '1': 1, '2': 0.25, '4': 0.2 });
  });

  test('the first report has zero rates and no interval', () => {
    const r = buildReport(null, reading(1, [{ id: '1', path: '/', exited: false, counters: { cpuSeconds: 100 } }]), ctx);
    expect(r.intervalSeconds).toBe(0);
    expect(r.cgroups[0]?.rates.cpuSeconds).toBe(0);
  });

  test('a pod unknown to the API server keeps its UID and the QoS from its path', () => {
    const other = '11111111-2222-3333-4444-555555555555';
    const r = buildReport(null, reading(1, [{ id: '1', path: `/kubepods/besteffort/pod${other}/${C1}`, exited: false, counters: { cpuSeconds: 1 } }]), ctx);
    expect(r.pods[0]).toMatchObject({ uid: other, namespace: null, name: null, qos: 'besteffort', workload: null });
  });
});
