import { describe, expect } from 'vitest';
import { CURVES, extenderArgs, realisticNode, realisticPod } from '../../bench/extender/fixtures.js';
import Value from 'typebox/value';
import { ANNOTATIONS } from '../../src/shared/names.js';
import { ExtenderFilterResultSchema, HostPriorityListSchema } from '../../src/shared/wire/extender.js';
import type { Scorer } from '../../src/extender/scoring/scorer.js';
import { makeApp, post, test } from './helpers.js';

const curve = (c: readonly number[]) => c.join(',');

// Three 16-core nodes: an efficient old box, a hungrier 2-socket Opteron, and one with no curve of its own.
const nodes = [
  realisticNode(0, { annotations: { [ANNOTATIONS.powerCurve]: curve(CURVES.old) } }),
  realisticNode(1, { annotations: { [ANNOTATIONS.powerCurve]: curve(CURVES.opteron) } }),
  realisticNode(2),
];
const staticNodes = nodes.map((n) => ({
  name: n.metadata!.name!,
  labels: n.metadata!.labels!,
  annotations: n.metadata!.annotations!,
  allocatableMilliCPU: 16000,
}));

describe('prioritize', () => {
  test.for(['full', 'names'] as const)('%s mode: every candidate scored, fewer marginal watts scores higher', async (mode) => {
    const app = await makeApp({ nodes: staticNodes });
    const res = await post(app, '/prioritize', extenderArgs(mode, nodes));
    expect(res.statusCode).toBe(200);
    // Pod asks 550m of 16 cores (3.4375 %), costed on each curve's convex envelope: old box 3.1 W per 10 % (its
    // envelope keeps the first segment) +1.07 W; Opteron's envelope is the straight line 139→302 W, +5.60 W;
    // the default median's first envelope piece runs 123→389 W over 0–60 %, +15.24 W. (15.24−5.60)/(15.24−1.07) → 7
    // (the 0.1 % curve tie-break moves these by hundredths of a watt).
    expect(res.json()).toEqual([
      { Host: 'node-00000', Score: 10 },
      { Host: 'node-00001', Score: 7 },
      { Host: 'node-00002', Score: 0 },
    ]);
    await app.close();
  });

  test('the wire body is exactly a bare HostPriorityList with integer scores', async ({ app }) => {
    const res = await post(app, '/prioritize', extenderArgs('full', nodes));
    expect(res.body).toMatch(/^\[\{"Host":"node-00000","Score":\d+\},/);
  });

  test('always-on: a node past its steep start beats an idle one even where the envelope is steeper', async () => {
    // The default curve's envelope rises 266 W over 0–60 % (44.3 W per 10 %), then 53 W over 60–70 %: the 950m pod
    // costs 42.1 W on the idle node's envelope and 0.5·44.3 + 0.45·53 = 46.0 W from 55 %. On the curve: idle
    // 123 → 123 + 0.95·94 = +89.3 W; busy 371.5 → 412.85 = +41.35 W. Mixed half and half: idle 65.7 W, busy 43.7 W.
    const app = await makeApp({
      nodes: [
        { name: 'idle', allocatableMilliCPU: 10000, requestedMilliCPU: 0 },
        { name: 'busy', allocatableMilliCPU: 10000, requestedMilliCPU: 5500 },
      ],
    });
    const res = await post(app, '/prioritize', { Pod: realisticPod('p', '950m'), NodeNames: ['idle', 'busy'], Nodes: null });
    expect(res.json()).toEqual([
      { Host: 'idle', Score: 0 },
      { Host: 'busy', Score: 10 },
    ]);
    await app.close();
  });
});

describe('filter', () => {
  const capped = [
    realisticNode(0, { cpu: '4', annotations: { [ANNOTATIONS.powerCurve]: curve(CURVES.opteron), [ANNOTATIONS.powerCapWatts]: '200' } }),
    realisticNode(1, { cpu: '4', annotations: { [ANNOTATIONS.powerCurve]: curve(CURVES.opteron), [ANNOTATIONS.powerCapWatts]: '400' } }),
    realisticNode(2, { cpu: '4', annotations: { [ANNOTATIONS.powerCapWatts]: 'lots' } }),
  ];

  test('full mode returns the surviving Node objects unchanged and names the cap in FailedNodes', async ({ app }) => {
    // 2.05 of 4 cores = 51.25 % load: the Opteron curve says 237.6 W, over a 200 W cap, under a 400 W one.
    const res = await post(app, '/filter', extenderArgs('full', capped, realisticPod('p', '2')));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.NodeNames).toBeNull();
    expect(body.Nodes.items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(['node-00001', 'node-00002']);
    expect(body.Nodes.items[0]).toEqual(capped[1]);
    expect(Object.keys(body.FailedNodes)).toEqual(['node-00000']);
    expect(body.FailedNodes['node-00000']).toMatch(/predicted 237\.6 W .* power cap of 200 W/);
    expect(body.FailedAndUnresolvableNodes).toEqual({});
    expect(body.Error).toBe('');
  });

  test('a large full-mode body (parsed in a worker) echoes the survivors byte for byte, non-ASCII and all', async ({ app }) => {
    // The same three nodes behind 100 plain ones: about 0.6 MB, over the 256 KiB offload threshold. Node 3 carries
    // multi-byte UTF-8, so byte offsets and character offsets differ after it.
    const many = [...capped, ...Array.from({ length: 100 }, (_, i) => realisticNode(i + 3, i === 0 ? { instanceType: 'größe-日本' } : {}))];
    const payload = JSON.stringify(extenderArgs('full', many, realisticPod('p', '2')));
    expect(Buffer.byteLength(payload)).toBeGreaterThan(256 * 1024);
    const res = await post(app, '/filter', payload);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body.FailedNodes)).toEqual(['node-00000']);
    // Survivors are everything but node 0, each exactly as sent.
    expect(body.Nodes.items).toEqual(many.slice(1));
    expect(res.body).toContain(JSON.stringify(many.slice(1)));
  });

  test('names mode answers with NodeNames only', async () => {
    const app = await makeApp({
      nodes: capped.map((n) => ({ name: n.metadata!.name!, annotations: n.metadata!.annotations!, allocatableMilliCPU: 4000 })),
    });
    const res = await post(app, '/filter', extenderArgs('names', capped, realisticPod('p', '2')));
    expect(res.json()).toEqual({
      Nodes: null,
      NodeNames: ['node-00001', 'node-00002'],
      FailedNodes: { 'node-00000': expect.stringContaining('exceeds') },
      FailedAndUnresolvableNodes: {},
      Error: '',
    });
    await app.close();
  });

  test('without caps the filter passes every node without scoring any', async () => {
    let calls = 0;
    const counting: Scorer = { name: 'counting', score: async () => { calls++; return { kind: 'skip', reason: 'unused' }; } };
    const app = await makeApp({ nodes: staticNodes }, { scorer: counting });
    const res = await post(app, '/filter', extenderArgs('names', nodes));
    expect(res.json().NodeNames).toEqual(['node-00000', 'node-00001', 'node-00002']);
    expect(calls).toBe(0);
    const ex = (await app.inject({ url: `/explain/shop/${realisticPod().metadata!.name}` })).json();
    expect(ex.nodes[0]).toMatchObject({ passedFilter: true, basis: 'not scored here: no power cap or budget to check', marginalWatts: null });
    await app.close();
  });

  test('nodes the extender does not know pass (names mode, empty inventory): fail open', async ({ app }) => {
    const res = await post(app, '/filter', { Pod: realisticPod(), NodeNames: ['a', 'b'], Nodes: null });
    expect(res.json()).toMatchObject({ NodeNames: ['a', 'b'], FailedNodes: {} });
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/wattsched_extender_fail_open_total\{reason="no_estimates"\} 1/);
  });
});

