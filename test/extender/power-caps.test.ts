// The power-cap invariant: on a node annotated wattsched.io/power-cap-watts, predicted power with every pod placed
// there (bound ones, and ones the filter let through moments ago that the watch has not shown bound yet) stays at
// or under the cap. Expected values are worked out by hand from the curves in the comments.
import { describe, expect, test } from 'vitest';
import { AssumedPods } from '../../src/extender/nodes/assumed.js';
import type { NodeInventory } from '../../src/extender/nodes/inventory.js';
import type { NodeState } from '../../src/extender/nodes/state.js';
import { ANNOTATIONS } from '../../src/shared/names.js';
import { makeApp, post } from './helpers.js';

// Linear 100 W idle to 200 W busy on 4 cores: 25 W per core, 6.25 W per 250m.
const LINEAR_100_200 = '100,110,120,130,140,150,160,170,180,190,200';
const cappedNode = (name: string, cap: string, requestedMilliCPU = 0) => ({
  name,
  annotations: { [ANNOTATIONS.powerCurve]: LINEAR_100_200, [ANNOTATIONS.powerCapWatts]: cap },
  allocatableMilliCPU: 4000,
  requestedMilliCPU,
});
const pod = (uid: string, cpu: string) => ({ metadata: { uid, name: uid, namespace: 'shop' }, spec: { containers: [{ resources: { requests: { cpu } } }] } });

type FilterAnswer = { NodeNames: string[]; FailedNodes: Record<string, string> };

describe('AssumedPods', () => {
  test('sums assumed CPU per node, excludes the asking pod, replaces and forgets, and expires', () => {
    let now = 1000;
    const a = new AssumedPods(5000, () => now);
    a.assume('p1', 250, ['x', 'y']);
    a.assume('p2', 500, ['x']);
    expect(a.onNode('x')).toBe(750);
    expect(a.onNode('y')).toBe(250);
    expect(a.onNode('x', 'p2')).toBe(250);
    a.assume('p1', 300, ['y']); // a retried pod replaces its own assumption
    expect([a.onNode('x'), a.onNode('y')]).toEqual([500, 300]);
    a.forget('p2');
    expect(a.onNode('x')).toBe(0);
    now += 4999;
    expect(a.onNode('y')).toBe(300);
    now += 1;
    expect(a.onNode('y')).toBe(0);
    expect(a.size()).toBe(0);
  });
});

describe('AssumedPods at scale (no watch settles anything, so assumptions pile up until they expire)', () => {
  test('running sums stay exact through thousands of assumptions, replacements, forgets and expiries', () => {
    let now = 0;
    const a = new AssumedPods(1000, () => now);
    // 3,000 pods of 10m, one per ms, each assumed on x and on one of y0..y2 (pod i on y(i mod 3)).
    for (let i = 0; i < 3000; i++) {
      now = i;
      a.assume(`p${i}`, 10, ['x', `y${i % 3}`]);
    }
    // At t = 2999 the pods assumed at 0..1999 have expired (expiresAt = i + 1000 <= 2999): 1,000 are left.
    expect(a.onNode('x')).toBe(1000 * 10);
    expect(a.size()).toBe(1000);
    // Of pods 2000..2999, those with i mod 3 == 0: 2001, 2004, ..., 2997 → 333 pods.
    expect(a.onNode('y0')).toBe(333 * 10);
    // The asking pod is left out of its own node's sum, and only where it is assumed.
    expect(a.onNode('y0', 'p2997')).toBe(332 * 10);
    expect(a.onNode('y1', 'p2997')).toBe(a.onNode('y1'));
    // A replaced assumption counts once, with its new CPU; a forgotten one not at all.
    a.assume('p2999', 500, ['x']);
    a.forget('p2998');
    expect(a.onNode('x')).toBe(998 * 10 + 500);
    // p2999 was re-assumed at t = 2999: it is the last one left at 3998 and expires at 3999, like every other.
    now = 3998;
    expect(a.onNode('x')).toBe(500);
    now = 3999;
    expect([a.onNode('x'), a.onNode('y0'), a.size()]).toEqual([0, 0, 0]);
  });
});

