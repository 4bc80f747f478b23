// The model server through inject(): listing and the fallback chain, sample validation and size limits, retraining
// that publishes only improvements, pin/rollback, persistence across restarts, and a Prometheus pull from a fake
// Prometheus HTTP API served on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, test as base } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import Value from 'typebox/value';
import { buildModelServer } from '../../src/model/server/app.js';
import { ModelStore } from '../../src/model/server/store.js';
import { retrainFingerprint } from '../../src/model/server/retrain.js';
import { fingerprintFamily } from '../../src/model/server/resolve.js';
import { ModelServerConfigSchema, type ModelServerConfig } from '../../src/shared/config/model-server.js';
import { readCsv } from '../../src/model/csv.js';
import { defaultCounterFeatures } from '../../src/model/tasks.js';
import type { SampleWindow } from '../../src/shared/wire/model.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const nx12 = readCsv(join(root, 'test/model/fixtures/nx12_sample.csv'));
const COUNTERS = defaultCounterFeatures(nx12, ['acpi_platform_watts']);
const WINDOWS: SampleWindow[] = nx12.rows.map((r) => ({
  start: Number(r.timestamp_unix_s) - 3,
  end: Number(r.timestamp_unix_s),
  counters: Object.fromEntries(COUNTERS.map((c) => [c, Number(r[c])])),
  watts: Number(r.acpi_platform_watts),
}));
const FP = 'intel-xeon-gold-6230-s2-c40';

const TOKEN = 'test-token-0123456789abcdef';
const LIMITS = { maxFingerprints: 100, maxSamplesPerFingerprint: 10_000, maxSampleBytesPerFingerprint: 64 << 20, maxSampleBytes: 1 << 30 };

function config(over: Record<string, unknown> = {}): ModelServerConfig {
  const c = Value.Default(ModelServerConfigSchema, { retrain: { intervalSeconds: 0, minSamples: 40, maxTrees: 60 }, bodyLimitBytes: 256 * 1024, auth: { token: TOKEN }, ...over });
  return Value.Parse(ModelServerConfigSchema, c) as ModelServerConfig;
}

const test = base.extend<{ dir: string; app: FastifyInstance }>({
  // eslint-disable-next-line no-empty-pattern
  dir: async ({}, use) => {
    const dir = mkdtempSync(join(tmpdir(), 'wattsched-models-'));
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
  app: async ({ dir }, use) => {
    const app = await buildModelServer(config(), { dataDir: dir, pretrainedDir: join(root, 'models'), logger: false, now: () => new Date('2026-12-01T00:00:00Z') });
    await use(app);
    await app.close();
  },
});

const post = (app: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload: payload as object, headers: { authorization: `Bearer ${TOKEN}`, ...headers } });

describe('listing and fallback chain', () => {
  test('pretrained models are seeded and listed by fingerprint', async ({ app }) => {
    const res = await app.inject('/v1/models');
    expect(res.statusCode).toBe(200);
    const fps = (res.json() as { models: { fingerprint: string; current: number }[] }).models.map((m) => m.fingerprint);
    expect(fps).toEqual(expect.arrayContaining(['description-curve', 'kepler-nx12', 'gpu-nvidia-h100-80gb-hbm3']));
  });

  test.for([
    { fp: 'description-curve', match: 'exact', task: 'curve' },
    { fp: 'amd-epyc-7763-s2-c128', match: 'description', task: 'curve' },
  ])('$fp resolves by $match', async ({ fp, match, task }, { app }) => {
    const res = await app.inject(`/v1/models/${fp}?include=meta`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { match: string; task: string; onnxBase64?: string };
    expect(body).toMatchObject({ match, task });
    expect(body.onnxBase64).toBeUndefined();
  });

  test.for(['/v1/models/Bad%20Fingerprint', '/v1/models/kepler-nx12?include=everything', '/v1/models/kepler-nx12?version=0'])('%s → 400', async (url, { app }) => {
    const res = await app.inject(url);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'WS_ERR_MODEL_INPUT' });
  });

  test('same CPU family answers before the description curve', async ({ app }) => {
    expect((await post(app, '/v1/samples', { fingerprint: FP, windows: WINDOWS })).statusCode).toBe(200);
    const r = (await post(app, `/v1/models/${FP}/retrain`, {})).json() as { published: boolean };
    expect(r.published).toBe(true);
    const sibling = (await app.inject('/v1/models/intel-xeon-gold-6248-s2-c40')).json() as { match: string; fingerprint: string; onnxBase64: string };
    expect(sibling).toMatchObject({ match: 'family', fingerprint: FP });
    expect(Buffer.from(sibling.onnxBase64, 'base64').length).toBeGreaterThan(100);
    expect((await app.inject(`/v1/models/${FP}`)).json()).toMatchObject({ match: 'exact', version: 1 });
  });

  test.for([
    ['intel-xeon-gold-6230-s2-c40', 'xeon-gold-62xx', ''],
    ['amd-epyc-7763-s2-c128-gpu-nvidia-a100', 'epyc-77xx', 'nvidia-a100'],
    ['kepler-nx12', 'kepler-nx12', ''],
  ])('fingerprint %s is family %s gpu %s', ([fp, family, gpu]) => {
    expect(fingerprintFamily(fp as string)).toEqual({ family, gpu });
  });
});

