// The predicted-watts annotation end to end inside the extender: the real cluster-watch inventory and the real
// client-node patcher against a loopback API server that speaks list + watch and records every PATCH (path,
// content type, exact body). The pods' bindings arrive as watch events, as kube-scheduler's would.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { annotateBoundPods, type PredictedWattsAnnotator } from '../../src/extender/annotate/predicted.js';
import type { NodeInventory } from '../../src/extender/nodes/inventory.js';
import { kubeInventory } from '../../src/extender/nodes/kube.js';
import { modelOfBasis, PredictionLedger } from '../../src/extender/telemetry/predictions.js';
import { kubePatcher } from '../../src/shared/pod-annotations.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

let rv = 1;
const pod = (uid: string, nodeName: string | undefined, annotations: Record<string, string> = {}, phase = 'Pending') => ({
  metadata: { uid, name: `pod-${uid}`, namespace: 'shop', resourceVersion: String(++rv), annotations },
  spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', resources: { requests: { cpu: '100m' } } }] },
  status: { phase },
});

interface Patch {
  path: string;
  contentType: string | undefined;
  body: string;
}

let api: FakeApiServer;
let inventory: NodeInventory;
let annotator: PredictedWattsAnnotator;
const ledger = new PredictionLedger(10_000);
const patches: Patch[] = [];
let patchStatus = 200;
const send = (type: string, object: unknown) => api.send('pods', type, object);
const nodes = [{ name: 'n1' }, { name: 'n2' }, { name: 'n3' }];
const basis = ['curve: annotation; load: measured 12.0% (agent, 1 s old)', 'curve: label node.kubernetes.io/instance-type=m5.large; load: requested CPU (no agent report)', 'skipped'];

beforeAll(async () => {
  api = await startFakeApiServer({
    routes: (app) => {
      // client-node sends the merge patch as a JSON string body; keep it byte for byte.
      app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
      app.patch('/api/v1/namespaces/:ns/pods/:name', (req, reply) => {
        patches.push({ path: req.url, contentType: req.headers['content-type'], body: req.body as string });
        if (patchStatus !== 200) return reply.code(patchStatus).send({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: patchStatus });
        return reply.send({ kind: 'Pod', apiVersion: 'v1', metadata: {} });
      });
    },
  });
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  inventory = await kubeInventory({ kind: 'file', path: api.kubeconfig }, log);
  const patch = await kubePatcher((kc) => kc.loadFromFile(api.kubeconfig));
  annotator = annotateBoundPods(inventory, ledger, { patch, perSecond: 1000, log }) as PredictedWattsAnnotator;
  await vi.waitFor(() => expect(inventory.ready()).toBe(true), { timeout: 10_000 });
  await vi.waitFor(() => expect(api.watchers.pods.length).toBeGreaterThan(0), { timeout: 10_000 });
});

afterAll(async () => {
  annotator?.stop();
  await inventory?.close();
  await api?.close();
});

describe('predicted-watts annotation', () => {
  test('a scored pod, once bound, gets one merge patch of its annotations: the marginal watts on its node and the curve source', async () => {
    ledger.record('u1', nodes, Float64Array.from([3.25, 7.5, NaN]), basis);
    send('ADDED', pod('u1', undefined)); // pending: nothing yet
    send('MODIFIED', pod('u1', 'n2'));
    await vi.waitFor(() => expect(patches).toHaveLength(1), { timeout: 5000 });
    expect(patches[0]).toEqual({
      path: '/api/v1/namespaces/shop/pods/pod-u1',
      contentType: 'application/merge-patch+json',
      body: '{"metadata":{"annotations":{"wattsched.io/predicted-watts":"7.500","wattsched.io/predicted-model":"label node.kubernetes.io/instance-type=m5.large"}}}',
    });
  });

  test('no patch loop and nothing for pods it did not score: later events of the same pod, the patch watched back, unknown pods, nodes without an estimate', async () => {
    const before = patches.length;
    send('MODIFIED', pod('u1', 'n2', {}, 'Running')); // a status update before our patch is watched back
    send('MODIFIED', pod('u1', 'n2', { 'wattsched.io/predicted-watts': '7.500', 'wattsched.io/predicted-model': 'x' }, 'Running'));
    send('ADDED', pod('u2', 'n1')); // bound, but scored by another replica (no prediction here)
    ledger.record('u3', nodes, Float64Array.from([1, 2, NaN]), basis);
    send('ADDED', pod('u3', 'n3')); // landed where the scorer had no estimate (saturated)
    ledger.record('u4', nodes, Float64Array.from([1.5, 2, NaN]), basis);
    send('ADDED', pod('u4', 'n9')); // landed on a node it was not scored for
    // A marker: the informer delivers events in order and the queue is FIFO, so once the marker's patch arrives,
    // any patch the events above caused would have arrived before it.
    ledger.record('marker', nodes, Float64Array.from([0.125, 1, NaN]), basis);
    send('ADDED', pod('marker', 'n1'));
    await vi.waitFor(() => expect(patches.length).toBeGreaterThan(before), { timeout: 5000 });
    expect(patches.slice(before).map((p) => p.path)).toEqual(['/api/v1/namespaces/shop/pods/pod-marker']);
    expect(patches.at(-1)?.body).toBe('{"metadata":{"annotations":{"wattsched.io/predicted-watts":"0.125","wattsched.io/predicted-model":"annotation"}}}');
  });

  test('a pod that already carries the annotation (an extender restart, another replica) is left alone', async () => {
    const before = patches.length;
    ledger.record('u5', nodes, Float64Array.from([4, 5, NaN]), basis);
    send('ADDED', pod('u5', 'n1', { 'wattsched.io/predicted-watts': '9.000' }));
    ledger.record('marker2', nodes, Float64Array.from([1, 1, NaN]), basis);
    send('ADDED', pod('marker2', 'n2'));
    await vi.waitFor(() => expect(patches.length).toBeGreaterThan(before), { timeout: 5000 });
    expect(patches.slice(before).map((p) => p.path)).toEqual(['/api/v1/namespaces/shop/pods/pod-marker2']);
  });

  test('RBAC missing: every refusal counted as forbidden, scheduling data untouched', async () => {
    patchStatus = 403;
    const before = annotator.queue.counts.forbidden;
    for (const uid of ['f1', 'f2', 'f3']) {
      ledger.record(uid, nodes, Float64Array.from([1, 2, NaN]), basis);
      send('ADDED', pod(uid, 'n1'));
    }
    await vi.waitFor(() => expect(annotator.queue.counts.forbidden - before).toBe(3), { timeout: 5000 });
    // The prediction is still there for the prediction-error metric when the pod's agent measures it.
    expect(ledger.prediction('f1', 'n1')).toEqual({ watts: 1, model: 'annotation' });
    patchStatus = 200;
  });
});

describe('predicted-model names the model, not its detail', () => {
  test.each([
    ['curve: annotation; load: measured 12.0% (agent, 1 s old)', 'annotation'],
    ['curve: model-server:fp-1@v3, exact match for fp-1 (MAPE 4.1%); load: requested CPU (no agent report)', 'model-server:fp-1@v3'],
    ['curve: shipped:curve, from the node\'s description, fingerprint x; load: requested CPU (no agent report)', 'shipped:curve'],
    ['curve: label tier=a (ignored invalid annotation: need 11 values, got 3); load: x', 'label tier=a'],
    ['curve: embedded SPECpower median scaled to 4 CPUs; load: requested CPU (no agent report)', 'embedded SPECpower median scaled to 4 CPUs'],
  ])('%s', (basis, model) => {
    expect(modelOfBasis(basis)).toBe(model);
  });
});
