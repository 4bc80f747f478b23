// Windows for the model server from node reports: time-weighted means of metered watts and node counters over
// consecutive intervals, never made from the model's estimate or across a change of meter. Expected values are
// worked out by hand from the intervals given.
import { describe, expect, test } from 'vitest';
import type { NodeReport } from '../../src/shared/wire/agent.js';
import { WindowBuilder, intervalSample } from '../../src/agent/push/window.js';
import { backoffMs } from '../../src/agent/push/pusher.js';
import { classify } from '../../src/agent/push/client.js';

type Src = NonNullable<NodeReport['power']>['source'];

interface Iv {
  atS: number;
  seconds: number;
  watts: number;
  busy: number;
  source?: Src | null;
  cycles?: [number, number] | null;
  gpu?: boolean;
}

function report(iv: Iv): NodeReport {
  const source = iv.source === undefined ? 'rapl' : iv.source;
  const cyclesLive = iv.cycles !== undefined && iv.cycles !== null;
  return {
    node: 'n1',
    at: new Date(iv.atS * 1000).toISOString(),
    intervalSeconds: iv.seconds,
    layout: 'v2',
    collector: { name: 'fallback', variant: 'cgroupfs v2 cpu.stat', reason: null, attempts: [] },
    counters: { cpu_time: { live: true, detail: '' }, cycles: { live: cyclesLive, detail: '' }, context_switches: { live: false, detail: 'off' } },
    droppedCgroups: 0,
    kubernetes: { mode: 'standalone', detail: '' },
    cgroups: [0, 1].map((i) => ({
      id: String(i),
      path: `/g${i}`,
      exited: false,
      owner: { kind: 'group' as const, name: `g${i}` },
      cumulative: { cpuSeconds: 0 },
      rates: { cpuSeconds: 0.5, ...(cyclesLive ? { cycles: (iv.cycles as [number, number])[i] as number } : {}), contextSwitches: 99 },
    })),
    pods: [],
    ...(source === null
      ? {}
      : {
          power: {
            source,
            watts: iv.watts,
            idleWatts: 10,
            zones: [{ zone: 'package-0', source, watts: iv.watts, inTotal: true }, ...(iv.gpu ? [{ zone: 'gpu-0', source: 'nvidia' as const, watts: 50, inTotal: true }] : [])],
            model: null,
            meters: [],
            cpuUtilisation: 0.5,
            busyCpuSeconds: iv.busy,
            idlePolicy: 'none' as const,
            residualRatio: 0,
            system: [],
          },
        }),
  };
}

describe('one interval', () => {
  test('the first reading (no interval yet) is nothing, not a skip', () => {
    expect(intervalSample(report({ atS: 10, seconds: 0, watts: 100, busy: 0 }), false)).toBeNull();
  });
  test('node CPU from /proc/stat per second; PMU counters summed over cgroups only when live', () => {
    // busy 3 CPU-seconds over 2 s = 1.5; cycles 1e9 + 3e9 per second; context switches not live → absent.
    expect(intervalSample(report({ atS: 10, seconds: 2, watts: 100, busy: 3, cycles: [1e9, 3e9] }), false)).toEqual({ seconds: 2, source: 'rapl', watts: 100, counters: { cpu_seconds_per_s: 1.5, cpu_cycles_per_s: 4e9 } });
    expect(intervalSample(report({ atS: 10, seconds: 2, watts: 100, busy: 3 }), false)).toEqual({ seconds: 2, source: 'rapl', watts: 100, counters: { cpu_seconds_per_s: 1.5 } });
  });
  test('estimated watts, no power section, and unnamed GPU watts are skips', () => {
    expect(intervalSample(report({ atS: 10, seconds: 1, watts: 100, busy: 1, source: 'model' }), false)).toEqual({ skip: 'estimated' });
    expect(intervalSample(report({ atS: 10, seconds: 1, watts: 100, busy: 1, source: null }), false)).toEqual({ skip: 'no_power' });
    expect(intervalSample(report({ atS: 10, seconds: 1, watts: 100, busy: 1, gpu: true }), false)).toEqual({ skip: 'gpu_model_unknown' });
    expect(intervalSample(report({ atS: 10, seconds: 1, watts: 100, busy: 1, gpu: true }), true)).not.toHaveProperty('skip');
  });
});

