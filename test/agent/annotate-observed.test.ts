// The agent's observed-watts annotation: windows of reports averaged per pod, the first after the settle time, later
// ones only when the value moved meaningfully; the patch itself checked byte for byte against a loopback server
// through the real client-node patcher.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { writeKubeconfig } from '../kubeconfig.js';
import { ObservedWattsAnnotator, meaningfulChange } from '../../src/agent/annotate/observed.js';
import { kubePatcher, type PatchFn } from '../../src/shared/pod-annotations.js';
import type { NodeReport, PodReport } from '../../src/shared/wire/agent.js';

function podReport(uid: string, watts: number | null, named = true): PodReport {
  return {
    uid,
    namespace: named ? 'shop' : null,
    name: named ? `pod-${uid}` : null,
    qos: 'burstable',
    workload: null,
    containers: [],
    cumulative: { cpuSeconds: 0 },
    rates: { cpuSeconds: 0 },
    ...(watts === null ? {} : { energy: { watts, joules: 0, cpuSecondsTotal: 0, contextSwitchesTotal: 0 } }),
  };
}

function report(pods: PodReport[], intervalSeconds = 1): NodeReport {
  return {
    node: 'node-a',
    at: new Date(0).toISOString(),
    intervalSeconds,
    layout: 'v2',
    collector: { name: 'fallback', variant: 'test', reason: null, attempts: [] },
    counters: {},
    droppedCgroups: 0,
    kubernetes: { mode: 'watch', detail: '' },
    cgroups: [],
    pods,
  };
}

/** Patches recorded in memory: (pod, annotation value). */
function recorder(): { patch: PatchFn; sent: string[] } {
  const sent: string[] = [];
  return { sent, patch: async (pod, body) => void sent.push(`${pod.name}=${body.metadata.annotations['wattsched.io/observed-watts']}`) };
}

describe('observed-watts windows', () => {
  test('first value after settleSeconds of measurement, as the mean watts over them (not the last reading)', async () => {
    const { patch, sent } = recorder();
    const a = new ObservedWattsAnnotator({ patch, settleSeconds: 10, refreshSeconds: 60, perSecond: 1000 });
    // 9 one-second reports at 2 W: not yet. The 10th at 4 W closes the window: (9 × 2 + 4) / 10 = 2.2 W.
    for (let i = 0; i < 9; i++) a.offer(report([podReport('u1', 2)]));
    await a.queue.drained();
    expect(sent).toEqual([]);
    a.offer(report([podReport('u1', 4)]));
    await a.queue.drained();
    expect(sent).toEqual(['pod-u1=2.200']);
  });

  test('later windows rewrite the value only when it moved by ≥ 10 % and ≥ 0.05 W', async () => {
    const { patch, sent } = recorder();
    const a = new ObservedWattsAnnotator({ patch, settleSeconds: 2, refreshSeconds: 4, perSecond: 1000 });
    const run = async (watts: number, seconds: number) => {
      for (let i = 0; i < seconds; i++) a.offer(report([podReport('u1', watts)]));
      await a.queue.drained();
    };
    await run(10, 2); // first window: 10 W
    await run(10.9, 4); // +9 %: kept
    await run(9.1, 4); // -9 %: kept
    await run(11, 4); // +10 %: rewritten
    await run(11, 8); // steady: two windows, no patch
    expect(sent).toEqual(['pod-u1=10.000', 'pod-u1=11.000']);
  });

  test('tiny pods: a large relative change of almost nothing is not rewritten', async () => {
    const { patch, sent } = recorder();
    const a = new ObservedWattsAnnotator({ patch, settleSeconds: 1, refreshSeconds: 1, perSecond: 1000 });
    for (const w of [0.02, 0.04, 0.06, 0.08]) a.offer(report([podReport('u1', w)]));
    await a.queue.drained();
    // 0.02 written; 0.04 and 0.06 are within 0.05 W of it; 0.08 is 0.06 W away and +300 %.
    expect(sent).toEqual(['pod-u1=0.020', 'pod-u1=0.080']);
    expect(meaningfulChange(undefined, 0, 0.1, 0.05)).toBe(true);
  });

  test('intervals weigh by their length; pods without a name or without watts are not patched; pods gone are forgotten', async () => {
    const { patch, sent } = recorder();
    const a = new ObservedWattsAnnotator({ patch, settleSeconds: 4, perSecond: 1000 });
    a.offer(report([podReport('u1', 1), podReport('anon', 5, false), podReport('nowatts', null)], 3));
    a.offer(report([podReport('u1', 5), podReport('anon', 5, false)], 1)); // (3 × 1 + 1 × 5) / 4 = 2 W
    await a.queue.drained();
    expect(sent).toEqual(['pod-u1=2.000']);
    expect(a.tracked()).toBe(1);
    a.offer(report([], 1));
    expect(a.tracked()).toBe(0);
    a.offer(report([podReport('u1', 1)], 0)); // no interval yet (the agent's first reading): ignored
    expect(a.tracked()).toBe(0);
  });
});

describe('observed-watts patch on the wire', () => {
  let api: FastifyInstance;
  const patches: { path: string; contentType: string | undefined; body: string }[] = [];
  let patch: PatchFn;

  beforeAll(async () => {
    api = Fastify();
    api.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    api.patch('/api/v1/namespaces/:ns/pods/:name', (req, reply) => {
      patches.push({ path: req.url, contentType: req.headers['content-type'], body: req.body as string });
      return reply.send({ kind: 'Pod', apiVersion: 'v1', metadata: {} });
    });
    const url = await api.listen({ port: 0, host: '127.0.0.1' });
    const dir = mkdtempSync(join(tmpdir(), 'wattsched-observed-'));
    const kubeconfig = join(dir, 'config');
    writeKubeconfig(kubeconfig, url);
    patch = await kubePatcher((kc) => kc.loadFromFile(kubeconfig));
  });

  afterAll(async () => {
    await api?.close();
  });

  test('a JSON merge patch of metadata.annotations only', async () => {
    const a = new ObservedWattsAnnotator({ patch, settleSeconds: 1, perSecond: 1000 });
    a.offer(report([podReport('u7', 3.14159)]));
    await vi.waitFor(() => expect(patches).toHaveLength(1), { timeout: 5000 });
    expect(patches[0]).toEqual({
      path: '/api/v1/namespaces/shop/pods/pod-u7',
      contentType: 'application/merge-patch+json',
      body: '{"metadata":{"annotations":{"wattsched.io/observed-watts":"3.142"}}}',
    });
    a.stop();
  });
});
