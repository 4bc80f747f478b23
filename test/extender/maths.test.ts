// Hand-computed tables for the pure functions the extender's answers rest on.
import { describe, expect, test } from 'vitest';
import { cpuMillicores, parseQuantity } from '../../src/shared/quantity.js';
import { DEFAULT_POWER_CURVE, parseCurve, powerAt } from '../../src/model/curve.js';
import { parsePowerCap, scoresFromWatts } from '../../src/extender/scoring/scores.js';
import { marginalWatts } from '../../src/extender/scorers/power-curve/index.js';
import { podCpuRequestMilli } from '../../src/extender/protocol/pod.js';
import type { Pod } from '../../src/shared/wire/extender.js';
import { canonicalizeExtenderArgs, canonicalizePreemptionArgs } from '../../src/extender/protocol/go-keys.js';

const LINEAR = [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];

describe('quantities', () => {
  test.for([
    ['500m', 500], ['1', 1000], ['0.5', 500], ['2.5', 2500], ['100u', 1], ['1k', 1_000_000], ['1e3', 1_000_000],
    ['0.1', 100], ['0', 0], [4, 4000], ['1.0001', 1001], ['+2', 2000],
  ] as const)('cpu %s = %d millicores', ([q, milli]) => {
    expect(cpuMillicores(q)).toBe(milli);
  });
  test.for(['', 'abc', '1x', '--1', '1..2', '-1'])('invalid cpu %j', (q) => {
    expect(cpuMillicores(q)).toBeUndefined();
  });
  test.for([['1Ki', 1024], ['64Mi', 64 * 2 ** 20], ['1G', 1e9], ['65023412Ki', 65023412 * 1024]] as const)('memory %s', ([q, bytes]) => {
    expect(parseQuantity(q)).toBe(bytes);
  });
});

describe('power curves', () => {
  test.for([
    [0, 100], [0.05, 105], [0.1, 110], [0.55, 155], [1, 200], [-0.5, 100], [1.7, 200],
  ] as const)('linear curve at load %d is %d W', ([u, w]) => {
    expect(powerAt(LINEAR, u)).toBeCloseTo(w, 9);
  });
  test('default curve end points', () => {
    expect(powerAt(DEFAULT_POWER_CURVE, 0)).toBe(123);
    expect(powerAt(DEFAULT_POWER_CURVE, 1)).toBe(629);
  });
  test.for([
    ['61,70,80,90,100,110,120,130,140,150,160', 61],
    ['[61, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160]', 61],
    ['6.1e1,70,80,90,100,110,120,130,140,150,160', 61],
  ] as const)('parses %j', ([text, first]) => {
    expect(parseCurve(text, 't')[0]).toBe(first);
  });
  test.for([
    ['1,2,3', /expected 11 values/],
    ['a,b,c,d,e,f,g,h,i,j,k', /not a comma-separated list/],
    ['1,2,3,4,5,6,7,8,9,10,', /not a comma-separated list/],
    ['-1,2,3,4,5,6,7,8,9,10,11', /value 0 .* not a non-negative/],
  ] as const)('rejects %j', ([text, why]) => {
    expect(() => parseCurve(text, 'wattsched.io/power-curve')).toThrow(why);
  });
  test.for([
    // [allocatable, requested, pod, marginal, withPod] on the 100..200 W linear curve: 10 W per 10 % load.
    [10_000, 0, 1000, 10, 110],
    [10_000, 5000, 1000, 10, 160],
    [10_000, 9500, 1000, 5, 200], // over capacity: the curve is flat past 100 %
    [10_000, 0, 0, 0, 100],
    [4000, 1000, 2000, 50, 175],
  ] as const)('marginal watts alloc=%d req=%d pod=%d → +%d W (total %d W)', ([a, r, p, m, w]) => {
    const out = marginalWatts(LINEAR, a, r, p);
    expect(out.marginal).toBeCloseTo(m, 9);
    expect(out.withPod).toBeCloseTo(w, 9);
  });
});