describe('WindowBuilder', () => {
  test('averages over time until the window is covered', () => {
    const b = new WindowBuilder(3, false);
    expect(b.add(report({ atS: 100, seconds: 1, watts: 100, busy: 2 }))).toBeNull();
    expect(b.add(report({ atS: 101, seconds: 1, watts: 130, busy: 4 }))).toBeNull();
    // (100 + 130 + 160) / 3 = 130 W; busy (2 + 4 + 6) / 3 s = 4; from 100 − 1 to 102.
    expect(b.add(report({ atS: 102, seconds: 1, watts: 160, busy: 6 }))).toEqual({ start: 99, end: 102, counters: { cpu_seconds_per_s: 4 }, watts: 130 });
    // The next window starts afresh.
    expect(b.add(report({ atS: 103, seconds: 1, watts: 10, busy: 1 }))).toBeNull();
  });

  test('weights by interval length', () => {
    const b = new WindowBuilder(2, false);
    expect(b.add(report({ atS: 50.5, seconds: 0.5, watts: 100, busy: 0.5, cycles: [1e9, 1e9] }))).toBeNull();
    // (100·0.5 + 200·1.5) / 2 = 175 W; busy (0.5 + 3) / 2 = 1.75 per s; cycles (2e9·0.5 + 4e9·1.5) / 2 = 3.5e9.
    expect(b.add(report({ atS: 52, seconds: 1.5, watts: 200, busy: 3, cycles: [1e9, 3e9] }))).toEqual({ start: 50, end: 52, counters: { cpu_seconds_per_s: 1.75, cpu_cycles_per_s: 3.5e9 }, watts: 175 });
  });

  test('a counter that stops being live mid-window is left out of that window', () => {
    const b = new WindowBuilder(2, false);
    b.add(report({ atS: 1, seconds: 1, watts: 100, busy: 1, cycles: [1, 1] }));
    expect(b.add(report({ atS: 2, seconds: 1, watts: 100, busy: 1 }))?.counters).toEqual({ cpu_seconds_per_s: 1 });
  });

  test('an estimated interval abandons the open window: nothing is sent, every interval is counted', () => {
    const b = new WindowBuilder(3, false);
    b.add(report({ atS: 1, seconds: 1, watts: 100, busy: 1 }));
    b.add(report({ atS: 2, seconds: 1, watts: 100, busy: 1 }));
    expect(b.add(report({ atS: 3, seconds: 1, watts: 100, busy: 1, source: 'model' }))).toBeNull();
    expect(b.skipped.get('estimated')).toBe(3);
    // Model-only node: never a window.
    for (let i = 4; i < 20; i++) expect(b.add(report({ atS: i, seconds: 1, watts: 100, busy: 1, source: 'model' }))).toBeNull();
    expect(b.skipped.get('estimated')).toBe(19);
    // Metered again: a window after three metered intervals, starting at the first of them.
    b.add(report({ atS: 21, seconds: 1, watts: 90, busy: 1 }));
    b.add(report({ atS: 22, seconds: 1, watts: 90, busy: 1 }));
    expect(b.add(report({ atS: 23, seconds: 1, watts: 90, busy: 1 }))).toMatchObject({ start: 20, end: 23, watts: 90 });
  });

  test('a change of meter never mixes sources in one window', () => {
    const b = new WindowBuilder(2, false);
    b.add(report({ atS: 1, seconds: 1, watts: 100, busy: 1, source: 'rapl' }));
    expect(b.add(report({ atS: 2, seconds: 1, watts: 300, busy: 1, source: 'hwmon' }))).toBeNull();
    expect(b.skipped.get('source_changed')).toBe(1);
    expect(b.add(report({ atS: 3, seconds: 1, watts: 310, busy: 1, source: 'hwmon' }))).toEqual({ start: 1, end: 3, counters: { cpu_seconds_per_s: 1 }, watts: 305 });
  });
});

describe('retry policy', () => {
  test('backoff doubles from the initial delay, is capped, and jitters within [½, 1] of the ceiling', () => {
    expect(backoffMs(1, 1000, 60_000, 1)).toBe(1000);
    expect(backoffMs(1, 1000, 60_000, 0)).toBe(500);
    expect(backoffMs(4, 1000, 60_000, 1)).toBe(8000);
    expect(backoffMs(20, 1000, 60_000, 1)).toBe(60_000);
    expect(backoffMs(1000, 1000, 60_000, 0)).toBe(30_000);
  });
  test('answers: 2xx with a body is an acknowledgement; a bad batch or a full server is refused; anything else retried', () => {
    expect(classify(200, '{"fingerprint":"x","accepted":3,"total":9,"duplicate":true}')).toEqual({ kind: 'ack', accepted: 3, duplicate: true });
    expect(classify(200, 'not json').kind).toBe('retry');
    for (const s of [400, 409, 413, 422]) expect(classify(s, '{"error":"WS_ERR_MODEL_LIMIT","message":"full"}')).toMatchObject({ kind: 'refused', status: s });
    expect(classify(409, '{"error":"WS_ERR_MODEL_LIMIT","message":"full"}')).toMatchObject({ reason: 'HTTP 409 WS_ERR_MODEL_LIMIT: full' });
    for (const s of [401, 403, 404, 408, 429, 500, 502, 503]) expect(classify(s, '').kind).toBe('retry');
  });
});
