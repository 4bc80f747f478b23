// What a platform team relies on when the model server runs unattended: authorisation on every mutating route (a
// bearer token or an mTLS client certificate), the bounds on what clients can make it store, idempotent uploads,
// a paged model list, a store with torn/corrupt records that still serves, and no unhandled rejection.
import { afterAll, beforeAll, describe, expect, test as base } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import Value from 'typebox/value';
import { buildModelServer } from '../../src/model/server/app.js';
import { encodeRecord } from '../../src/model/server/sample-log.js';
import { ModelServerConfigSchema, type ModelServerConfig } from '../../src/shared/config/model-server.js';
import type { SampleWindow } from '../../src/shared/wire/model.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'safety-token-0123456789';
const FP = 'intel-xeon-gold-6230-s2-c40';
const win = (i: number): SampleWindow => ({ start: 1000 + i, end: 1001 + i, counters: { cpu_seconds_per_s: (i % 13) + 1, cycles_per_s: 1e9 + i }, watts: 150 + (i % 50) });
const wins = (from: number, n: number): SampleWindow[] => Array.from({ length: n }, (_, k) => win(from + k));

function config(over: Record<string, unknown> = {}): ModelServerConfig {
  const c = Value.Default(ModelServerConfigSchema, { retrain: { intervalSeconds: 0, minSamples: 40, maxTrees: 30 }, auth: { token: TOKEN }, ...over });
  return Value.Parse(ModelServerConfigSchema, c) as ModelServerConfig;
}

const test = base.extend<{ dir: string }>({
  // eslint-disable-next-line no-empty-pattern
  dir: async ({}, use) => {
    const dir = mkdtempSync(join(tmpdir(), 'wattsched-safety-'));
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
});

async function withApp<T>(dir: string, over: Record<string, unknown>, fn: (app: FastifyInstance) => Promise<T>, pretrained = false): Promise<T> {
  const app = await buildModelServer(config(over), { dataDir: dir, logger: false, ...(pretrained ? { pretrainedDir: join(root, 'models') } : {}) });
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

const auth = { authorization: `Bearer ${TOKEN}` };
const upload = (app: FastifyInstance, body: unknown, headers: Record<string, string> = auth) => app.inject({ method: 'POST', url: '/v1/samples', payload: body as object, headers });

function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name.endsWith('.log')) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

describe('authorisation', () => {
  const MUTATING: [string, unknown][] = [
    ['/v1/samples', { fingerprint: FP, windows: [win(0)] }],
    [`/v1/models/${FP}/pin`, { version: null }],
    [`/v1/models/${FP}/rollback`, {}],
    [`/v1/models/${FP}/retrain`, {}],
    ['/v1/prometheus/pull', {}],
  ];

  test.for(MUTATING)('POST %s: 401 without a token or with a wrong one, served with the right one', async ([url, body], { dir }) => {
    await withApp(dir, {}, async (app) => {
      const none = await app.inject({ method: 'POST', url, payload: body as object });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(none.json()).toMatchObject({ error: 'WS_ERR_MODEL_AUTH' });
      for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, TOKEN]) {
        expect((await app.inject({ method: 'POST', url, payload: body as object, headers: { authorization } })).statusCode).toBe(401);
      }
      const ok = await app.inject({ method: 'POST', url, payload: body as object, headers: auth });
      expect(ok.statusCode).not.toBe(401);
      // Nothing was stored by the refused calls: the one authorised upload is all there is.
      if (url === '/v1/samples') expect((await app.inject(`/v1/models?limit=10`)).json()).toMatchObject({ models: [{ fingerprint: FP, samples: 1 }] });
    });
  });

  test('reads need no credentials', async ({ dir }) => {
    await withApp(dir, {}, async (app) => {
      for (const url of ['/healthz', '/metrics', '/v1/models', '/v1/models/description-curve?include=meta']) expect((await app.inject(url)).statusCode).toBe(200);
    }, true);
  });

  test('a server without any credential configured refuses to start; tokenFile is read once', async ({ dir }) => {
    await expect(buildModelServer(config({ auth: {} }), { dataDir: dir, logger: false })).rejects.toMatchObject({ code: 'WS_ERR_CONFIG_INVALID' });
    const file = join(dir, 'token');
    writeFileSync(file, 'from-a-file-0123456789\n');
    await withApp(dir, { auth: { tokenFile: file } }, async (app) => {
      expect((await upload(app, { fingerprint: FP, windows: [win(0)] }, { authorization: 'Bearer from-a-file-0123456789' })).statusCode).toBe(200);
      expect((await upload(app, { fingerprint: FP, windows: [win(1)] })).statusCode).toBe(401);
    });
    writeFileSync(file, 'short\n');
    await expect(buildModelServer(config({ auth: { tokenFile: file } }), { dataDir: dir, logger: false })).rejects.toMatchObject({ code: 'WS_ERR_CONFIG_INVALID' });
    await expect(buildModelServer(config({ auth: { tokenFile: join(dir, 'missing') } }), { dataDir: dir, logger: false })).rejects.toMatchObject({ code: 'WS_ERR_CONFIG_FILE' });
  });
});

