// The node model chain in the extender: annotation > configured curves > model server by fingerprint > shipped curve
// model from the node's description > embedded; the model server looked up in the background with backoff, and
// each model turned into load curves in one inference run per model. The model server is the real one, in-process.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { create } from '../../../src/extender/live/scorer.js';
import { NodeModels, type NodeModelsOptions } from '../../../src/extender/live/models.js';
import { MemoryProfileStore } from '../../../src/extender/profiles/store.js';
import { TelemetryStore } from '../../../src/extender/telemetry/node-telemetry.js';
import { ingest } from '../../../src/extender/telemetry/agent-feed.js';
import type { NodeState } from '../../../src/extender/nodes/state.js';
import { podDemand } from '../../../src/extender/protocol/pod.js';
import type { ScoreBatch } from '../../../src/extender/scoring/scorer.js';
import { loadCurveProblem, loadCurves } from '../../../src/model/load-curve.js';
import { OnnxPowerModel, type PowerModel } from '../../../src/model/power-model.js';
import { fingerprint } from '../../../src/model/features.js';
import type { NodeHardware } from '../../../src/shared/wire/model.js';
import { nodeReport, pendingPod } from './fixtures.js';
import { GOLD, GOLD_FP, MODELS_DIR, linearCpuModel, startModelServer, type RunningModelServer } from './model-server-fixture.js';
import { join } from 'node:path';
import Fastify from 'fastify';
import { AgentFeed } from '../../../src/extender/telemetry/agent-feed.js';
import { staticInventory } from '../../../src/extender/nodes/inventory.js';
import { buildExtender } from '../../../src/extender/app.js';
import { extenderConfig, post } from '../helpers.js';
import { openNodeModels } from '../../../src/extender/live/open-models.js';
import { loadConfig } from '../../../src/shared/config/load.js';
import { ExtenderConfigSchema } from '../../../src/shared/config/extender.js';
import { fetchModel } from '../../../src/shared/model-server-client.js';

const EPYC: NodeHardware = { cpuModel: 'AMD EPYC 7763 64-Core Processor', sockets: 2, cores: 128, threads: 256, memoryGb: 1024, year: 2021, nodes: 1, cpuMhz: 2450, cpuVendor: 'amd' };
const SMALL: NodeHardware = { cpuModel: 'Intel(R) Xeon(R) E-2288G CPU @ 3.70GHz', sockets: 1, cores: 8, threads: 16, memoryGb: 64, year: 2020, nodes: 1, cpuMhz: 3700, cpuVendor: 'intel' };

let server: RunningModelServer;
beforeAll(async () => {
  server = await startModelServer();
  // watts = 40 + 0.5 × busy CPU seconds per second: on 80 threads, 40 W idle and 80 W at full load.
  await server.publish(GOLD_FP, linearCpuModel(40, 0.5));
});
afterAll(async () => server.close());

const node = (name: string, over: Partial<NodeState> = {}): NodeState => ({ name, labels: {}, annotations: {}, allocatableMilliCPU: 80_000, requestedMilliCPU: 0, ...over });

function models(over: Partial<NodeModelsOptions> = {}): NodeModels {
  return new NodeModels({ requestTimeoutMs: 2000, refreshMs: 600_000, retryMinMs: 5000, retryMaxMs: 300_000, maxFingerprints: 100, maxConcurrentFetches: 2, shippedModelsDir: MODELS_DIR, ...over });
}

function setup(m: NodeModels, curves: { byLabelValue?: Record<string, number[]>; default?: number[] } = {}) {
  const now = 1_000_000;
  const telemetry = new TelemetryStore(60_000);
  const profiles = new MemoryProfileStore({ halfLifeSeconds: 3600, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 1 });
  const scorer = create({ curves: { nodeLabel: 'node.kubernetes.io/instance-type', byLabelValue: curves.byLabelValue ?? {}, emptyNodes: 'idle', ...(curves.default ? { default: curves.default } : {}) }, telemetry, profiles, models: m, now: () => now });
  /** The node's agent reports `u` load, 123 W, and its hardware. */
  const report = (name: string, u: number, hw: NodeHardware, fp = fingerprint(hw)) => {
    const r = nodeReport(name, u, 123);
    (r.power as NonNullable<typeof r.power>).hardware = { fingerprint: fp, description: hw, assumed: [] };
    ingest(r, now, `http://agent-${name}`, telemetry, profiles);
  };
  const pod = podDemand(pendingPod('p', 'web', { request: '4' }) as never);
  const score = async (nodes: NodeState[]): Promise<ScoreBatch> => {
    const r = await scorer.score(pod, nodes);
    if (r.kind !== 'batch') throw new Error(`skip: ${r.reason}`);
    return r;
  };
  return { report, score };
}