describe('Go field-name matching', () => {
  test.for([
    ['lower case', { pod: realisticPod(), nodenames: ['x'], nodes: null }],
    ['upper case', { POD: realisticPod(), NODENAMES: ['x'], NODES: null }],
    ['mixed', { pOd: realisticPod(), nodeNames: ['x'] }],
  ] as const)('%s keys decode as kube-scheduler would', async ([, body], { app }) => {
    const res = await post(app, '/prioritize', body);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([{ Host: 'x', Score: 0 }]);
  });

  test('a later key for the same field wins, as in encoding/json', async ({ app }) => {
    const res = await post(app, '/prioritize', '{"NodeNames":["first"],"nodenames":["second"],"Pod":{}}');
    expect(res.json()).toEqual([{ Host: 'second', Score: 0 }]);
  });
});

describe('pre-serialised answers', () => {
  test.for(['names', 'full'] as const)('%s mode: filter and prioritize answers conform to the wire schemas', async (mode) => {
    const app = await makeApp({ nodes: staticNodes });
    const f = (await post(app, '/filter', extenderArgs(mode, nodes))).json();
    expect(Value.Check(ExtenderFilterResultSchema, f), JSON.stringify([...Value.Errors(ExtenderFilterResultSchema, f)])).toBe(true);
    const p = (await post(app, '/prioritize', extenderArgs(mode, nodes))).json();
    expect(Value.Check(HostPriorityListSchema, p)).toBe(true);
    await app.close();
  });

  test('node names that need JSON escaping come back intact from filter and prioritize', async ({ app }) => {
    const names = ['plain-node.1', 'quote"d', 'back\\slash', 'tab\there', 'ünïcode', '\u2028line', ''];
    const f = await post(app, '/filter', { Pod: {}, NodeNames: names, Nodes: null });
    expect(f.json().NodeNames).toEqual(names);
    const p = await post(app, '/prioritize', { Pod: {}, NodeNames: names, Nodes: null });
    expect(p.json().map((h: { Host: string }) => h.Host)).toEqual(names);
  });
});