describe('filter: a burst cannot slip past a cap between binding and the watch', () => {
  test('pods passed moments ago count against the cap until the watch settles them', async () => {
    // capped: idle 100 W, cap 115 W, so at most 600m may be placed (100 + 25 x 0.6 = 115 W).
    const app = await makeApp({ nodes: [cappedNode('capped', '115'), { name: 'free', allocatableMilliCPU: 4000 }] });
    const filter = async (uid: string, cpu: string) => (await post(app, '/filter', { Pod: pod(uid, cpu), NodeNames: ['capped', 'free'] })).json() as FilterAnswer;

    // p1 250m: 0 + 250 → 106.25 W, passes (and is assumed on capped). p2: 250 + 250 → 112.5 W, passes.
    expect((await filter('p1', '250m')).NodeNames).toEqual(['capped', 'free']);
    expect((await filter('p2', '250m')).NodeNames).toEqual(['capped', 'free']);
    // p3: 500 + 250 = 750m → 118.75 W > 115 W. Without the ledger it would see an empty node (106.25 W) and pass.
    const p3 = await filter('p3', '250m');
    expect(p3.NodeNames).toEqual(['free']);
    expect(p3.FailedNodes.capped).toMatch(/predicted 118\.8 W with this pod exceeds the node's power cap of 115 W/);
    // p1 asked again (a retry) does not count against itself: p2's 250 + its 250 → 112.5 W.
    expect((await filter('p1', '250m')).NodeNames).toEqual(['capped', 'free']);
    // A 100m pod: 500 + 100 = 600m → 115 W, exactly the cap, passes; then nothing more fits.
    expect((await filter('p4', '100m')).NodeNames).toEqual(['capped', 'free']);
    expect((await filter('p5', '1m')).FailedNodes.capped).toMatch(/115\.0 W/);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    // p1, p2 and p4 are assumed; p3 and p5 failed the capped node and are assumed nowhere (the free node has no cap).
    expect(metrics).toMatch(/wattsched_extender_assumed_pods 3/);
    await app.close();
  });

  test('full mode: the same ledger applies to Node objects sent in the request', async () => {
    const app = await makeApp();
    const node = { metadata: { name: 'capped', annotations: { [ANNOTATIONS.powerCurve]: LINEAR_100_200, [ANNOTATIONS.powerCapWatts]: '115' } }, status: { allocatable: { cpu: '4' } } };
    const filter = async (uid: string) => ((await post(app, '/filter', { Pod: pod(uid, '250m'), Nodes: { items: [node] } })).json() as { FailedNodes: Record<string, string> }).FailedNodes;
    // 106.25 W, 112.5 W, then 118.75 W > 115 W.
    expect(await filter('a')).toEqual({});
    expect(await filter('b')).toEqual({});
    expect((await filter('c')).capped).toMatch(/118\.8 W/);
    await app.close();
  });

  test('once the watch shows where pods were bound, only the pods bound there count', async () => {
    const inv = new WatchedInventory([cappedNode('capped', '115'), cappedNode('other', '115')]);
    const app = await makeApp({}, { inventory: inv });
    const filter = async (uid: string) => (await post(app, '/filter', { Pod: pod(uid, '250m'), NodeNames: ['capped', 'other'] })).json() as FilterAnswer;
    expect((await filter('p1')).NodeNames).toEqual(['capped', 'other']);
    expect((await filter('p2')).NodeNames).toEqual(['capped', 'other']);
    // Both are assumed on both nodes (500m each): p3 would make 118.75 W on either.
    expect((await filter('p3')).NodeNames).toEqual([]);
    // The watch: p1 bound to capped, p2 to other. Now each node holds 250m: p3 → 112.5 W on either, passes.
    inv.bind('p1', 'capped', 250);
    inv.bind('p2', 'other', 250);
    expect((await filter('p3')).NodeNames).toEqual(['capped', 'other']);
    // p3 assumed on both; p4 sees 250 bound + 250 assumed + 250 = 750m → 118.75 W on both.
    expect((await filter('p4')).NodeNames).toEqual([]);
    // p3 deleted before binding: its assumption goes, p4 fits again (112.5 W).
    inv.remove('p3');
    // p4 failed both nodes, so only the watch's settle events changed the ledger: p1, p2 and p3 are all gone.
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/wattsched_extender_assumed_pods 0/);
    expect((await filter('p4')).NodeNames).toEqual(['capped', 'other']);
    await app.close();
  });
});