describe('POST /v1/samples rejects malformed windows with a reason', () => {
  const ok = WINDOWS[0] as SampleWindow;
  test.for([
    { name: 'no windows', body: { fingerprint: FP, windows: [] } },
    { name: 'bad fingerprint', body: { fingerprint: 'Not A/Fingerprint', windows: [ok] } },
    { name: 'negative watts', body: { fingerprint: FP, windows: [{ ...ok, watts: -5 }] } },
    { name: 'string counter', body: { fingerprint: FP, windows: [{ ...ok, counters: { cpu: 'x' } }] } },
    { name: 'end before start', body: { fingerprint: FP, windows: [{ ...ok, start: 10, end: 5 }] } },
    { name: 'no counters', body: { fingerprint: FP, windows: [{ ...ok, counters: {} }] } },
    { name: 'unknown field', body: { fingerprint: FP, windows: [{ ...ok, extra: 1 }] } },
    { name: 'negative rate', body: { fingerprint: FP, windows: [{ ...ok, counters: { cpu_cycles_per_s: -1 } }] } },
  ])('$name → 400', async ({ body }, { app }) => {
    const res = await post(app, '/v1/samples', body);
    expect(res.statusCode).toBe(400);
    const err = res.json() as { error: string; message: string };
    expect(err.error).toMatch(/^WS_ERR_MODEL_/);
    expect(err.message.length).toBeGreaterThan(5);
  });

  test('a body over the size limit → 413', async ({ app }) => {
    const many = Array.from({ length: 2000 }, () => ok);
    const res = await post(app, '/v1/samples', { fingerprint: FP, windows: many });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'WS_ERR_MODEL_SAMPLES' });
  });

  test('invalid JSON → 400', async ({ app }) => {
    const res = await app.inject({ method: 'POST', url: '/v1/samples', payload: '{"fingerprint":', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(400);
  });
});

describe('retraining publishes only improvements', () => {
  test('a better candidate is published, a worse one is not; versions can be pinned and rolled back', async ({ dir }) => {
    const store = new ModelStore(dir, LIMITS);
    const cfg = config().retrain;
    const now = new Date('2026-12-01T00:00:00Z');
    // v1: a linear model (Kepler's baseline) from the first 60 windows only.
    await store.appendSamples(FP, { cpuModel: 'Intel Xeon Gold 6230', sockets: 2, cores: 40 }, WINDOWS.slice(0, 60));
    const first = await retrainFingerprint(store, FP, { ...cfg, families: ['linear'], minSamples: 40 }, now);
    expect(first).toMatchObject({ published: true, version: 1, currentMapePercent: null });
    // More windows, every family: the candidate beats v1 on the newest held-out windows and becomes v2.
    await store.appendSamples(FP, undefined, WINDOWS.slice(60));
    const better = await retrainFingerprint(store, FP, cfg, now);
    expect(better.published).toBe(true);
    expect(better.version).toBe(2);
    expect(better.candidateMapePercent as number).toBeLessThan(better.currentMapePercent as number);
    // A linear-only retrain now does worse than v2 on the same held-out windows: rejected, v2 stays current.
    const worse = await retrainFingerprint(store, FP, { ...cfg, families: ['linear'] }, now);
    expect(worse.published).toBe(false);
    expect(worse.candidateMapePercent as number).toBeGreaterThanOrEqual(worse.currentMapePercent as number);
    expect(await store.entry(FP)).toMatchObject({ current: 2, versions: [{ version: 1 }, { version: 2 }] });
    expect(await store.pin(FP, 1)).toMatchObject({ pinned: 1 });
    expect(store.served(FP)?.version).toBe(1);
    await store.pin(FP, null);
    expect(await store.rollback(FP)).toMatchObject({ current: 1 });
    // Everything survives a restart of the store on the same directory.
    const reopened = new ModelStore(dir, LIMITS);
    expect(await reopened.entry(FP)).toMatchObject({ current: 1, samples: WINDOWS.length });
    expect((await reopened.onnx(FP, 2)).length).toBeGreaterThan(100);
    await store.close();
    await reopened.close();
  });

  test('the periodic pass retrains only fingerprints with enough new windows', async ({ app }) => {
    await post(app, '/v1/samples', { fingerprint: FP, windows: WINDOWS });
    const first = await app.modelServer.retrainDue();
    expect(first.map((r) => [r.fingerprint, r.published])).toEqual([[FP, true]]);
    // Nothing new since that attempt: not due (the seeded pretrained entries have no samples).
    expect(await app.modelServer.retrainDue()).toEqual([]);
  });

  test('too few windows is a result, not an error', async ({ app }) => {
    await post(app, '/v1/samples', { fingerprint: FP, windows: WINDOWS.slice(0, 10) });
    const r = (await post(app, `/v1/models/${FP}/retrain`, {})).json() as { published: boolean; reason: string };
    expect(r).toMatchObject({ published: false });
    expect(r.reason).toMatch(/need 40/);
  });

  test('pin over HTTP serves the pinned version; unknown version → 404', async ({ app }) => {
    await post(app, '/v1/samples', { fingerprint: FP, windows: WINDOWS });
    await post(app, `/v1/models/${FP}/retrain`, {});
    expect((await post(app, `/v1/models/${FP}/pin`, { version: 7 })).statusCode).toBe(404);
    expect((await post(app, `/v1/models/${FP}/pin`, { version: 1 })).json()).toMatchObject({ pinned: 1 });
    expect((await app.inject(`/v1/models/${FP}?version=9`)).statusCode).toBe(404);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/wattsched_model_server_samples_total\{source="push"\} 206/);
    expect(metrics).toMatch(/wattsched_model_server_retrains_total\{result="published"\} 1/);
  });
});