describe('preempt', () => {
  test('meta victims (names mode) come back unchanged', async ({ app }) => {
    const victims = { 'node-a': { Pods: [{ UID: 'u1' }, { UID: 'u2' }], NumPDBViolations: 1 }, 'node-b': { Pods: [], NumPDBViolations: 0 } };
    const res = await post(app, '/preempt', { Pod: realisticPod(), NodeNameToVictims: null, NodeNameToMetaVictims: victims });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ NodeNameToMetaVictims: victims });
  });

  test('full victims become meta victims; a node still over its cap after evictions is dropped', async () => {
    const app = await makeApp({
      nodes: [
        { name: 'hot', annotations: { [ANNOTATIONS.powerCurve]: curve(CURVES.opteron), [ANNOTATIONS.powerCapWatts]: '220' }, allocatableMilliCPU: 4000, requestedMilliCPU: 3000 },
        { name: 'ok', annotations: { [ANNOTATIONS.powerCurve]: curve(CURVES.opteron), [ANNOTATIONS.powerCapWatts]: '220' }, allocatableMilliCPU: 4000, requestedMilliCPU: 3000 },
      ],
    });
    const victim = (uid: string, cpu: string) => ({ metadata: { uid, name: uid, namespace: 'x' }, spec: { containers: [{ resources: { requests: { cpu } } }] } });
    const res = await post(app, '/preempt', {
      Pod: realisticPod('p', '950m'),
      NodeNameToVictims: {
        // hot frees 0.5 core: 3.0 - 0.5 + 1.0 = 3.5 of 4 cores → 288.25 W > 220 W; ok frees 3: 1.0 of 4 → 195 W.
        hot: { Pods: [victim('v1', '500m')], NumPDBViolations: 0 },
        ok: { Pods: [victim('v2', '2'), victim('v3', '1')], NumPDBViolations: 2 },
      },
    });
    expect(res.json()).toEqual({ NodeNameToMetaVictims: { ok: { Pods: [{ UID: 'v2' }, { UID: 'v3' }], NumPDBViolations: 2 } } });
    await app.close();
  });
});