/** An HTTP server that answers every request with `handler` (or never, when it returns null), counting requests. */
async function fakeServer(handler: (url: string) => { status: number; body: string } | null): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const s: Server = createServer((req, res) => {
    n++;
    const a = handler(req.url ?? '');
    if (a === null) return; // hangs: the client's timeout must end it
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    requests: () => n,
    close: () => new Promise<void>((r) => {
      s.closeAllConnections();
      s.close(() => r());
    }),
  };
}

describe('each source in its turn', () => {
  test('model server, exact fingerprint: its counters model over busy CPU, priced by hand; /explain names it', async () => {
    const m = models({ modelServerUrl: server.url });
    const { report, score } = setup(m);
    report('gold', 0.25, GOLD);
    // Nothing is fetched while the request waits: the first answer uses the embedded shape calibrated to 123 W.
    expect((await score([node('gold')])).basis[0]).toMatch(/^curve: embedded SPECpower shape calibrated/);
    await m.settled();
    const b = await score([node('gold')]);
    // The model's curve is 40 + 4 W per 10 %: linear, so it is its own envelope. 4 cores of 80 on 0.5 W per core:
    // 2 W; with the pod the node is at 30 %: 40 + 40 × 0.3 = 52 W.
    expect(b.marginalWatts[0]).toBeCloseTo(2, 4);
    expect(b.powerWithPodWatts[0]).toBeCloseTo(52, 4);
    expect(b.basis[0]).toMatch(new RegExp(`^curve: model-server:${GOLD_FP}@v1, exact match for ${GOLD_FP}, held-out MAPE 4.2 %; load: measured 25.0%`));
    expect(m.stats.fetches).toEqual({ ok: 1, failed: 0, unusable: 0 });
    await m.close();
  });

  test('model server, no model for the fingerprint: its description curve, the same numbers as the shipped model', async () => {
    const m = models({ modelServerUrl: server.url });
    const { report, score } = setup(m);
    report('epyc', 0.5, EPYC);
    await score([node('epyc', { allocatableMilliCPU: 256_000 })]);
    await m.settled();
    const b = await score([node('epyc', { allocatableMilliCPU: 256_000 })]);
    expect(b.basis[0]).toMatch(new RegExp(`^curve: model-server:description-curve@v1, description match for ${fingerprint(EPYC)}`));
    // The server seeded its description curve from the shipped file: evaluated here on its own, the same watts.
    const shipped = await OnnxPowerModel.load(join(MODELS_DIR, 'curve.onnx'));
    const [own] = await loadCurves(shipped, [EPYC]);
    await shipped.close();
    const curve = (own as { curve: number[] }).curve;
    // 0.5 → 0.5 + 4/256: on a curve whose envelope is the curve there (checked below), the marginal is the
    // curve's slope between 50 and 60 % times the step.
    const step = 4 / 256;
    const slope = ((curve[6] as number) - (curve[5] as number)) / 0.1;
    expect(b.powerWithPodWatts[0]).toBeCloseTo((curve[5] as number) + slope * step, 3);
    await m.close();
  });

  test('no model server configured: the shipped curve model from the description', async () => {
    const m = models();
    const { report, score } = setup(m);
    report('gold', 0.25, GOLD);
    await score([node('gold')]);
    await m.settled();
    const b = await score([node('gold')]);
    expect(b.basis[0]).toMatch(new RegExp(`^curve: shipped:curve, from the node's description, fingerprint ${GOLD_FP} \\(grouped cross-validation MAPE 20.9 %\\)`));
    await m.close();
  });

  test('neither model source: the embedded shape calibrated to the agent, as before', async () => {
    const m = models({ shippedModelsDir: null });
    const { report, score } = setup(m);
    report('gold', 0.25, GOLD);
    await score([node('gold')]);
    await m.settled();
    expect((await score([node('gold')])).basis[0]).toMatch(/^curve: embedded SPECpower shape calibrated to the agent's 123.0 W/);
    expect(m.enabled).toBe(false);
  });

  test("a user's annotation and configured curves outrank every model", async () => {
    const m = models({ modelServerUrl: server.url });
    const { report, score } = setup(m, { byLabelValue: { m5: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100] }, default: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
    for (const n of ['a', 'b', 'c']) report(n, 0.25, GOLD);
    const nodes = [node('a', { annotations: { 'wattsched.io/power-curve': '0,20,40,60,80,100,120,140,160,180,200' } }), node('b', { labels: { 'node.kubernetes.io/instance-type': 'm5' } }), node('c')];
    await score(nodes);
    await m.settled();
    const b = await score(nodes);
    // Linear curves: 4 cores of 80 is 5 % of the span: 200 × 0.05, 100 × 0.05, 10 × 0.05.
    expect([...b.marginalWatts]).toEqual([expect.closeTo(10, 9), expect.closeTo(5, 9), expect.closeTo(0.5, 9)]);
    expect(b.basis.map((x) => x.split(';')[0])).toEqual(['curve: annotation', 'curve: label node.kubernetes.io/instance-type=m5', 'curve: configured default']);
    await m.close();
  });
});

describe('the model server down, slow or wrong: the chain falls through, says why, and backs off', () => {
  test.each([
    ['down (connection refused)', 'down', /ECONNREFUSED/],
    ['slow (no answer in time)', 'slow', /no answer within 200 ms/],
    ['garbage (not JSON)', 'garbage', /answer is not JSON/],
    ['not a model resolution', 'schema', /answer is not a model resolution/],
    ['a 500', 'error', /HTTP 500: boom/],
    ['an ONNX file that is not one', 'bad-onnx', /cannot use model|not an ONNX file|protobuf|Load model/i],
  ])('%s', async (_label, kind, why) => {
    const meta = { requested: GOLD_FP, match: 'exact', fingerprint: GOLD_FP, version: 1, task: 'counters', featureNames: ['cpu_seconds_per_s'], outputNames: ['watts'], heldOutMapePercent: 1 };
    const fake = await fakeServer((url) => {
      if (kind === 'slow') return null;
      if (kind === 'garbage') return { status: 200, body: '<html>proxy error</html>' };
      if (kind === 'schema') return { status: 200, body: JSON.stringify({ model: 'yes' }) };
      if (kind === 'error') return { status: 500, body: JSON.stringify({ error: 'x', message: 'boom' }) };
      return { status: 200, body: JSON.stringify(url.includes('include=onnx') ? { ...meta, onnxBase64: Buffer.from('not an onnx file').toString('base64') } : meta) };
    });
    if (kind === 'down') await fake.close();
    let now = 5_000_000;
    const m = models({ modelServerUrl: fake.url, requestTimeoutMs: 200, now: () => now });
    const { report, score } = setup(m);
    report('gold', 0.25, GOLD);
    await score([node('gold')]);
    await m.settled();
    const b = await score([node('gold')]);
    // The shipped model stands in, and the basis says why the model server did not.
    expect(b.basis[0]).toMatch(/^curve: shipped:curve, /);
    expect(b.basis[0]).toMatch(why);
    expect(b.basis[0]).toMatch(/retry in 5 s/);
    expect(m.stats.fetches.failed).toBe(1);
    // Backoff: asking again at once sends nothing; after 5 s one more lookup, then 10 s.
    const before = fake.requests();
    await score([node('gold')]);
    await m.settled();
    expect(fake.requests()).toBe(before);
    now += 5000;
    await score([node('gold')]);
    await m.settled();
    expect(m.stats.fetches.failed).toBe(2);
    expect((await score([node('gold')])).basis[0]).toMatch(/retry in 10 s/);
    await m.close();
    if (kind !== 'down') await fake.close();
  });

  test('the client reads at most maxBytes of an answer, and names the cap', async () => {
    const fake = await fakeServer(() => ({ status: 200, body: JSON.stringify({ padding: 'x'.repeat(5000) }) }));
    try {
      await expect(fetchModel(fake.url, GOLD_FP, 'meta', { timeoutMs: 2000, maxBytes: 1000 })).rejects.toMatchObject({ code: 'WS_ERR_MODEL_SERVER', message: expect.stringMatching(/over the 1000-byte cap$/) });
    } finally {
      await fake.close();
    }
  });

  test('a model that cannot price load (it needs PMU counters) is unusable, not a failure: shipped stands in', async () => {
    const fp = 'intel-xeon-pmu-only-s1-c4';
    const m = models({ modelServerUrl: server.url });
    const { bytes, meta } = linearCpuModel(10, 1);
    await server.publish(fp, { bytes, meta: { ...meta, featureNames: ['cpu_seconds_per_s', 'cpu_cycles_per_s'] } });
    const { report, score } = setup(m);
    // The report names its own fingerprint, whatever the description (push.fingerprint on the agent).
    report('pmu', 0.25, GOLD, fp);
    await score([node('pmu')]);
    await m.settled();
    const b = await score([node('pmu')]);
    expect(b.basis[0]).toMatch(new RegExp(`^curve: shipped:curve, from the node's description, fingerprint ${fp} .*\\(model server: counters model ${fp}@v1 needs cpu_cycles_per_s: not a function of CPU load\\)`));
    expect(m.stats.fetches).toEqual({ ok: 0, failed: 0, unusable: 1 });
    await m.close();
  });
});

describe('one inference run per model for every node that needs it', () => {
  /** Counts predict calls and rows of a real model. */
  function counting(inner: PowerModel): PowerModel & { calls: number[] } {
    const calls: number[] = [];
    return Object.assign(Object.create(inner) as PowerModel, {
      calls,
      predict: (f: Float32Array, rows: number) => {
        calls.push(rows);
        return inner.predict(f, rows);
      },
    });
  }

  test('three fingerprints first seen in one request share one run of the shipped model, with per-node numbers', async () => {
    const loaded: (PowerModel & { calls: number[] })[] = [];
    const m = models({
      loadModel: async (bytes, name) => {
        const c = counting(await OnnxPowerModel.fromBytes(bytes, name));
        loaded.push(c);
        return c;
      },
    });
    const hws = [GOLD, EPYC, SMALL];
    for (const hw of hws) m.lookup(fingerprint(hw), hw);
    await m.settled();
    expect(loaded).toHaveLength(1);
    expect(loaded[0]?.calls).toEqual([3]);
    expect(m.stats.batches).toBe(1);
    // Each node's curve equals what the same model says for that node alone.
    const single = await OnnxPowerModel.load(join(MODELS_DIR, 'curve.onnx'));
    for (const hw of hws) {
      const [alone] = await loadCurves(single, [hw]);
      expect(m.lookup(fingerprint(hw), hw).model?.curve).toEqual((alone as { curve: number[] }).curve);
    }
    await single.close();
    await m.close();
  });

  test('a busy-CPU counters model: 11 rows per node in one run, curves worked out by hand', async () => {
    const calls: number[] = [];
    // watts = 30 + 2 × busy CPU seconds per second, as a PowerModel over plain numbers.
    const linear: PowerModel = {
      name: 'linear',
      task: 'counters',
      featureNames: ['cpu_seconds_per_s'],
      outputNames: ['watts'],
      units: 'W',
      metadata: {} as PowerModel['metadata'],
      predict: async (f, rows) => {
        calls.push(rows);
        return Float32Array.from(f, (x) => 30 + 2 * x);
      },
      close: async () => undefined,
    };
    const curves = await loadCurves(linear, [SMALL, { ...SMALL, threads: 4 }]);
    expect(calls).toEqual([22]);
    // 16 threads: 30 + 2 × 16 × level = 30, 33.2, …, 62; 4 threads: 30, 30.8, …, 38.
    expect((curves[0] as { curve: number[] }).curve.map((w) => +w.toFixed(4))).toEqual([30, 33.2, 36.4, 39.6, 42.8, 46, 49.2, 52.4, 55.6, 58.8, 62]);
    expect((curves[1] as { curve: number[] }).curve.map((w) => +w.toFixed(4))).toEqual([30, 30.8, 31.6, 32.4, 33.2, 34, 34.8, 35.6, 36.4, 37.2, 38]);
  });

  test('which models can be load curves', () => {
    expect(loadCurveProblem({ name: 'c', task: 'curve', featureNames: ['nodes'] })).toBeNull();
    expect(loadCurveProblem({ name: 'k', task: 'counters', featureNames: ['cpu_seconds_per_s'] })).toBeNull();
    expect(loadCurveProblem({ name: 'k', task: 'counters', featureNames: ['cpu_seconds_per_s', 'cpu_instructions_per_s'] })).toBe('counters model k needs cpu_instructions_per_s: not a function of CPU load');
    expect(loadCurveProblem({ name: 's', task: 'shape', featureNames: ['watts_idle'] })).toMatch(/needs measured idle and peak watts/);
  });
});

describe('through the extender: agents report hardware, /explain and /metrics name each node\'s model', () => {
  test('an exact model and a description match, each named with its model id', async () => {
    const withHw = (name: string, u: number, hw: NodeHardware) => {
      const r = nodeReport(name, u, 100);
      (r.power as NonNullable<typeof r.power>).hardware = { fingerprint: fingerprint(hw), description: hw, assumed: [] };
      return r;
    };
    const reports: Record<string, unknown> = { gold: withHw('gold', 0.25, GOLD), epyc: withHw('epyc', 0.25, EPYC) };
    const agents = await Promise.all(
      Object.keys(reports).map(async (name) => {
        const a = Fastify();
        a.get('/v1/node', async () => reports[name]);
        return { a, url: await a.listen({ port: 0, host: '127.0.0.1' }) };
      }),
    );
    const telemetry = new TelemetryStore(60_000);
    const profiles = new MemoryProfileStore({ halfLifeSeconds: 3600, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 1 });
    // The feed checks every report against the wire schema: the hardware field passes it.
    const feed = new AgentFeed({ agents: agents.map((x) => x.url), pollIntervalMs: 1000, requestTimeoutMs: 2000 }, telemetry, profiles, undefined);
    expect((await feed.pollOnce()).every((o) => o.ok)).toBe(true);
    const m = models({ modelServerUrl: server.url });
    const scorer = create({ curves: { nodeLabel: 'x', byLabelValue: {}, emptyNodes: 'idle' }, telemetry, profiles, models: m });
    const config = extenderConfig({ nodes: [{ name: 'gold', allocatableMilliCPU: 80_000 }, { name: 'epyc', allocatableMilliCPU: 256_000 }] });
    const app = await buildExtender(config, { scorer, inventory: staticInventory(config.nodes), logger: false, registerMetrics: [(r) => scorer.registerMetrics(r), (r) => m.registerMetrics(r)] });
    try {
      const pod = pendingPod('web-9', 'web', { request: '4' });
      await post(app, '/prioritize', { Pod: pod, NodeNames: ['gold', 'epyc'] });
      await m.settled();
      await post(app, '/prioritize', { Pod: pod, NodeNames: ['gold', 'epyc'] });
      const ex = (await app.inject({ method: 'GET', url: '/explain/shop/web-9' })).json() as { nodes: { name: string; basis: string; marginalWatts: number }[] };
      const by = Object.fromEntries(ex.nodes.map((n) => [n.name, n]));
      expect(by.gold?.basis).toMatch(new RegExp(`^curve: model-server:${GOLD_FP}@v1, exact match for ${GOLD_FP}`));
      expect(by.gold?.marginalWatts).toBeCloseTo(2, 3); // 4 cores × 0.5 W, as above
      expect(by.epyc?.basis).toMatch(new RegExp(`^curve: model-server:description-curve@v1, description match for ${fingerprint(EPYC)}`));
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/wattsched_extender_model_server_fetches_total\{outcome="ok"\} 2\b/);
      expect(metrics).toMatch(/wattsched_extender_node_model_fingerprints\{source="model-server"\} 2\b/);
    } finally {
      await app.close();
      await m.close();
      for (const x of agents) await x.a.close();
    }
  });
});

const extenderCommand = join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist/src/extender/command.js');
const mapsSkip = !existsSync(extenderCommand) ? ' (skipped: needs the built dist/, npm run build)' : !existsSync('/proc/self/maps') ? ' (skipped: needs /proc/self/maps, Linux)' : '';
test.skipIf(mapsSkip !== '')(`an extender with no node model loaded does not map onnxruntime${mapsSkip}`, () => {
  const out = execFileSync(process.execPath, ['-e', `import(${JSON.stringify(extenderCommand)}).then(() => process.stdout.write(String(/onnxruntime/.test(require('fs').readFileSync('/proc/self/maps', 'utf8')))))`], { encoding: 'utf8' });
  expect(out).toBe('false');
});

describe('configuration', () => {
  test('nodeModels is validated once: a URL that is not http(s) is refused with its key; the environment sets it', () => {
    expect(() => loadConfig(ExtenderConfigSchema, { flags: { nodeModels: { modelServerUrl: 'ftp://models:21' } } })).toThrow(/nodeModels\/modelServerUrl|nodeModels\.modelServerUrl/);
    const c = loadConfig(ExtenderConfigSchema, { env: { WATTSCHED_EXTENDER_NODE_MODELS__MODEL_SERVER_URL: 'http://wattsched-model-server:8100' }, envPrefix: 'WATTSCHED_EXTENDER_' });
    expect(c.nodeModels).toMatchObject({ modelServerUrl: 'http://wattsched-model-server:8100', requestTimeoutMs: 2000, refreshSeconds: 600, retryMinSeconds: 5, retryMaxSeconds: 300, maxFingerprints: 4096, shipped: true });
  });

  test('the defaults find the packaged shipped model; shipped: false turns it off', async () => {
    const on = openNodeModels(loadConfig(ExtenderConfigSchema, {}).nodeModels);
    on.lookup(GOLD_FP, GOLD);
    await on.settled();
    expect(on.lookup(GOLD_FP, GOLD).model?.modelId).toBe('shipped:curve');
    await on.close();
    const off = openNodeModels(loadConfig(ExtenderConfigSchema, { flags: { nodeModels: { shipped: false } } }).nodeModels);
    expect(off.enabled).toBe(false);
    await off.close();
  });
});