describe('Prometheus pull', () => {
  let prom: Server;
  let url = '';
  const queries: string[] = [];
  beforeAll(async () => {
    // A fake Prometheus HTTP API: each query's matrix is built from the nx12 fixture rows for one node.
    prom = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const q = u.searchParams.get('query') ?? '';
      queries.push(q);
      if (u.pathname !== '/api/v1/query_range') return void res.writeHead(404).end();
      if (q === 'broken') return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
      const column = q === 'node_power' ? 'acpi_platform_watts' : q.replace(/^rate_/, '');
      const metric = q === 'node_power' ? { instance: 'node-a', wattsched_fingerprint: FP } : { instance: 'node-a' };
      const values = nx12.rows.map((r) => [Number(r.timestamp_unix_s), r[column]]);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric, values }] } }));
    });
    await new Promise<void>((resolve) => prom.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(prom.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => prom.close(() => resolve())));

  test('windows are joined per node and timestamp, stored once, and train a model', async ({ dir }) => {
    const features = Object.fromEntries(COUNTERS.map((c) => [c, `rate_${c}`]));
    const app = await buildModelServer(config({ prometheus: { url, features, power: 'node_power', stepSeconds: 3 } }), { dataDir: dir, logger: false });
    try {
      const first = (await post(app, '/v1/prometheus/pull', { start: 0, end: 2e9 })).json() as { windows: number; fingerprints: string[] };
      expect(first).toEqual({ windows: WINDOWS.length, fingerprints: [FP], unmappedNodes: [] });
      expect(queries).toEqual(expect.arrayContaining(['node_power', `rate_${COUNTERS[0]}`]));
      expect((await post(app, '/v1/prometheus/pull', { start: 0, end: 2e9 })).json()).toMatchObject({ windows: 0 });
      const stored = await app.modelServer.store.samples(FP);
      expect(stored[0]).toEqual(WINDOWS[0]);
      expect((await post(app, `/v1/models/${FP}/retrain`, {})).json()).toMatchObject({ published: true, version: 1 });
    } finally {
      await app.close();
    }
  });

  test('a Prometheus error is a 502 with the reason', async ({ dir }) => {
    const app = await buildModelServer(config({ prometheus: { url, features: { x: 'broken' }, power: 'node_power' } }), { dataDir: dir, logger: false });
    try {
      const res = await post(app, '/v1/prometheus/pull', {});
      expect(res.statusCode).toBe(502);
      expect(res.json()).toMatchObject({ error: 'WS_ERR_MODEL_PROMETHEUS' });
      expect((res.json() as { message: string }).message).toMatch(/parse error/);
    } finally {
      await app.close();
    }
  });

  test('without prometheus.url the pull endpoint says so', async ({ app }) => {
    expect((await post(app, '/v1/prometheus/pull', {})).statusCode).toBe(409);
  });
});