describe('bad input is a 4xx with a reason, and the server keeps serving', () => {
  test.for([
    ['malformed JSON', '/filter', '{"Pod": {', 400, /body is not valid JSON/],
    ['missing Pod', '/filter', { NodeNames: ['a'] }, 400, /Pod/],
    ['wrong type for NodeNames', '/prioritize', { Pod: {}, NodeNames: 'a' }, 400, /NodeNames/],
    ['neither Nodes nor NodeNames', '/prioritize', { Pod: {} }, 400, /NodeNames .* or Nodes/],
    ['Node without a name', '/filter', { Pod: {}, Nodes: { items: [{ metadata: {} }] } }, 400, /items\[0\] has no metadata.name/],
    ['unknown verb', '/bind2', { Pod: {} }, 404, /unknown extender verb \/bind2/],
    ['array body', '/prioritize', [1, 2], 400, /must be object/],
    ['preempt victims of the wrong shape', '/preempt', { Pod: {}, NodeNameToMetaVictims: { a: { Pods: 'x' } } }, 400, /NodeNameToMetaVictims/],
  ] as const)('%s', async ([, url, payload, status, reason], { app }) => {
    const res = await post(app, url, payload);
    expect(res.statusCode).toBe(status);
    expect(res.body).toMatch(reason);
    const again = await post(app, '/prioritize', { Pod: {}, NodeNames: [] });
    expect(again.statusCode).toBe(200);
  });

  test('filter errors keep the ExtenderFilterResult shape so kube-scheduler logs the Error field', async ({ app }) => {
    const res = await post(app, '/filter', '{');
    expect(res.json()).toMatchObject({ Nodes: null, NodeNames: null, FailedNodes: {}, Error: expect.stringMatching(/^WS_ERR_BAD_REQUEST: /) });
  });

  test('a body over the configured limit is 413', async () => {
    const app = await makeApp({ bodyLimitBytes: 4096 });
    const res = await post(app, '/filter', extenderArgs('full', nodes));
    expect(res.statusCode).toBe(413);
    expect(res.json().Error).toMatch(/FST_ERR_CTP_BODY_TOO_LARGE/);
    await app.close();
  });

  test('the default body limit takes a 5,000-node full-object request', async ({ app }) => {
    const many = Array.from({ length: 5000 }, (_, i) => realisticNode(i));
    const payload = JSON.stringify(extenderArgs('full', many));
    expect(payload.length).toBeGreaterThan(20e6);
    const res = await post(app, '/prioritize', payload);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toHaveLength(5000);
  });
});

describe('configurable prefix and verbs', () => {
  test('urlPrefix and verb names match what KubeSchedulerConfiguration points at', async () => {
    const app = await makeApp({ urlPrefix: '/wattsched/v1', filterVerb: 'filterWatts', prioritizeVerb: 'score' });
    expect((await post(app, '/wattsched/v1/score', { Pod: {}, NodeNames: ['a'] })).statusCode).toBe(200);
    expect((await post(app, '/wattsched/v1/filterWatts', { Pod: {}, NodeNames: ['a'] })).statusCode).toBe(200);
    expect((await post(app, '/prioritize', { Pod: {}, NodeNames: ['a'] })).statusCode).toBe(404);
    await app.close();
  });
});