describe('mTLS client certificates', () => {
  const pki = mkdtempSync(join(tmpdir(), 'wattsched-pki-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
  let app: FastifyInstance;
  let port = 0;
  const data = mkdtempSync(join(tmpdir(), 'wattsched-mtls-'));

  beforeAll(async () => {
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    for (const ca of ['ca', 'rogue-ca']) ssl('req', '-x509', ...key, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`);
    for (const [who, ca] of [['server', 'ca'], ['agent', 'ca'], ['rogue', 'rogue-ca']] as const) {
      ssl('req', ...key, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
      writeFileSync(join(pki, `${who}.ext`), who === 'server' ? 'subjectAltName=IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${who}.crt`, '-days', '1', '-extfile', `${who}.ext`);
    }
    // Client certificates only: no token configured.
    app = await buildModelServer(config({ auth: {}, tls: { certFile: join(pki, 'server.crt'), keyFile: join(pki, 'server.key'), clientCAFile: join(pki, 'ca.crt') } }), { dataDir: data, logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
    rmSync(pki, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  const call = (method: string, path: string, who: 'agent' | 'rogue' | null, body?: unknown) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method, path, ca: readFileSync(join(pki, 'ca.crt')), ...(who ? { cert: readFileSync(join(pki, `${who}.crt`)), key: readFileSync(join(pki, `${who}.key`)) } : {}), headers: body ? { 'content-type': 'application/json' } : {} },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body ? JSON.stringify(body) : undefined);
    });

  test('a certificate from the configured CA may upload; none or another CA gets 401; reads need none', async () => {
    const body = { fingerprint: FP, windows: [win(0)] };
    expect(await call('POST', '/v1/samples', 'agent', body)).toBe(200);
    expect(await call('POST', '/v1/samples', null, body)).toBe(401);
    expect(await call('POST', '/v1/samples', 'rogue', body)).toBe(401);
    expect(await call('GET', '/healthz', null)).toBe(200);
  });

  test('over HTTPS the server still applies the shared request and header timeouts (5 s by default)', () => {
    const s = app.server as unknown as { requestTimeout: number; headersTimeout: number };
    expect('setSecureContext' in app.server).toBe(true);
    expect({ requestTimeout: s.requestTimeout, headersTimeout: s.headersTimeout }).toEqual({ requestTimeout: 5000, headersTimeout: 5000 });
  });
});

describe('bounds', () => {
  test('a 256-character fingerprint is a 400 with a reason on every route, never a 500 or a path', async ({ dir }) => {
    const long = 'a'.repeat(256);
    await withApp(dir, {}, async (app) => {
      const answers = [
        await upload(app, { fingerprint: long, windows: [win(0)] }),
        await app.inject(`/v1/models/${long}`),
        await app.inject({ method: 'POST', url: `/v1/models/${long}/pin`, payload: { version: 1 }, headers: auth }),
        await app.inject({ method: 'POST', url: `/v1/models/${long}/retrain`, payload: {}, headers: auth }),
      ];
      for (const res of answers) {
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: 'WS_ERR_MODEL_INPUT' });
        expect(res.body).toMatch(/128/);
        expect(res.body).not.toContain(dir);
      }
      expect((await upload(app, { fingerprint: 'a'.repeat(128), windows: [win(0)] })).statusCode).toBe(200);
      expect((await upload(app, { fingerprint: 'a'.repeat(129), windows: [win(0)] })).statusCode).toBe(400);
    });
  });

  test('fingerprints beyond maxFingerprints are refused with 409; known ones keep accepting', async ({ dir }) => {
    await withApp(dir, { maxFingerprints: 3 }, async (app) => {
      for (const i of [1, 2, 3]) expect((await upload(app, { fingerprint: `invented-${i}`, windows: [win(i)] })).statusCode).toBe(200);
      const fourth = await upload(app, { fingerprint: 'invented-4', windows: [win(4)] });
      expect(fourth.statusCode).toBe(409);
      expect(fourth.json()).toMatchObject({ error: 'WS_ERR_MODEL_LIMIT' });
      expect((fourth.json() as { message: string }).message).toMatch(/maxFingerprints/);
      expect((await upload(app, { fingerprint: 'invented-2', windows: [win(5)] })).statusCode).toBe(200);
    });
    expect(readdirSync(dir).sort()).toEqual(['invented-1', 'invented-2', 'invented-3']);
  });

  test('bytes per fingerprint: the oldest windows go, the newest stay, disk use stays under the cap', async ({ dir }) => {
    const cap = 64 * 1024;
    await withApp(dir, { maxSampleBytesPerFingerprint: cap }, async (app) => {
      // 60 uploads of 20 windows (~3 KiB each): about three times the cap.
      for (let i = 0; i < 60; i++) expect((await upload(app, { fingerprint: FP, windows: wins(i * 20, 20) })).statusCode).toBe(200);
      const kept = await app.modelServer.store.samples(FP);
      expect(kept.at(-1)).toEqual(win(60 * 20 - 1));
      expect(kept[0]?.start).toBeGreaterThan(win(0).start);
      // Whole uploads are kept or dropped, oldest first, contiguously.
      expect(kept).toEqual(wins(1200 - kept.length, kept.length));
      // The cap drops whole segments of cap/8: between 7/8 of the cap and the cap stays on disk.
      expect(duBytes(dir)).toBeLessThanOrEqual(cap);
      expect(duBytes(dir)).toBeGreaterThan((cap * 7) / 8 - 4096);
    });
  });

  test('the store as a whole: uploads are refused with 409 once maxSampleBytes is reached', async ({ dir }) => {
    const cap = 64 * 1024;
    await withApp(dir, { maxSampleBytes: cap }, async (app) => {
      let refused = null as null | { statusCode: number; json(): unknown };
      for (let i = 0; i < 60 && !refused; i++) {
        const res = await upload(app, { fingerprint: `fp-${i % 7}`, windows: wins(i * 20, 20) });
        if (res.statusCode !== 200) refused = res;
      }
      expect(refused?.statusCode).toBe(409);
      expect(refused?.json()).toMatchObject({ error: 'WS_ERR_MODEL_LIMIT' });
      expect(duBytes(dir)).toBeLessThanOrEqual(cap);
      expect(duBytes(dir)).toBeGreaterThan(cap - 4096);
    });
  });
});

