// The agent-direct source end to end over loopback HTTP: a real server answers GET /v1/node, the feed files the
// node's state and the pods' samples, and the extender's answers and /explain use them.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { AgentFeed } from '../../../src/extender/telemetry/agent-feed.js';
import { TelemetryStore } from '../../../src/extender/telemetry/node-telemetry.js';
import { MemoryProfileStore } from '../../../src/extender/profiles/store.js';
import * as live from '../../../src/extender/live/scorer.js';
import { staticInventory } from '../../../src/extender/nodes/inventory.js';
import { buildExtender } from '../../../src/extender/app.js';
import { extenderConfig, post } from '../helpers.js';
import { nodeReport, pendingPod } from './fixtures.js';

let agent: FastifyInstance;
let base: string;
let answer: unknown;

beforeAll(async () => {
  agent = Fastify();
  agent.get('/v1/node', async () => answer);
  base = await agent.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => agent.close());

const stores = () => {
  const telemetry = new TelemetryStore(60_000);
  // One sample, read back a few milliseconds later, weighs just under 1.
  const profiles = new MemoryProfileStore({ halfLifeSeconds: 3600, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 0.5 });
  return { telemetry, profiles };
};

describe('AgentFeed', () => {
  test('files node state and one profile sample per pod', async () => {
    const { telemetry, profiles } = stores();
    answer = nodeReport('node-a', 0.42, 87.5, [{ uid: 'u1', namespace: 'shop', name: 'web-1', deployment: 'web', cores: 1.25, watts: 14 }]);
    const feed = new AgentFeed({ agents: [base], pollIntervalMs: 1000, requestTimeoutMs: 2000 }, telemetry, profiles, undefined, () => 5000);
    expect(await feed.pollOnce()).toEqual([{ agent: base, ok: true }]);
    expect(telemetry.state('node-a', 5000)).toMatchObject({ kind: 'fresh', t: { utilisation: 0.42, watts: 87.5, powerSource: 'rapl', modelId: 'test-model', origin: base } });
    expect(profiles.profile('shop/Deployment/web', 5000)).toMatchObject({ cores: { mean: 1.25 }, watts: 14, samples: 1 });
  });

  test('a body that is not a node report is refused and counted, nothing is filed', async () => {
    const { telemetry, profiles } = stores();
    answer = { node: 'node-a', pods: 'many' };
    const feed = new AgentFeed({ agents: [base], pollIntervalMs: 1000, requestTimeoutMs: 2000 }, telemetry, profiles, undefined);
    const [out] = await feed.pollOnce();
    expect(out?.ok).toBe(false);
    expect(out?.error).toMatch(/^not a node report/);
    expect(feed.polls).toEqual({ ok: 0, failed: 1 });
    expect(telemetry.size()).toBe(0);
  });

  test('dns+ entries poll every address of the name; an unresolvable name is a counted failure', async () => {
    const { telemetry, profiles } = stores();
    answer = nodeReport('node-d', 0.1, 42, []);
    const port = new URL(base).port;
    // .invalid never resolves (RFC 6761).
    const feed = new AgentFeed({ agents: [`dns+http://localhost:${port}`, 'dns+http://no-such-agent.invalid:9102'], pollIntervalMs: 1000, requestTimeoutMs: 2000 }, telemetry, profiles, undefined);
    const out = await feed.pollOnce();
    expect(out.find((o) => o.agent === 'dns+http://no-such-agent.invalid:9102')).toMatchObject({ ok: false, error: expect.stringMatching(/^cannot resolve no-such-agent.invalid/) });
    // localhost resolves to 127.0.0.1 (and on some hosts also ::1, where nothing listens): the IPv4 poll succeeds.
    expect(out).toContainEqual({ agent: `http://127.0.0.1:${port}`, ok: true });
    expect(telemetry.state('node-d', Date.now()).kind).toBe('fresh');
    expect(feed.polls.failed).toBe(out.filter((o) => !o.ok).length);
  });

  test('an unreachable agent is a failed poll, not a crash', async () => {
    const { telemetry, profiles } = stores();
    const feed = new AgentFeed({ agents: ['http://127.0.0.1:9'], pollIntervalMs: 1000, requestTimeoutMs: 500 }, telemetry, profiles, undefined);
    const [out] = await feed.pollOnce();
    expect(out?.ok).toBe(false);
  });
});

describe('extender wired to the feed', () => {
  test('prioritize follows the measured history and /explain shows every input', async () => {
    const { telemetry, profiles } = stores();
    // The agent on node-a saw shop/web's pods use 3 cores each; the pod asks for 100m.
    answer = nodeReport('node-a', 0, 50, [{ uid: 'u1', namespace: 'shop', name: 'web-1', deployment: 'web', cores: 3, watts: 40 }]);
    const feed = new AgentFeed({ agents: [base], pollIntervalMs: 1000, requestTimeoutMs: 2000 }, telemetry, profiles, undefined);
    await feed.pollOnce();
    const scorer = live.create({ curves: { nodeLabel: 'x', byLabelValue: {}, emptyNodes: 'idle' }, telemetry, profiles });
    // "small" has 2 CPUs: 3 cores do not fit (saturated); "node-a" has 4, measured idle: linear 100 → 200, 75 W.
    const nodes = [
      { name: 'node-a', annotations: { 'wattsched.io/power-curve': '100,110,120,130,140,150,160,170,180,190,200' }, allocatableMilliCPU: 4000 },
      { name: 'small', annotations: { 'wattsched.io/power-curve': '10,11,12,13,14,15,16,17,18,19,20' }, allocatableMilliCPU: 2000 },
    ];
    const config = extenderConfig({ nodes });
    const app = await buildExtender(config, { scorer, inventory: staticInventory(config.nodes), logger: false, registerMetrics: [(r) => scorer.registerMetrics(r), (r) => feed.registerMetrics(r)] });
    try {
      const pod = pendingPod('web-2', 'web', { request: '100m' });
      const res = await post(app, '/prioritize', { Pod: pod, NodeNames: ['node-a', 'small'] });
      // With the 100m request "small" would win (0.05 of 10 W span = 0.5 W against 2.5 W); by history it cannot hold the pod.
      expect(res.json()).toEqual([{ Host: 'node-a', Score: 10 }, { Host: 'small', Score: 0 }]);
      const ex = (await app.inject({ method: 'GET', url: '/explain/shop/web-2' })).json();
      expect(ex.demand).toMatchObject({ cores: expect.closeTo(3, 9), source: 'history', policy: 'energy', profile: { workload: 'shop/Deployment/web', watts: expect.closeTo(40, 9) } });
      expect(ex.nodes[0]).toMatchObject({ name: 'node-a', marginalWatts: expect.closeTo(75, 9), score: 10 });
      expect(ex.nodes[0].basis).toMatch(/load: measured 0.0% \(agent/);
      expect(ex.nodes[1].reason).toMatch(/^saturated/);
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/wattsched_extender_demand_source_total\{source="history"\} 1\b/);
      expect(metrics).toMatch(/wattsched_extender_agent_polls_total\{outcome="ok"\} 1\b/);
      expect(metrics).toMatch(/wattsched_extender_telemetry_nodes\{state="fresh"\} 1\b/);
    } finally {
      await app.close();
    }
  });
});