describe('preempt honours caps in names mode (victims as UIDs) as in full mode', () => {
  // capped holds v1 (500m) and v2 (1000m): 1500m → 137.5 W, cap 115 W. The preemptor asks 250m.
  const setup = async () => {
    const inv = new WatchedInventory([cappedNode('capped', '115'), { name: 'uncapped', annotations: {}, allocatableMilliCPU: 4000, requestedMilliCPU: 0 }]);
    inv.bind('v1', 'capped', 500);
    inv.bind('v2', 'capped', 1000);
    inv.bind('v3', 'uncapped', 4000);
    return { inv, app: await makeApp({}, { inventory: inv }) };
  };
  const meta = (...uids: string[]) => ({ Pods: uids.map((UID) => ({ UID })), NumPDBViolations: 0 });

  test.for([
    // Both evicted: 0 + 250 → 106.25 W ≤ 115: kept.
    ['both victims', ['v1', 'v2'], true],
    // Only v2 evicted: 500 + 250 = 750m → 118.75 W > 115: dropped.
    ['only the larger victim', ['v2'], false],
    // v1 and an unknown UID: the unknown frees nothing, 1000 + 250 = 1250m → 131.25 W: dropped.
    ['a victim the watch does not know', ['v1', 'zz'], false],
    // A UID bound to another node frees nothing here: 1500 - 500 + 250 = 1250m → dropped.
    ['a victim bound elsewhere', ['v1', 'v3'], false],
  ] as const)('%s', async ([, uids, kept]) => {
    const { app } = await setup();
    const res = await post(app, '/preempt', { Pod: pod('pre', '250m'), NodeNameToMetaVictims: { capped: meta(...uids), uncapped: meta('v3') } });
    expect(res.statusCode).toBe(200);
    const want: Record<string, unknown> = { uncapped: meta('v3') };
    if (kept) want.capped = meta(...uids);
    expect(res.json()).toEqual({ NodeNameToMetaVictims: want });
    await app.close();
  });

  test('full victims get the same answer as meta victims', async () => {
    const { app } = await setup();
    // The preemptor's own filter call (1500 + 250 → 143.75 W, failed) leaves no assumption that could count
    // against it; evicting both victims: 0 + 250 → 106.25 W, kept.
    await post(app, '/filter', { Pod: pod('pre', '250m'), NodeNames: ['capped'] });
    const both = await post(app, '/preempt', { Pod: pod('pre', '250m'), NodeNameToMetaVictims: { capped: meta('v1', 'v2') } });
    expect(Object.keys(both.json().NodeNameToMetaVictims)).toEqual(['capped']);
    // Full victims, same pods: v2 only → 118.75 W dropped; both → 106.25 W kept.
    const full = (...v: [string, string][]) => ({ Pods: v.map(([uid, cpu]) => pod(uid, cpu)), NumPDBViolations: 0 });
    const res = await post(app, '/preempt', { Pod: pod('pre', '250m'), NodeNameToVictims: { capped: full(['v2', '1000m']) } });
    expect(res.json()).toEqual({ NodeNameToMetaVictims: {} });
    const res2 = await post(app, '/preempt', { Pod: pod('pre', '250m'), NodeNameToVictims: { capped: full(['v1', '500m'], ['v2', '1000m']) } });
    expect(res2.json()).toEqual({ NodeNameToMetaVictims: { capped: meta('v1', 'v2') } });
    await app.close();
  });

  test('a pod assumed on the node (passed by the filter, not yet bound) is counted against the preemptor', async () => {
    // Empty capped node: p9 (500m) passes the filter (112.5 W) and is assumed there. The preemptor (250m) with no
    // victims: 500 + 250 = 750m → 118.75 W > 115: dropped; once p9 is bound elsewhere, 250m → 106.25 W: kept.
    const inv = new WatchedInventory([cappedNode('capped', '115')]);
    const app = await makeApp({}, { inventory: inv });
    expect(((await post(app, '/filter', { Pod: pod('p9', '500m'), NodeNames: ['capped'] })).json() as FilterAnswer).NodeNames).toEqual(['capped']);
    const ask = async () => (await post(app, '/preempt', { Pod: pod('pre', '250m'), NodeNameToMetaVictims: { capped: meta() } })).json();
    expect(await ask()).toEqual({ NodeNameToMetaVictims: {} });
    inv.bind('p9', 'elsewhere', 500);
    expect(await ask()).toEqual({ NodeNameToMetaVictims: { capped: meta() } });
    await app.close();
  });
});