describe('idempotent uploads', () => {
  test('a retried upload is stored once; the same key with other windows is a 422', async ({ dir }) => {
    await withApp(dir, {}, async (app) => {
      const body = { fingerprint: FP, windows: wins(0, 5) };
      const h = { ...auth, 'idempotency-key': 'agent-a/42' };
      expect((await upload(app, body, h)).json()).toEqual({ fingerprint: FP, accepted: 5, total: 5, duplicate: false });
      expect((await upload(app, body, h)).json()).toEqual({ fingerprint: FP, accepted: 5, total: 5, duplicate: true });
      const other = await upload(app, { fingerprint: FP, windows: wins(5, 5) }, h);
      expect(other.statusCode).toBe(422);
      expect(other.json()).toMatchObject({ error: 'WS_ERR_MODEL_IDEMPOTENCY' });
      expect((await upload(app, { fingerprint: FP, windows: wins(5, 5) }, { ...auth, 'idempotency-key': 'agent-a/43' })).json()).toMatchObject({ total: 10, duplicate: false });
      expect((await upload(app, body, { ...auth, 'idempotency-key': 'bad key with spaces' })).statusCode).toBe(400);
      expect(await app.modelServer.store.samples(FP)).toEqual(wins(0, 10));
      expect((await app.inject('/metrics')).body).toMatch(/wattsched_model_server_samples_total\{source="push"\} 10\n/);
    });
    // Keys live with the records: still known after a restart.
    await withApp(dir, {}, async (app) => {
      expect((await upload(app, { fingerprint: FP, windows: wins(0, 5) }, { ...auth, 'idempotency-key': 'agent-a/42' })).json()).toMatchObject({ duplicate: true, total: 10 });
    });
  });
});