describe('failing open on our own trouble', () => {
  const broken: Scorer = { name: 'broken', score: async () => { throw new Error('model file missing'); } };
  const skipping: Scorer = { name: 'skipping', score: async () => ({ kind: 'skip', reason: 'no profile for this workload' }) };

  test.for([
    ['throws', broken, 'scorer_error'],
    ['skips the pod', skipping, 'scorer_skip'],
  ] as const)('a scorer that %s: filter passes all (capped nodes too), prioritize gives equal scores, reason counted', async ([, scorer, reason]) => {
    // Caps make the filter consult the scorer; a tiny cap would fail every node if the extender judged.
    const capped = staticNodes.map((n) => ({ ...n, annotations: { ...n.annotations, [ANNOTATIONS.powerCapWatts]: '1' } }));
    const app = await makeApp({ nodes: capped }, { scorer });
    const f = await post(app, '/filter', extenderArgs('names', nodes));
    expect(f.json().NodeNames).toEqual(['node-00000', 'node-00001', 'node-00002']);
    const p = await post(app, '/prioritize', extenderArgs('names', nodes));
    expect(new Set(p.json().map((h: { Score: number }) => h.Score))).toEqual(new Set([0]));
    const m = (await app.inject({ url: '/metrics' })).body;
    expect(m).toContain(`wattsched_extender_fail_open_total{reason="${reason}"} 2`);
    expect(m).toContain('wattsched_extender_decisions_total{verb="prioritize",outcome="fail_open"} 1');
    await app.close();
  });

  test('an inventory still loading: not ready, and webhooks fail open', async () => {
    const loading = { source: 'cluster watch', ready: () => false, get: () => undefined, size: () => 0, list: () => [], boundPod: () => undefined, onPodSettled: () => () => {}, close: async () => {} };
    const app = await makeApp({}, { inventory: loading });
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    const f = await post(app, '/filter', { Pod: {}, NodeNames: ['a'] });
    expect(f.json().NodeNames).toEqual(['a']);
    await app.close();
  });
});

describe('explain and metrics', () => {
  test('explain merges the filter verdicts and prioritize scores of the last attempt', async ({ app }) => {
    const capped = [
      realisticNode(0, { cpu: '4', annotations: { [ANNOTATIONS.powerCurve]: curve(CURVES.opteron), [ANNOTATIONS.powerCapWatts]: '200' } }),
      realisticNode(1, { cpu: '4', annotations: { [ANNOTATIONS.powerCurve]: curve(CURVES.old) } }),
      realisticNode(2, { cpu: '4' }),
    ];
    const pod = realisticPod('web-1', '2');
    await post(app, '/filter', extenderArgs('full', capped, pod));
    await post(app, '/prioritize', extenderArgs('full', capped.slice(1), pod));
    const res = await app.inject({ url: '/explain/shop/web-1' });
    expect(res.statusCode).toBe(200);
    const ex = res.json();
    expect(ex.pod).toEqual({ namespace: 'shop', name: 'web-1', uid: pod.metadata!.uid, cpuMilli: 2050 });
    expect(ex.nodes).toHaveLength(3);
    expect(ex.nodes[0]).toMatchObject({ name: 'node-00000', passedFilter: false, score: null, basis: 'annotation', reason: expect.stringContaining('power cap') });
    expect(ex.nodes[1]).toMatchObject({ name: 'node-00001', passedFilter: true, score: 10, basis: 'annotation' });
    // 51.25 % lies on the old box's envelope piece from (30 %, 77.2 W) to (100 %, 109 W); the curve itself says
    // 87.3 + 5.4·0.125 − 66.8 W; always-on mixes the two half and half (CURVE_WEIGHT.idle).
    const envelope = 77.2 + ((109 - 77.2) * (0.5125 - 0.3)) / 0.7 - 66.8;
    const onCurve = 87.3 + (92.7 - 87.3) * 0.125 - 66.8;
    expect(ex.nodes[1].marginalWatts).toBeCloseTo(envelope + 0.5 * (onCurve - envelope), 9);
    expect(ex.nodes[2]).toMatchObject({ name: 'node-00002', passedFilter: true, score: 0, basis: 'embedded SPECpower median curve' });
    expect((await app.inject({ url: '/explain/shop/nope' })).statusCode).toBe(404);
  });

  test('metrics count requests by verb, nodes per request and errors by kind', async ({ app }) => {
    await post(app, '/prioritize', extenderArgs('full', nodes));
    await post(app, '/filter', '{');
    const m = (await app.inject({ url: '/metrics' })).body;
    expect(m).toMatch(/wattsched_extender_request_duration_seconds_count\{verb="prioritize",code="200"\} 1/);
    expect(m).toMatch(/wattsched_extender_request_nodes_sum\{verb="prioritize",mode="full"\} 3/);
    expect(m).toMatch(/wattsched_extender_errors_total\{kind="WS_ERR_BAD_REQUEST"\} 1/);
  });
});
