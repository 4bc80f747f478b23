// nvidia-smi sampling: the parser replays the recorded H100 run (shared/data/gpu-h100), and the meter runs against
// a stand-in nvidia-smi (a shell script printing recorded lines), including the sampler dying mid-run.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { NvidiaMeter, PmonAccumulator, SMI_FIELDS, SmiAccumulator, parsePmonLine, parseSmiLine, smiHeaderFields } from '../../src/agent/meter/nvidia.js';
import { gpuWattsByRow } from '../../src/agent/attribution/rows.js';
import { FakeTree } from './fake-sysfs.js';
import { sharedDataDir } from '../../bench/paths.js';

// The recorded run lies in the shared data beside the checkout (WATTSCHED_DATA_DIR overrides), as CI lays it out.
const DATA = join(sharedDataDir(), 'gpu-h100/gpu_samples.csv');
let tree: FakeTree | undefined;
afterEach(() => tree?.cleanup());

describe('parseSmiLine', () => {
  test.each([
    { why: 'numbers', line: '0, 121.07, 0, 0, 1980', want: { index: 0, 'power.draw': 121.07, 'utilization.gpu': 0, 'utilization.memory': 0, 'clocks.current.sm': 1980 } },
    { why: '[N/A] is null, never 0', line: '1, [N/A], 55, 3, 1410', want: { index: 1, 'power.draw': null, 'utilization.gpu': 55, 'utilization.memory': 3, 'clocks.current.sm': 1410 } },
    { why: '[Not Supported]', line: '0, 80.5, [Not Supported], 0, 1000', want: { index: 0, 'power.draw': 80.5, 'utilization.gpu': null, 'utilization.memory': 0, 'clocks.current.sm': 1000 } },
  ])('$why', ({ line, want }) => {
    expect(parseSmiLine(SMI_FIELDS, line)).toEqual(want);
  });
  test('a line with the wrong number of fields, or blank, is not a record', () => {
    expect(parseSmiLine(SMI_FIELDS, '0, 121.07')).toBeNull();
    expect(parseSmiLine(SMI_FIELDS, '')).toBeNull();
  });

  test('replays the recorded H100 run: every one of its 4,180 rows parses, with its power', () => {
    const [header, ...lines] = readFileSync(DATA, 'utf8').trim().split('\n');
    const fields = smiHeaderFields(header as string);
    expect(fields.slice(1, 4)).toEqual(['power.draw', 'power.draw.instant', 'utilization.gpu']);
    const recs = lines.map((l) => parseSmiLine(fields, l));
    expect(recs).toHaveLength(4180);
    expect(recs.every((r) => r !== null && typeof r['power.draw'] === 'number')).toBe(true);
    // First row of the file: 2026/11/24 20:08:30.386, 121.07, 122.01, 0, 0, 1980, 2619, 35, 0, P0
    expect(recs[0]).toMatchObject({ 'power.draw': 121.07, 'power.draw.instant': 122.01, 'clocks.current.sm': 1980, 'memory.used': 0, pstate: null });
  });
});

const PMON = join(sharedDataDir(), 'gpu-h100/gpu_pmon.txt');
describe('per-process GPU use (nvidia-smi pmon -s um)', () => {
  test.each([
    ['    0        433     C     75     26      -      -      -      -   1514      0    python3        ', { gpu: 0, pid: 433, sm: 75 }],
    ['    0        433     C      -      -      -      -      -      -     14      0    python3        ', { gpu: 0, pid: 433, sm: null }],
    ['    0          -     -      -      -      -      -      -      -      -      -    -              ', null],
    ['# gpu         pid   type     sm    mem    enc    dec    jpg    ofa     fb   ccpm    command ', null],
  ])('%j', (line, want) => expect(parsePmonLine(line)).toEqual(want));

  // Counted with awk on the file: 432 lines, 20 headers, 217 rows without a process, 195 with one (16 distinct
  // pids, one per load phase), 192 of those with an SM sample.
  test('replays the recorded pmon output: 195 process rows, 16 processes, 192 SM samples', () => {
    const recs = readFileSync(PMON, 'utf8').split('\n').map(parsePmonLine).filter((r) => r !== null);
    expect(recs).toHaveLength(195);
    expect(new Set(recs.map((r) => r.pid)).size).toBe(16);
    expect(recs.filter((r) => r.sm !== null)).toHaveLength(192);
    expect(recs.every((r) => r.gpu === 0)).toBe(true);
  });

  test('weights per GPU and process, then each GPU zone split by them into rows; unknown processes stay unsplit', () => {
    const acc = new PmonAccumulator();
    for (const r of [{ gpu: 0, pid: 1, sm: 50 }, { gpu: 0, pid: 1, sm: 25 }, { gpu: 0, pid: 2, sm: 25 }, { gpu: 1, pid: 3, sm: 50 }, { gpu: 1, pid: 4, sm: null }]) acc.add(r);
    const procs = acc.take();
    expect(procs).toEqual([
      { zone: 'gpu-0', pid: 1, weight: 75 },
      { zone: 'gpu-0', pid: 2, weight: 25 },
      { zone: 'gpu-1', pid: 3, weight: 50 },
    ]);
    expect(acc.take()).toEqual([]);
    // gpu-0: 300 W as 75 : 25; gpu-1: its only process has no known row, so none of its 100 W is assigned.
    const rows = gpuWattsByRow([{ zone: 'gpu-0', watts: 300 }, { zone: 'gpu-1', watts: 100 }], procs, (pid) => ({ 1: 'a', 2: 'b' } as Record<number, string>)[pid] ?? null);
    expect(rows).toEqual(new Map([['a', 225], ['b', 75]]));
  });
});

