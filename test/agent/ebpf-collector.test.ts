// The eBPF collector's bookkeeping over a fake kernel map and a fake cgroup tree (plain directories: the walk names a
// cgroup by its directory's inode, as on cgroup v2): when it walks, how it names ids, and when it frees the entries
// of cgroups that are gone. No root, no BPF.
import { mkdirSync, mkdtempSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { NativeAddon, NativeSession, ProgramVariant, SessionOptions } from '../../src/agent/collector/addon.js';

const walks = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../src/agent/resource/cgroupfs.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/agent/resource/cgroupfs.js')>();
  return {
    ...real,
    walkCgroups: (mount: string) => {
      walks.count += 1;
      return real.walkCgroups(mount);
    },
  };
});
const { EbpfCollector } = await import('../../src/agent/collector/ebpf.js');

/** A kernel map we fill by hand: id -> [cpu_ns, switches, cycles, instructions, cache_misses]. */
class FakeMap {
  readonly entries = new Map<bigint, number[]>();
  readonly removed: bigint[] = [];
  session(): NativeSession {
    return {
      read: () => ({
        ids: BigUint64Array.from(this.entries.keys()),
        values: Float64Array.from([...this.entries.values()].flat()),
        batched: true,
      }),
      remove: (ids: BigUint64Array) => {
        for (const id of ids) if (this.entries.delete(id)) this.removed.push(id);
        return ids.length;
      },
      dropped: () => 0,
      info: () => ({ variant: 'tp_btf' as ProgramVariant, pmu: { cycles: 'off', instructions: 'off', cache_misses: 'off' }, pmuStandIn: false, exitHook: null, flush: null, flushHz: 10 }),
      destroy: () => {},
    };
  }
  addon(): NativeAddon {
    const session = this.session();
    return {
      Session: function (_v: ProgramVariant, _o: SessionOptions) {
        return session;
      } as unknown as NativeAddon['Session'],
      layout: { fields: 'cpu_ns,switches,cycles,instructions,cache_misses', valueBytes: 40, nfields: 5 },
      libbpfVersion: 'fake',
    };
  }
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wattsched-ebpf-fake-'));
  walks.count = 0;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const ino = (dir: string) => statSync(dir, { bigint: true }).ino;

describe('EbpfCollector bookkeeping (fake map, fake tree)', () => {
  test('names ids by walking, and a cgroup removed before it was named costs one walk, not one per reading', async () => {
    const a = join(root, 'a');
    const gone = join(root, 'gone');
    mkdirSync(a);
    mkdirSync(gone);
    const map = new FakeMap();
    map.entries.set(ino(a), [2e9, 10, 0, 0, 0]);
    map.entries.set(ino(gone), [5e8, 3, 0, 0, 0]);
    const goneId = ino(gone).toString();
    rmdirSync(gone); // ran and was removed before the agent ever walked: it can never be named
    const opened = EbpfCollector.open({ addon: map.addon(), v2Path: root, maxCgroups: 16, pmuCounters: [], variants: ['tp_btf'] });
    if (!('collector' in opened)) throw new Error(JSON.stringify(opened.attempts));
    const c = opened.collector;

    const r1 = await c.read();
    expect(walks.count).toBe(1);
    expect(r1.cgroups.find((s) => s.id === ino(a).toString())).toMatchObject({ path: '/a', exited: false, counters: { cpuSeconds: 2, contextSwitches: 10 } });
    expect(r1.cgroups.find((s) => s.id === goneId)).toMatchObject({ path: null, exited: true, counters: { cpuSeconds: 0.5, contextSwitches: 3 } });

    // Reported once more (the grace for a dying task's last slice), then freed; no second walk for the same id.
    const r2 = await c.read();
    expect(walks.count).toBe(1);
    expect(r2.cgroups.find((s) => s.id === goneId)?.exited).toBe(true);
    expect(map.removed.map(String)).toEqual([goneId]);

    const r3 = await c.read();
    expect(walks.count).toBe(1);
    expect(r3.cgroups.map((s) => s.id)).toEqual([ino(a).toString()]);

    // A new cgroup's id is unknown: that does walk, and names it.
    const b = join(root, 'b');
    mkdirSync(b);
    map.entries.set(ino(b), [1e9, 1, 0, 0, 0]);
    const r4 = await c.read();
    expect(walks.count).toBe(2);
    expect(r4.cgroups.find((s) => s.id === ino(b).toString())?.path).toBe('/b');
    await c.close();
  });

  test('a named cgroup that is removed, or replaced by a new one at the same path, is noticed by a check, not a walk', async () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    mkdirSync(a);
    mkdirSync(b);
    const map = new FakeMap();
    map.entries.set(ino(a), [1e9, 1, 0, 0, 0]);
    map.entries.set(ino(b), [1e9, 1, 0, 0, 0]);
    const oldB = ino(b).toString();
    const opened = EbpfCollector.open({ addon: map.addon(), v2Path: root, maxCgroups: 16, pmuCounters: [], variants: ['tp_btf'], liveCheckMs: 0 });
    if (!('collector' in opened)) throw new Error(JSON.stringify(opened.attempts));
    const c = opened.collector;
    expect((await c.read()).cgroups.every((s) => !s.exited)).toBe(true);
    expect(walks.count).toBe(1);

    rmdirSync(a);
    rmdirSync(b);
    mkdirSync(b); // same path, another cgroup (another inode); it has not run yet, so it is not in the map
    const r = await c.read();
    expect(walks.count).toBe(1);
    const byPath = Object.fromEntries(r.cgroups.map((s) => [s.id === oldB ? 'oldB' : s.path, s.exited]));
    expect(byPath).toEqual({ '/a': true, oldB: true });
    await c.read();
    expect(map.entries.size).toBe(0); // both freed after being reported twice
    await c.close();
  });

  test('a cgroup whose CPU time grew since the previous read counts as live at that check; the first check after it stops growing finds it gone', async () => {
    const a = join(root, 'a');
    mkdirSync(a);
    const map = new FakeMap();
    map.entries.set(ino(a), [1e9, 1, 0, 0, 0]);
    const id = ino(a).toString();
    const opened = EbpfCollector.open({ addon: map.addon(), v2Path: root, maxCgroups: 16, pmuCounters: [], variants: ['tp_btf'], liveCheckMs: 0 });
    if (!('collector' in opened)) throw new Error(JSON.stringify(opened.attempts));
    const c = opened.collector;
    expect((await c.read()).cgroups).toMatchObject([{ id, exited: false }]);

    // Its last task ran, exited, and the cgroup was removed, all since the previous read: it grew, so this check
    // takes it as live without a stat (removal is then noticed one check later).
    rmdirSync(a);
    map.entries.set(BigInt(id), [1.5e9, 2, 0, 0, 0]);
    expect((await c.read()).cgroups).toMatchObject([{ id, exited: false, counters: { cpuSeconds: 1.5 } }]);
    // No growth now: the check stats it, finds it gone, reports its final counts, then frees it after one more read.
    expect((await c.read()).cgroups).toMatchObject([{ id, exited: true, counters: { cpuSeconds: 1.5 } }]);
    expect((await c.read()).cgroups).toMatchObject([{ id, exited: true }]);
    expect(map.entries.size).toBe(0);
    expect(walks.count).toBe(1);
    await c.close();
  });
});
