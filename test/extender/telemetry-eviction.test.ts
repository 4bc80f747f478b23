// Nodes that fall silent are forgotten: an agent gone from the list (or its Node deleted, so nothing reports it any
// more) leaves the TelemetryStore after telemetry.forgetAfterSeconds, and the map never holds more than maxNodes.
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, test } from 'vitest';
import { MemoryProfileStore } from '../../src/extender/profiles/store.js';
import { AgentFeed } from '../../src/extender/telemetry/agent-feed.js';
import { type NodeTelemetry, TelemetryStore } from '../../src/extender/telemetry/node-telemetry.js';
import { nodeReport } from './live/fixtures.js';

const S = 1000;
const seen = (node: string, at: number): NodeTelemetry => ({ node, receivedAt: at, utilisation: 0.5, watts: 100, powerSource: 'rapl', modelId: null, pods: [], origin: 'test' });

describe('TelemetryStore eviction', () => {
  test('stale after staleAfter, forgotten after forgetAfter, counted', () => {
    const t = new TelemetryStore(60 * S, { forgetAfterMs: 300 * S, maxNodes: 10 });
    t.update(seen('a', 0));
    t.update(seen('b', 100 * S));
    expect(t.state('a', 60 * S).kind).toBe('fresh');
    expect(t.state('a', 61 * S).kind).toBe('stale');
    expect(t.state('a', 300 * S).kind).toBe('stale');
    // 301 s silent: gone, even before anything sweeps the map.
    expect(t.state('a', 301 * S).kind).toBe('none');
    t.evict(301 * S);
    expect(t.size()).toBe(1);
    expect(t.list().map((n) => n.node)).toEqual(['b']);
    expect(t.forgotten).toBe(1);
    // A node that reports again is kept from its new report on.
    t.update(seen('b', 350 * S));
    t.evict(600 * S);
    expect(t.state('b', 600 * S).kind).toBe('stale');
    t.evict(651 * S);
    expect(t.size()).toBe(0);
    expect(t.forgotten).toBe(2);
  });

  test('never more than maxNodes: the longest-silent goes first, a fresh report moves a node to the back', () => {
    const t = new TelemetryStore(60 * S, { forgetAfterMs: 3600 * S, maxNodes: 3 });
    for (const [i, n] of ['a', 'b', 'c'].entries()) t.update(seen(n, i * S));
    t.update(seen('a', 10 * S)); // a reports again: now b is the longest silent
    t.update(seen('d', 11 * S));
    expect(t.list().map((n) => n.node).sort()).toEqual(['a', 'c', 'd']);
    for (let i = 0; i < 1000; i++) t.update(seen(`n${i}`, (20 + i) * S));
    expect(t.size()).toBe(3);
    expect(t.list().map((n) => n.node)).toEqual(['n997', 'n998', 'n999']);
    expect(t.forgotten).toBe(1001);
  });
});

describe('AgentFeed forgets an agent that left', () => {
  const servers: FastifyInstance[] = [];
  afterAll(async () => Promise.all(servers.map((s) => s.close())));

  test('the silent node is forgotten by the feed’s own round, the live one stays; the metric counts it', async () => {
    const urls: string[] = [];
    for (const node of ['node-a', 'node-b']) {
      const s = Fastify();
      s.get('/v1/node', async () => nodeReport(node, 0.3, 80));
      servers.push(s);
      urls.push(await s.listen({ port: 0, host: '127.0.0.1' }));
    }
    const telemetry = new TelemetryStore(60 * S, { forgetAfterMs: 300 * S, maxNodes: 100 });
    const profiles = new MemoryProfileStore({ halfLifeSeconds: 3600, maxWorkloads: 10, maxBytes: 1 << 20, maxSamplesPerWorkload: 10, minEffectiveSamples: 1 });
    let now = 0;
    const feed = new AgentFeed({ agents: urls, pollIntervalMs: 1000, requestTimeoutMs: 2000 }, telemetry, profiles, undefined, () => now);
    const registry = new Registry();
    telemetry.registerMetrics(registry);
    expect((await feed.pollOnce()).every((o) => o.ok)).toBe(true);
    expect(telemetry.size()).toBe(2);
    // node-b's agent goes away (its pod deleted, the Node removed): polls fail, nothing reports node-b.
    await (servers[1] as FastifyInstance).close();
    now = 200 * S;
    await feed.pollOnce();
    expect(telemetry.state('node-b', now).kind).toBe('stale');
    now = 400 * S;
    const outcomes = await feed.pollOnce();
    expect(outcomes.map((o) => o.ok)).toEqual([true, false]);
    expect(telemetry.list().map((n) => n.node)).toEqual(['node-a']);
    expect(telemetry.state('node-b', now).kind).toBe('none');
    expect(await registry.metrics()).toContain('wattsched_extender_telemetry_forgotten_nodes_total 1');
  });
});