describe('SmiAccumulator', () => {
  test('mean per GPU over the samples since the last take; the last value when none arrived', () => {
    const a = new SmiAccumulator();
    a.add({ index: 0, 'power.draw': 100 });
    a.add({ index: 1, 'power.draw': 300 });
    a.add({ index: 0, 'power.draw': 110 });
    a.add({ index: 0, 'power.draw': 120 });
    expect(a.take()).toEqual([
      { index: 0, watts: 110, samples: 3 },
      { index: 1, watts: 300, samples: 1 },
    ]);
    expect(a.take()).toEqual([
      { index: 0, watts: 120, samples: 0 },
      { index: 1, watts: 300, samples: 0 },
    ]);
  });
});

/** A stand-in nvidia-smi: checks its arguments, prints `lines`, touches `done`, then waits to be killed or exits. */
function fakeSmi(t: FakeTree, lines: string[], after: 'wait' | 'exit'): { command: string; done: string } {
  const data = t.write('lines.txt', lines.join('\n'));
  const done = t.path('done');
  const script = `#!/bin/sh
case "$*" in *"--query-gpu=${SMI_FIELDS.join(',')} --format=csv,noheader,nounits -lms 100"*) ;; *) echo "bad args: $*" >&2; exit 2;; esac
cat ${data}
touch ${done}
${after === 'wait' ? 'exec sleep 30' : 'exit 3'}
`;
  const command = join(t.root, 'nvidia-smi');
  writeFileSync(command, script);
  chmodSync(command, 0o755);
  return { command, done };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('NvidiaMeter', () => {
  test('an interval is the mean of the samples that arrived in it (first idle phase of the H100 run)', async () => {
    tree = new FakeTree();
    const [header, ...rows] = readFileSync(DATA, 'utf8').trim().split('\n');
    const cols = (header as string).split(',').map((s) => s.trim());
    const pick = (r: string) => {
      const v = r.split(',').map((s) => s.trim());
      return [0, v[cols.indexOf('power.draw [W]')], v[cols.indexOf('utilization.gpu [%]')], v[cols.indexOf('utilization.memory [%]')], v[cols.indexOf('clocks.current.sm [MHz]')]].join(', ');
    };
    const first = rows.slice(0, 50);
    const expected = first.map((r) => Number(r.split(',')[1])).reduce((a, b) => a + b, 0) / first.length;
    const { command, done } = fakeSmi(tree, first.map(pick), 'wait');
    const o = await NvidiaMeter.open({ command, periodMs: 100, startTimeoutMs: 5000 });
    if (!('meter' in o)) throw new Error(o.unavailable.reason);
    await until(() => existsSync(done));
    await new Promise((r) => setTimeout(r, 50));
    const r = await o.meter.read({ monotonicNs: 0, cpuUtilisation: 0 });
    expect(r.zones).toHaveLength(1);
    expect(r.zones[0]?.zone).toBe('gpu-0');
    expect(r.watts).toBeCloseTo(expected, 9);
    await o.meter.close();
  });

  test('a sampler that exits mid-run makes read() throw with its exit status', async () => {
    tree = new FakeTree();
    const { command, done } = fakeSmi(tree, ['0, 100.0, 10, 1, 1500', '1, 200.0, 90, 40, 1900'], 'exit');
    const o = await NvidiaMeter.open({ command, periodMs: 100, startTimeoutMs: 5000 });
    if (!('meter' in o)) throw new Error(o.unavailable.reason);
    await until(() => existsSync(done));
    await new Promise((r) => setTimeout(r, 100));
    await expect(o.meter.read({ monotonicNs: 0, cpuUtilisation: 0 })).rejects.toThrow(/exited \(code 3\)/);
  });

  test('no nvidia-smi: unavailable, with the reason', async () => {
    const o = await NvidiaMeter.open({ command: '/nonexistent/wattsched-t9/nvidia-smi', periodMs: 100, startTimeoutMs: 2000 });
    expect(o).toEqual({ unavailable: { name: 'nvidia', reason: '/nonexistent/wattsched-t9/nvidia-smi: not found (no NVIDIA driver)' } });
  });
});