describe('score mapping', () => {
  test.for([
    [[1, 2, 3], [10, 5, 0]],
    [[5, 5, 5], [10, 10, 10]],
    [[3, NaN, 1], [0, 0, 10]],
    [[NaN, NaN], [0, 0]],
    [[0, 100, 25, 74], [10, 0, 8, 3]],
    [[7], [10]],
    [[], []],
  ] as const)('%j W → %j', ([watts, scores]) => {
    expect([...scoresFromWatts(watts)]).toEqual(scores);
  });
  test.for([
    // Equally cheap: only the fullest keeps 10, the other cheapest gets 9; a dearer node keeps its linear score.
    [[5, 5, 6], [0.2, 0.5, 0.9], [9, 10, 0]],
    // Every candidate costs the same: the fullest still wins, so identical nodes on one linear piece are packed.
    [[5, 5], [0, 0.3], [9, 10]],
    // Equally full as well: no preference.
    [[5, 5], [0.3, 0.3], [10, 10]],
    // A full node that is dearer, or unestimated, takes nothing from the cheapest.
    [[5, 6], [0, 0.9], [10, 0]],
    [[NaN, 5, 5], [0.9, 0.1, 0.2], [0, 9, 10]],
    // Differences in the last bits of a float are ties (identical nodes priced from different loads on one piece).
    [[3.8169, 3.8169 + 4e-15, 10], [0.1, 0.2, 0], [9, 10, 0]],
  ] as const)('%j W at loads %j → %j', ([watts, loads, scores]) => {
    expect([...scoresFromWatts(watts, loads)]).toEqual(scores);
  });
  test('scores are always integers in 0..10', () => {
    const watts = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e6);
    for (const s of scoresFromWatts(watts)) {
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(10);
    }
  });
  test.for([
    [undefined, undefined], ['400', 400], [' 250.5 ', 250.5],
    ['0', { error: expect.stringContaining('positive') }], ['abc', { error: expect.any(String) }], ['', { error: expect.any(String) }],
  ] as const)('power cap %j', ([text, out]) => {
    expect(parsePowerCap(text)).toEqual(out);
  });
});

describe('pod CPU request as kube-scheduler scoring sees it', () => {
  const c = (cpu?: string, restartPolicy?: string) => ({ resources: cpu === undefined ? {} : { requests: { cpu } }, ...(restartPolicy ? { restartPolicy } : {}) });
  test.for([
    ['one container', { containers: [c('500m')] }, 500],
    ['no request gets the 100m default', { containers: [c(), c('1')] }, 1100],
    ['explicit zero is kept', { containers: [c('0')] }, 0],
    ['init container larger than the app', { initContainers: [c('2')], containers: [c('500m')] }, 2000],
    ['sidecars add to the app and to later init containers', { initContainers: [c('200m', 'Always'), c('1')], containers: [c('500m')] }, 1200],
    ['overhead is added', { containers: [c('1')], overhead: { cpu: '250m' } }, 1250],
    ['no spec', undefined, 0],
  ] as const)('%s', ([, spec, milli]) => {
    expect(podCpuRequestMilli(spec === undefined ? {} : ({ spec } as unknown as Pod))).toBe(milli);
  });
});

describe('Go key folding', () => {
  test('top-level fields fold, embedded Kubernetes keys do not', () => {
    expect(canonicalizeExtenderArgs({ pod: { Metadata: 1 }, NODENAMES: ['a'], other: 1 })).toEqual({ Pod: { Metadata: 1 }, NodeNames: ['a'], other: 1 });
  });
  test('preemption victims fold at each Go level', () => {
    expect(canonicalizePreemptionArgs({ pod: {}, nodenametometavictims: { n: { pods: [{ uid: 'u' }], numpdbviolations: 1 } } })).toEqual({
      Pod: {},
      NodeNameToMetaVictims: { n: { Pods: [{ UID: 'u' }], NumPDBViolations: 1 } },
    });
  });
  test('non-objects pass through for the schema to reject', () => {
    expect(canonicalizeExtenderArgs([1])).toEqual([1]);
    expect(canonicalizeExtenderArgs(null)).toBeNull();
  });
});

describe('raw Node item spans', () => {
  test('spans re-parse to exactly the items JSON.parse sees, whatever the strings hold', async () => {
    const fc = (await import('fast-check')).default;
    const { nodeItemSpans } = await import('../../src/extender/protocol/raw-items.js');
    const tricky = fc.oneof(fc.string(), fc.constantFrom('"', '\\', '}', ']', '{"items":[', ',', '\u2028', '"Nodes"'));
    const item = fc.oneof(fc.record({ metadata: fc.record({ name: tricky, labels: fc.dictionary(tricky, tricky) }) }), fc.constant(null), fc.integer(), fc.array(tricky));
    fc.assert(
      fc.property(fc.array(item, { maxLength: 6 }), fc.constantFrom('Nodes', 'nodes', 'NODES'), fc.boolean(), tricky, (items, key, pretty, podName) => {
        const body = { Pod: { metadata: { name: podName }, nodes: { items: ['decoy'] } }, [key]: { metadata: {}, items }, NodeNames: null };
        const text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
        const spans = nodeItemSpans(text);
        expect(spans?.map(([a, b]) => JSON.parse(text.slice(a, b)))).toEqual(items);
      }),
      { numRuns: 2000 },
    );
  });
  test('no top-level Nodes.items: undefined', async () => {
    const { nodeItemSpans } = await import('../../src/extender/protocol/raw-items.js');
    expect(nodeItemSpans('{"Pod":{},"NodeNames":["a"]}')).toBeUndefined();
    expect(nodeItemSpans('{"Pod":{"Nodes":{"items":[1]}}}')).toBeUndefined();
  });
});
