// The cluster-backed inventory against a fake API server on loopback that speaks list + watch as kube-apiserver
// does (a JSON list, then a chunked stream of newline-delimited watch events).
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { kubeInventory, findKubeconfig, RequestedCpuLedger } from '../../src/extender/nodes/kube.js';
import type { NodeInventory } from '../../src/extender/nodes/inventory.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

const node = (name: string, cpu: string) => ({ metadata: { name, resourceVersion: '1', labels: { 'node.kubernetes.io/instance-type': 't' } }, status: { allocatable: { cpu } } });
// The informer cache ignores an update whose resourceVersion it has seen, as a real API server never repeats one.
let rv = 1;
const pod = (uid: string, nodeName: string | undefined, cpu: string, phase = 'Running') => ({
  metadata: { uid, name: uid, namespace: 'default', resourceVersion: String(++rv) },
  spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', resources: { requests: { cpu } } }] },
  status: { phase },
});

let api: FakeApiServer;
let inventory: NodeInventory;
const send = (kind: 'nodes' | 'pods', type: string, object: unknown) => api.send(kind, type, object);

beforeAll(async () => {
  api = await startFakeApiServer({
    items: (kind) => (kind === 'nodes' ? [node('n1', '4'), node('n2', '8')] : [pod('p1', 'n1', '1'), pod('p2', 'n1', '500m'), pod('p3', 'n2', '2', 'Succeeded'), pod('p4', undefined, '3')]),
  });
  inventory = await kubeInventory({ kind: 'file', path: api.kubeconfig }, pino({ level: process.env.TEST_LOG ?? 'silent' }));
  await vi.waitFor(() => expect(inventory.ready()).toBe(true), { timeout: 10_000 });
});

afterAll(async () => {
  await inventory?.close();
  await api?.close();
});

describe('cluster-watch inventory', () => {
  test('initial lists: nodes parsed, bound non-terminal pods counted against their node', () => {
    expect(inventory.size()).toBe(2);
    expect(inventory.get('n1')).toMatchObject({ name: 'n1', allocatableMilliCPU: 4000, requestedMilliCPU: 1500, labels: { 'node.kubernetes.io/instance-type': 't' } });
    // p3 has finished and p4 is unbound: neither holds capacity.
    expect(inventory.get('n2')).toMatchObject({ allocatableMilliCPU: 8000, requestedMilliCPU: 0 });
    expect(inventory.get('n3')).toBeUndefined();
  });

  test('watch events update nodes and requested CPU', async () => {
    await vi.waitFor(() => expect(api.watchers.pods.length).toBeGreaterThan(0), { timeout: 5000 });
    send('pods', 'ADDED', pod('p5', 'n2', '750m'));
    send('nodes', 'ADDED', node('n3', '2'));
    await vi.waitFor(() => expect(inventory.get('n2')?.requestedMilliCPU).toBe(750), { timeout: 5000 });
    await vi.waitFor(() => expect(inventory.get('n3')?.allocatableMilliCPU).toBe(2000), { timeout: 5000 });
    send('pods', 'MODIFIED', pod('p1', 'n1', '1', 'Failed'));
    await vi.waitFor(() => expect(inventory.get('n1')?.requestedMilliCPU).toBe(500), { timeout: 5000 });
    send('pods', 'DELETED', pod('p5', 'n2', '750m'));
    await vi.waitFor(() => expect(inventory.get('n2')?.requestedMilliCPU).toBe(0), { timeout: 5000 });
  });
});

describe('what the power-cap ledger needs from the watch', () => {
  test('bound pods are found by UID, and a pod binding, finishing or going away is reported settled', async () => {
    await vi.waitFor(() => expect(api.watchers.pods.length).toBeGreaterThan(0), { timeout: 5000 });
    expect(inventory.boundPod('p2')).toEqual({ node: 'n1', cpuMilli: 500 });
    expect(inventory.boundPod('p4')).toBeUndefined(); // pending
    const settled: string[] = [];
    const off = inventory.onPodSettled((uid) => settled.push(uid));
    send('pods', 'ADDED', pod('q1', undefined, '250m')); // pending: not settled
    send('pods', 'MODIFIED', pod('q1', 'n2', '250m')); // bound
    send('pods', 'ADDED', pod('q2', undefined, '250m'));
    send('pods', 'DELETED', pod('q2', undefined, '250m')); // deleted before binding
    await vi.waitFor(() => expect(settled).toEqual(['q1', 'q2']), { timeout: 5000 });
    expect(inventory.boundPod('q1')).toEqual({ node: 'n2', cpuMilli: 250 });
    off();
    send('pods', 'MODIFIED', pod('q1', 'n2', '250m', 'Succeeded'));
    await vi.waitFor(() => expect(inventory.boundPod('q1')).toBeUndefined(), { timeout: 5000 });
    expect(settled).toEqual(['q1', 'q2']);
  });
});

describe('requested-CPU ledger', () => {
  test('re-applying a pod replaces its previous placement', () => {
    const l = new RequestedCpuLedger();
    l.apply('a', pod('a', 'x', '1'));
    l.apply('a', pod('a', 'y', '2'));
    expect([l.requested('x'), l.requested('y')]).toEqual([0, 2000]);
    l.remove('a');
    l.remove('a');
    expect(l.requested('y')).toBe(0);
  });
});

describe('finding a cluster', () => {
  test.for([
    ['explicit path wins', '/k', {}, { kind: 'file', path: '/k' }],
    ['KUBECONFIG next', undefined, { KUBECONFIG: '/env' }, { kind: 'file', path: '/env' }],
  ] as const)('%s', ([, explicit, env, want]) => {
    expect(findKubeconfig(explicit, env)).toEqual(want);
  });
});
