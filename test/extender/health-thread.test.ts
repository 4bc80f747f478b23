// Health probes served by the health thread (serving/health-thread.ts) on a port of its own: the same answers as the
// main port, given while the main event loop is blocked, and 503 once that loop has not turned for longer than
// serving.maxLoopLagMs, so a liveness probe still means "the loop that answers webhooks is alive". The thread runs
// the built worker (dist/), as the parse pool does.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { healthz, readyz, type HealthIdentity } from '../../src/extender/serving/health-answer.js';
import { BEAT_MS } from '../../src/extender/serving/health-thread.js';
import type { HealthServer } from '../../src/extender/routes/health.js';
import { extenderConfigProblems } from '../../src/shared/config/extender.js';
import type { NodeInventory } from '../../src/extender/nodes/inventory.js';
import { extenderConfig, makeApp } from './helpers.js';

const id: HealthIdentity = { scorer: 'power-curve', inventory: 'cluster watch', maxLoopLagMs: 1000 };
const stalledReason = (ms: number) => `event loop has not turned for ${ms} ms (serving.maxLoopLagMs 1000)`;

describe('the answers', () => {
  test.for([
    { lag: 0, ready: true, health: 200, healthBody: { status: 'ok' }, ready_: 200, readyBody: { status: 'ready', scorer: 'power-curve', inventory: 'cluster watch', nodes: 7 } },
    { lag: 1000, ready: true, health: 200, healthBody: { status: 'ok' }, ready_: 200, readyBody: { status: 'ready', scorer: 'power-curve', inventory: 'cluster watch', nodes: 7 } },
    { lag: 999.6, ready: false, health: 200, healthBody: { status: 'ok' }, ready_: 503, readyBody: { status: 'not ready', reason: 'node inventory has not finished its initial load', scorer: 'power-curve', inventory: 'cluster watch', nodes: 7 } },
    { lag: 1000.4, ready: true, health: 503, healthBody: { status: 'stalled', reason: stalledReason(1000) }, ready_: 503, readyBody: { status: 'not ready', reason: stalledReason(1000), scorer: 'power-curve', inventory: 'cluster watch', nodes: 7 } },
    // A stalled loop is the first reason given, even while the inventory is loading.
    { lag: 2500, ready: false, health: 503, healthBody: { status: 'stalled', reason: stalledReason(2500) }, ready_: 503, readyBody: { status: 'not ready', reason: stalledReason(2500), scorer: 'power-curve', inventory: 'cluster watch', nodes: 7 } },
  ])('loop lag $lag ms, inventory ready $ready', ({ lag, ready, health, healthBody, ready_, readyBody }) => {
    const s = { loopLagMs: lag, inventoryReady: ready, nodes: 7 };
    expect(healthz(s, id)).toEqual({ status: health, body: healthBody });
    expect(readyz(s, id)).toEqual({ status: ready_, body: readyBody });
  });

  test('healthPort must differ from the main port', () => {
    expect(extenderConfigProblems(extenderConfig({ port: 9000, serving: { healthPort: 9000 } }))).toContain('serving.healthPort: must differ from port (the health thread listens on a port of its own)');
    expect(extenderConfigProblems(extenderConfig({ port: 0, serving: { healthPort: 0 } }))).toEqual([]);
  });
});

const listenHealth = (app: FastifyInstance) => app.getDecorator<HealthServer>('healthServer').listen({ port: 0, host: '127.0.0.1' });

async function get(port: number, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.json() };
}

/** GET from a child process, synchronously: this thread's event loop (the extender's main loop) stays blocked. */
function getWhileBlocked(port: number, path: string): { status: number; body: unknown } {
  const script = `fetch('http://127.0.0.1:${port}${path}').then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.json() })))`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { status: number; body: unknown };
}

const blockFor = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe('the health thread', () => {
  test('answers as the main port does; unknown paths are 404 as there', async () => {
    const app = await makeApp({ nodes: [{ name: 'a', labels: {}, annotations: {}, allocatableMilliCPU: 1000, requestedMilliCPU: 0 }] });
    try {
      const port = await listenHealth(app);
      for (const path of ['/healthz', '/readyz', '/nope']) {
        const main = await app.inject({ url: path });
        expect(await get(port, path)).toEqual({ status: main.statusCode, body: main.json() });
      }
      expect(await get(port, '/readyz')).toEqual({ status: 200, body: { status: 'ready', scorer: 'power-curve', inventory: 'config file (1 nodes)', nodes: 1 } });
    } finally {
      await app.close();
    }
  });

  test('answers while the main loop is blocked, and 503 once it has been blocked past maxLoopLagMs', async () => {
    const app = await makeApp({ serving: { maxLoopLagMs: 2000 } });
    try {
      const port = await listenHealth(app);
      // Blocked for less than the limit: still alive (the last beat is at most BEAT_MS plus a child's start-up old).
      expect(getWhileBlocked(port, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
      blockFor(2500);
      const stalled = getWhileBlocked(port, '/healthz');
      expect(stalled.status).toBe(503);
      expect(stalled.body).toMatchObject({ status: 'stalled', reason: expect.stringMatching(/^event loop has not turned for \d+ ms \(serving\.maxLoopLagMs 2000\)$/) });
      expect(getWhileBlocked(port, '/readyz')).toMatchObject({ status: 503, body: { status: 'not ready' } });
      // The loop turns again: its next beat (an interval due before this timeout) makes it healthy.
      await new Promise((r) => setTimeout(r, 2 * BEAT_MS));
      expect(await get(port, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    } finally {
      await app.close();
    }
  });

  test('readiness follows the inventory through the heartbeat', async () => {
    let loaded = false;
    const inventory: NodeInventory = { source: 'cluster watch', ready: () => loaded, get: () => undefined, size: () => (loaded ? 3 : 0), list: () => [], boundPod: () => undefined, onPodSettled: () => () => {}, close: async () => {} };
    const app = await makeApp({}, { inventory });
    try {
      const port = await listenHealth(app);
      expect(await get(port, '/readyz')).toEqual({ status: 503, body: { status: 'not ready', reason: 'node inventory has not finished its initial load', scorer: 'power-curve', inventory: 'cluster watch', nodes: 0 } });
      expect(await get(port, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
      loaded = true;
      await new Promise((r) => setTimeout(r, 2 * BEAT_MS));
      expect(await get(port, '/readyz')).toEqual({ status: 200, body: { status: 'ready', scorer: 'power-curve', inventory: 'cluster watch', nodes: 3 } });
    } finally {
      await app.close();
    }
  });

  test('a taken port fails the listen; closing the app stops the thread', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    const app = await makeApp();
    try {
      await expect(app.getDecorator<HealthServer>('healthServer').listen({ port, host: '127.0.0.1' })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await app.close();
      taken.close();
    }
    const other = await makeApp();
    const otherPort = await listenHealth(other);
    await other.close();
    await expect(fetch(`http://127.0.0.1:${otherPort}/healthz`)).rejects.toThrow();
  });
});