describe('power budgets over a group of nodes', () => {
  test('a rack budget counts every member at its load, assumed pods included, and settles with the watch', async () => {
    // Rack r1: a and b, 100 W idle, 25 W per CPU each, no caps of their own; budget 230 W (200 W idle). c is elsewhere.
    const rackNode = (name: string, rack: string) => ({ name, labels: { rack }, annotations: { [ANNOTATIONS.powerCurve]: LINEAR_100_200 }, allocatableMilliCPU: 4000 });
    const inv = new WatchedInventory([rackNode('a', 'r1'), rackNode('b', 'r1'), rackNode('c', 'r2')]);
    const app = await makeApp({ powerBudgets: [{ name: 'rack-r1', selector: { rack: 'r1' }, watts: 230 }] }, { inventory: inv });
    const filter = async (uid: string, cpu: string) => (await post(app, '/filter', { Pod: pod(uid, cpu), NodeNames: ['a', 'b', 'c'] })).json() as FilterAnswer;

    // p1 1000m: 200 - 100 + 125 = 225 W on a or b: passes both, assumed on both.
    expect((await filter('p1', '1000m')).NodeNames).toEqual(['a', 'b', 'c']);
    // p2 100m: a and b each carry p1 (125 W): 250 - 125 + 127.5 = 252.5 W > 230 on either.
    const p2 = await filter('p2', '100m');
    expect(p2.NodeNames).toEqual(['c']);
    expect(p2.FailedNodes.a).toBe('wattsched: predicted 252.5 W for power budget rack-r1 (2 nodes) with this pod exceeds its 230 W');
    // The watch shows p1 on a: 125 + 100 = 225 W; p2 on a: 225 - 125 + 127.5 = 227.5; on b: 225 - 100 + 102.5 = 227.5.
    inv.bind('p1', 'a', 1000);
    expect((await filter('p2', '100m')).NodeNames).toEqual(['a', 'b', 'c']);
    // p3 100m with p2 assumed on both: a 127.5 + b 102.5 = 230; on a 230 - 127.5 + 130 = 232.5, on b the same: refused.
    expect((await filter('p3', '100m')).FailedNodes).toEqual({
      a: expect.stringMatching(/232\.5 W for power budget rack-r1/),
      b: expect.stringMatching(/232\.5 W for power budget rack-r1/),
    });
    await app.close();
  });

  test('preempt: a candidate whose group would break its budget after the evictions is dropped', async () => {
    // Rack r1 as above, budget 230 W; v1 (1000m) runs on a: a 125 W + b 100 W = 225 W. Preemptor 1000m.
    const rackNode = (name: string) => ({ name, labels: { rack: 'r1' }, annotations: { [ANNOTATIONS.powerCurve]: LINEAR_100_200 }, allocatableMilliCPU: 4000 });
    const inv = new WatchedInventory([rackNode('a'), rackNode('b')]);
    inv.bind('v1', 'a', 1000);
    const app = await makeApp({ powerBudgets: [{ name: 'rack-r1', selector: { rack: 'r1' }, watts: 230 }] }, { inventory: inv });
    const victims = { a: { Pods: [{ UID: 'v1' }], NumPDBViolations: 0 }, b: { Pods: [], NumPDBViolations: 0 } };
    const res = await post(app, '/preempt', { Pod: pod('pre', '1000m'), NodeNameToMetaVictims: victims });
    // a: v1 out, preemptor in: 225 - 125 + 125 = 225 W, kept. b: nothing out: 225 - 100 + 125 = 250 W > 230, dropped.
    expect(res.json()).toEqual({ NodeNameToMetaVictims: { a: victims.a } });
    await app.close();
  });

  test('a budget must name a positive number of watts', async () => {
    await expect(makeApp({ powerBudgets: [{ name: 'x', selector: {}, watts: 0 }] })).rejects.toThrow(/powerBudgets/);
  });
});

/** A NodeInventory driven by hand the way the cluster watch drives the real one: pods bound, pods removed. */
class WatchedInventory implements NodeInventory {
  readonly source = 'test watch';
  private readonly pods = new Map<string, { node: string; cpuMilli: number }>();
  private readonly listeners = new Set<(uid: string) => void>();
  private readonly nodes: Map<string, NodeState>;

  constructor(nodes: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; allocatableMilliCPU: number; requestedMilliCPU?: number }[]) {
    this.nodes = new Map(nodes.map((n) => [n.name, { name: n.name, labels: n.labels ?? {}, annotations: n.annotations ?? {}, allocatableMilliCPU: n.allocatableMilliCPU, requestedMilliCPU: n.requestedMilliCPU ?? 0 }]));
  }

  bind(uid: string, node: string, cpuMilli: number): void {
    this.pods.set(uid, { node, cpuMilli });
    for (const l of this.listeners) l(uid);
  }

  remove(uid: string): void {
    this.pods.delete(uid);
    for (const l of this.listeners) l(uid);
  }

  ready = () => true;
  size = () => this.nodes.size;
  list = () => [...this.nodes.keys()].map((n) => this.get(n) as NodeState);
  close = async () => {};
  boundPod = (uid: string) => this.pods.get(uid);
  onPodSettled(listener: (uid: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(name: string): NodeState | undefined {
    const n = this.nodes.get(name);
    if (!n) return undefined;
    let requested = n.requestedMilliCPU;
    for (const p of this.pods.values()) if (p.node === name) requested += p.cpuMilli;
    return { ...n, requestedMilliCPU: requested };
  }
}