describe('paging GET /v1/models', () => {
  test('pages of `limit` in fingerprint order, `next` as the cursor, null at the end', async ({ dir }) => {
    await withApp(dir, {}, async (app) => {
      const fps = ['fp-c', 'fp-a', 'fp-e', 'fp-b', 'fp-d'];
      for (const fp of fps) await upload(app, { fingerprint: fp, windows: [win(0)] });
      const seen: string[][] = [];
      let after: string | null = '';
      while (after !== null) {
        const res = await app.inject(`/v1/models?limit=2${after ? `&after=${after}` : ''}`);
        expect(res.statusCode).toBe(200);
        const page = res.json() as { models: { fingerprint: string }[]; next: string | null };
        seen.push(page.models.map((m) => m.fingerprint));
        after = page.next;
      }
      expect(seen).toEqual([['fp-a', 'fp-b'], ['fp-c', 'fp-d'], ['fp-e']]);
      expect((await app.inject('/v1/models')).json()).toMatchObject({ next: null });
      for (const q of ['limit=0', 'limit=501', 'limit=x', 'after=Bad%20Cursor', 'page=2']) expect((await app.inject(`/v1/models?${q}`)).statusCode).toBe(400);
    });
  });
});

describe('a damaged store still serves', () => {
  test('torn and corrupt records: /healthz, the list and uploads answer; the damage is counted', async ({ dir }) => {
    await withApp(dir, {}, async (app) => {
      await upload(app, { fingerprint: FP, windows: wins(0, 3) });
      await upload(app, { fingerprint: FP, windows: wins(3, 3) });
    });
    const seg = join(dir, FP, 'samples', '00000001.log');
    const [first, second] = readFileSync(seg, 'utf8').split('\n');
    writeFileSync(seg, `${first}\n${(second as string).replace('"watts":', '"watts":1')}\n`);
    appendFileSync(seg, encodeRecord({ key: null, hash: null, windows: wins(6, 3) }).subarray(0, 50));
    // A fingerprint whose sample folder cannot be read at all must not hold up the others.
    mkdirSync(join(dir, 'broken-fp'));
    writeFileSync(join(dir, 'broken-fp', 'entry.json'), JSON.stringify({ fingerprint: 'broken-fp', hardware: { cpuModel: '', sockets: 0, cores: 0, gpuModel: '' }, current: null, pinned: null, versions: [] }));
    writeFileSync(join(dir, 'broken-fp', 'samples'), 'a file where a folder should be');
    mkdirSync(join(dir, 'garbled-fp'));
    writeFileSync(join(dir, 'garbled-fp', 'entry.json'), '{"fingerprint": "garb');
    await withApp(dir, {}, async (app) => {
      expect((await app.inject('/healthz')).statusCode).toBe(200);
      expect((await upload(app, { fingerprint: FP, windows: wins(9, 1) })).json()).toMatchObject({ total: 4 });
      expect(await app.modelServer.store.samples(FP)).toEqual([...wins(0, 3), win(9)]);
      const list = await app.inject(`/v1/models?limit=1&after=${'a'}`);
      expect(list.statusCode).toBe(500);
      expect(list.body).not.toContain(dir);
      expect((await app.inject(`/v1/models?after=broken-fp`)).json()).toMatchObject({ models: [{ fingerprint: FP, samples: 4 }] });
      // The periodic pass meets the broken fingerprint and resolves anyway (no unhandled rejection).
      await expect(app.modelServer.retrainDue()).resolves.toEqual([]);
      const metrics = (await app.inject('/metrics')).body;
      expect(metrics).toMatch(/wattsched_model_server_skipped_records_total\{reason="torn"\} 1\n/);
      expect(metrics).toMatch(/wattsched_model_server_skipped_records_total\{reason="corrupt"\} 1\n/);
      expect(metrics).toMatch(/wattsched_model_server_skipped_records_total\{reason="entry"\} 1\n/);
      expect(metrics).toMatch(/wattsched_model_server_skipped_records_total\{reason="unreadable"\} 1\n/);
    });
  });
});
