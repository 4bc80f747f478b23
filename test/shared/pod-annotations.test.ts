// The annotation queue shared by extender and agent: bounded (oldest dropped, counted), one entry per pod, a fixed
// spacing between patches, failures classified and each kind logged once until a success.
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { AnnotationQueue, classify, formatWatts, type PatchFn } from '../../src/shared/pod-annotations.js';
import { METRICS } from '../../src/shared/names.js';
import { promtoolLint } from '../promtool.js';

function logSink(): { log: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

const httpError = (code: number): Error => Object.assign(new Error(`HTTP-Code: ${code}`), { code });

afterEach(() => {
  vi.useRealTimers();
});

describe('AnnotationQueue', () => {
  test('bounded: past maxPending the oldest waiting pod is dropped and counted; a waiting pod takes newer values in place', async () => {
    const sent: string[] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    const patch: PatchFn = async (pod, body) => {
      sent.push(`${pod.name}=${JSON.stringify(body.metadata.annotations)}`);
      if (sent.length === 1) await first; // holds the worker on a's patch while the rest queue up
    };
    const q = new AnnotationQueue({ patch, maxPending: 2, perSecond: 1000, component: 'test' });
    q.offer('a', { namespace: 'ns', name: 'a' }, { k: '1' }); // taken by the worker at once
    q.offer('b', { namespace: 'ns', name: 'b' }, { k: '1' });
    q.offer('c', { namespace: 'ns', name: 'c' }, { k: '1' });
    q.offer('b', { namespace: 'ns', name: 'b' }, { k: '2' }); // b still waits: updated, not re-queued
    expect(q.size()).toBe(2);
    q.offer('d', { namespace: 'ns', name: 'd' }, { k: '1' }); // full: b (the oldest waiting) is dropped
    expect(q.counts.dropped).toBe(1);
    release();
    await q.drained();
    expect(sent).toEqual(['a={"k":"1"}', 'c={"k":"1"}', 'd={"k":"1"}']);
    expect(q.counts).toMatchObject({ ok: 3, dropped: 1 });
  });

  test('rate: one patch per 1/perSecond, never a burst', async () => {
    vi.useFakeTimers();
    const sent: string[] = [];
    const q = new AnnotationQueue({ patch: async (pod) => void sent.push(pod.name), maxPending: 10, perSecond: 4, component: 'test' });
    for (const n of ['a', 'b', 'c']) q.offer(n, { namespace: 'ns', name: n }, { k: 'v' });
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(249);
    expect(sent).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1); // 250 ms = 1/4 s after the first
    expect(sent).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(250);
    expect(sent).toEqual(['a', 'b', 'c']);
    q.stop();
  });

  test('RBAC refusals: counted per pod, one warning in all; a success re-arms it', async () => {
    const { log, lines } = logSink();
    let status = 403;
    const q = new AnnotationQueue({
      patch: async () => {
        if (status !== 200) throw httpError(status);
      },
      maxPending: 100,
      perSecond: 1000,
      log,
      component: 'extender',
    });
    for (let i = 0; i < 5; i++) q.offer(`p${i}`, { namespace: 'ns', name: `p${i}` }, { k: 'v' });
    await q.drained();
    expect(q.counts.forbidden).toBe(5);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/not allowed to patch pods \(RBAC\).*"patch" "pods"/);
    status = 200;
    q.offer('ok', { namespace: 'ns', name: 'ok' }, { k: 'v' });
    await q.drained();
    status = 403;
    q.offer('again', { namespace: 'ns', name: 'again' }, { k: 'v' });
    await q.drained();
    expect(lines.filter((l) => l.level === 40)).toHaveLength(2);
    expect(q.counts).toMatchObject({ ok: 1, forbidden: 6 });
  });

  test('a pod deleted before its patch is counted not_found and not logged; other failures are logged once per kind', async () => {
    const { log, lines } = logSink();
    const codes = [404, 404, 500, 500, 422];
    const q = new AnnotationQueue({
      patch: async () => {
        throw httpError(codes.shift() as number);
      },
      maxPending: 100,
      perSecond: 1000,
      log,
      component: 'agent',
    });
    for (let i = 0; i < 5; i++) q.offer(`p${i}`, { namespace: 'ns', name: `p${i}` }, { k: 'v' });
    await q.drained();
    expect(q.counts).toMatchObject({ not_found: 2, error: 2, rejected: 1, ok: 0 });
    expect(lines.filter((l) => l.level === 40)).toHaveLength(2); // the first 500, then the 422
  });

  test.each([
    ['extender', METRICS.extender.annotationPatches, METRICS.extender.annotationQueue],
    ['agent', METRICS.agent.annotationPatches, METRICS.agent.annotationQueue],
  ])('metrics (%s): patches by outcome and the queue length, promtool-clean', async (_who, patches, queued) => {
    const q = new AnnotationQueue({ patch: async () => {}, maxPending: 10, perSecond: 1000, component: 'test' });
    const registry = new Registry();
    q.registerMetrics(registry, { patches, queued });
    q.offer('a', { namespace: 'ns', name: 'a' }, { k: 'v' });
    await q.drained();
    const text = await registry.metrics();
    expect(text).toContain(`${patches}{outcome="ok"} 1`);
    expect(text).toContain(`${patches}{outcome="forbidden"} 0`);
    expect(text).toContain(`${queued} 0`);
    expect(promtoolLint(text)).toBe('');
  });

  test('classify and formatWatts', () => {
    expect([401, 403, 404, 409, 422, 500].map((c) => classify(httpError(c)))).toEqual(['forbidden', 'forbidden', 'not_found', 'rejected', 'rejected', 'error']);
    expect(classify(new Error('ECONNREFUSED'))).toBe('error');
    expect(formatWatts(7.5)).toBe('7.500');
    expect(formatWatts(0.0004)).toBe('0.000');
  });
});
