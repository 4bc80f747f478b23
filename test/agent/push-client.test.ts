// The push against the real model server (src/model/server, listening on 127.0.0.1): batches are acknowledged and
// stored; an acknowledgement lost on the way back is retried with the same key and stored once; a wrong token and
// a server that does not answer are retried, never dropped; a down server costs a bounded queue that keeps the
// newest windows; mTLS with a client certificate instead of a token.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { promtoolLint } from '../promtool.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import Value from 'typebox/value';
import { buildModelServer } from '../../src/model/server/app.js';
import { readSegment } from '../../src/model/server/sample-log.js';
import { ModelServerConfigSchema, type ModelServerConfig } from '../../src/shared/config/model-server.js';
import type { ModelEntry } from '../../src/shared/wire/model.js';
import { ModelServerClient } from '../../src/agent/push/client.js';
import { Pusher, type PusherOptions } from '../../src/agent/push/pusher.js';
import { openPush } from '../../src/agent/push/open.js';
import { AgentConfigSchema, type AgentConfig } from '../../src/shared/config/agent.js';
import { FakeTree } from './fake-sysfs.js';
import type { NodeReport } from '../../src/shared/wire/agent.js';

const TOKEN = 'push-test-token-0123456789';
const FP = 'test-cpu-s1-c4';
const tmp = mkdtempSync(join(tmpdir(), 'wattsched-push-'));
const tokenFile = join(tmp, 'token');
writeFileSync(tokenFile, `${TOKEN}\n`);
const wrongTokenFile = join(tmp, 'wrong');
writeFileSync(wrongTokenFile, 'not-the-token-0123456789\n');

function serverConfig(over: Record<string, unknown> = {}): ModelServerConfig {
  return Value.Parse(ModelServerConfigSchema, Value.Default(ModelServerConfigSchema, { retrain: { intervalSeconds: 0 }, auth: { token: TOKEN }, ...over })) as ModelServerConfig;
}

async function startServer(dataDir: string, over: Record<string, unknown> = {}): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildModelServer(serverConfig(over), { dataDir, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, url: `${(over.tls ? 'https' : 'http')}://127.0.0.1:${port}` };
}

async function samplesOf(app: FastifyInstance, fp = FP): Promise<number | null> {
  const r = await app.inject({ method: 'GET', url: '/v1/models' });
  const e = (r.json() as { models: ModelEntry[] }).models.find((m) => m.fingerprint === fp);
  return e?.samples ?? null;
}

/** A one-second metered interval ending at `atS`: one window per report with windowSeconds 1. */
function report(atS: number, watts: number): NodeReport {
  return {
    node: 'node-a',
    at: new Date(atS * 1000).toISOString(),
    intervalSeconds: 1,
    layout: 'v2',
    collector: { name: 'fallback', variant: 'test', reason: null, attempts: [] },
    counters: {},
    droppedCgroups: 0,
    kubernetes: { mode: 'standalone', detail: '' },
    cgroups: [],
    pods: [],
    power: { source: 'rapl', watts, idleWatts: 0, zones: [], model: null, meters: [], cpuUtilisation: 0.5, busyCpuSeconds: 2, idlePolicy: 'none', residualRatio: 0, system: [] },
  };
}

function pusher(client: PusherOptions['client'], over: Partial<PusherOptions> = {}): Pusher {
  return new Pusher({
    client,
    fingerprint: FP,
    hardware: { cpuModel: 'Test CPU', sockets: 1, cores: 4 },
    node: 'node-a',
    windowSeconds: 1,
    gpuModelKnown: false,
    intervalMs: 60_000,
    batchSize: 4,
    maxQueuedWindows: 100,
    initialBackoffMs: 10,
    maxBackoffMs: 100,
    runId: 'run-1',
    ...over,
  });
}

/** Forwards TCP to `target`; while `dropAnswers` is set it passes the request on and then cuts the client off as the
 * answer arrives, which is how an acknowledgement gets lost between a server that stored and a client that waits. */
class CuttingProxy {
  dropAnswers = false;
  answersDropped = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: number) {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      client.pipe(upstream);
      upstream.on('data', (chunk) => {
        if (this.dropAnswers) {
          this.answersDropped += 1;
          client.destroy();
          upstream.destroy();
        } else client.write(chunk);
      });
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
  }
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return `http://127.0.0.1:${this.port}`;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('against the model server', () => {
  let data: string;
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    data = mkdtempSync(join(tmp, 'data-'));
    ({ app, url } = await startServer(data));
    return async () => {
      await app.close();
    };
  });

  test('windows go up in batches with a key each and are stored', async () => {
    const client = new ModelServerClient({ url, tokenFile, timeoutMs: 5000 });
    const p = pusher(client);
    for (let i = 1; i <= 10; i++) p.offer(report(1_700_000_000 + i, 100 + i));
    expect(p.queued).toBe(10);
    expect(await p.flush()).toBe(true);
    // 10 windows in batches of 4: 4 + 4 + 2.
    expect(p.stats).toMatchObject({ windowsMade: 10, acknowledged: 10, requestsOk: 3, duplicates: 0, droppedOverflow: 0 });
    expect(p.queued).toBe(0);
    expect(await samplesOf(app)).toBe(10);
    client.close();
    // The same numbers on /metrics, and the exposition passes promtool's lint.
    const reg = new Registry();
    p.offer({ ...report(1_700_000_100, 100), power: { ...(report(0, 0).power as NonNullable<NodeReport['power']>), source: 'model' } });
    p.register(reg);
    const text = await reg.metrics();
    expect(text).toContain('wattsched_agent_push_windows_total{result="made"} 10');
    expect(text).toContain('wattsched_agent_push_windows_total{result="acknowledged"} 10');
    expect(text).toContain('wattsched_agent_push_requests_total{result="ok"} 3');
    expect(text).toContain('wattsched_agent_push_skipped_intervals_total{reason="estimated"} 1');
    expect(text).toContain('wattsched_agent_push_queued_windows 0');
    expect(promtoolLint(text)).toBe('');
  });

  test('an acknowledgement lost on the way back: the retry carries the same key and the windows are stored once', async () => {
    const proxy = new CuttingProxy((app.server.address() as { port: number }).port);
    const client = new ModelServerClient({ url: await proxy.listen(), tokenFile, timeoutMs: 5000 });
    const p = pusher(client, { runId: 'run-lost-ack', batchSize: 100 });
    const before = (await samplesOf(app)) ?? 0;
    for (let i = 1; i <= 5; i++) p.offer(report(1_700_001_000 + i, 200 + i));
    proxy.dropAnswers = true;
    expect(await p.flush()).toBe(false);
    expect(proxy.answersDropped).toBeGreaterThan(0);
    expect(p.stats).toMatchObject({ requestsRetry: 1, acknowledged: 0 });
    expect(p.queued).toBe(5);
    // The server did store it, though the client never heard.
    expect(await samplesOf(app)).toBe(before + 5);
    proxy.dropAnswers = false;
    expect(await p.flush()).toBe(true);
    expect(p.stats).toMatchObject({ requestsOk: 1, duplicates: 1, acknowledged: 5 });
    expect(await samplesOf(app)).toBe(before + 5);
    client.close();
    await proxy.close();
  });

  test('a wrong token is retried with backoff, never dropped', async () => {
    const client = new ModelServerClient({ url, tokenFile: wrongTokenFile, timeoutMs: 5000 });
    const p = pusher(client, { runId: 'run-wrong-token' });
    p.offer(report(1_700_002_001, 150));
    expect(await p.flush()).toBe(false);
    expect(await p.flush()).toBe(false);
    expect(p.stats).toMatchObject({ requestsRetry: 2, droppedRefused: 0, acknowledged: 0 });
    expect(p.queued).toBe(1);
    client.close();
  });
});

describe('when the server is away', () => {
  test('a server that accepts and never answers is a timeout, retried', async () => {
    const held: Socket[] = [];
    const silent = createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const client = new ModelServerClient({ url: `http://127.0.0.1:${(silent.address() as { port: number }).port}`, tokenFile, timeoutMs: 300 });
    const p = pusher(client);
    p.offer(report(1_700_003_001, 100));
    expect(await p.flush()).toBe(false);
    expect(p.queued).toBe(1);
    client.close();
    for (const s of held) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  test('the queue is bounded: the oldest windows are dropped and counted, the newest reach the server once it is back', async () => {
    // A port that was just closed: connection refused.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const down = new ModelServerClient({ url: `http://127.0.0.1:${port}`, tokenFile, timeoutMs: 2000 });
    // The server comes back at another address; the pusher keeps its queue and its pending batch across the switch.
    let current = down;
    const p = pusher({ post: (batch, key) => current.post(batch, key) }, { maxQueuedWindows: 20, batchSize: 8, runId: 'run-bounded' });
    for (let i = 1; i <= 50; i++) {
      p.offer(report(1_700_004_000 + i, 100 + i));
      if (i === 10) expect(await p.flush()).toBe(false); // cuts a batch of 8 that waits for the server
    }
    // 8 in the pending batch (windows 1–8), the queue holds the newest 20 (31–50): 9–30 were dropped.
    expect(p.queued).toBe(28);
    expect(p.stats.droppedOverflow).toBe(22);
    down.close();
    const backDir = mkdtempSync(join(tmp, 'data-back-'));
    const { app: back, url: backUrl } = await startServer(backDir);
    try {
      current = new ModelServerClient({ url: backUrl, tokenFile, timeoutMs: 5000 });
      expect(await p.flush()).toBe(true);
      expect(p.stats.acknowledged).toBe(28);
      expect(await samplesOf(back)).toBe(28);
      // Which ones: the batch cut before the outage (1–8) and the newest 20 (31–50), read from the server's log.
      const ends: number[] = [];
      const segs = join(backDir, FP, 'samples');
      for (const f of readdirSync(segs)) for (const r of (await readSegment(join(segs, f))).records) ends.push(...r.windows.map((w) => w.end - 1_700_004_000));
      expect(ends.sort((a, b) => a - b)).toEqual([...Array.from({ length: 8 }, (_, i) => i + 1), ...Array.from({ length: 20 }, (_, i) => i + 31)]);
      current.close();
    } finally {
      await back.close();
    }
  });
});

describe('mTLS', () => {
  test('a client certificate from the configured CA uploads without a token', async () => {
    const pki = mkdtempSync(join(tmp, 'pki-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=ca');
    for (const who of ['server', 'agent']) {
      ssl('req', ...key, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
      writeFileSync(join(pki, `${who}.ext`), who === 'server' ? 'subjectAltName=IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '1', '-extfile', `${who}.ext`);
    }
    const data = mkdtempSync(join(tmp, 'data-tls-'));
    const { app, url } = await startServer(data, { auth: {}, tls: { certFile: join(pki, 'server.crt'), keyFile: join(pki, 'server.key'), clientCAFile: join(pki, 'ca.crt') } });
    try {
      const withCert = new ModelServerClient({ url, caFile: join(pki, 'ca.crt'), certFile: join(pki, 'agent.crt'), keyFile: join(pki, 'agent.key'), timeoutMs: 5000 });
      const p = pusher(withCert, { runId: 'run-tls' });
      for (let i = 1; i <= 3; i++) p.offer(report(1_700_005_000 + i, 100));
      expect(await p.flush()).toBe(true);
      expect(await samplesOf(app)).toBe(3);
      withCert.close();
      // Without the certificate (a token the server does not know) the same upload is refused entry: retried.
      const without = new ModelServerClient({ url, caFile: join(pki, 'ca.crt'), tokenFile, timeoutMs: 5000 });
      const q = pusher(without, { runId: 'run-tls-none' });
      q.offer(report(1_700_005_100, 100));
      expect(await q.flush()).toBe(false);
      expect(await samplesOf(app)).toBe(3);
      without.close();
    } finally {
      await app.close();
    }
  });
});

test('a client without any credential does not start', () => {
  expect(() => new ModelServerClient({ url: 'http://127.0.0.1:1', timeoutMs: 1000 })).toThrow(/tokenFile/);
  expect(() => new ModelServerClient({ url: 'http://127.0.0.1:1', tokenFile: join(tmp, 'missing'), timeoutMs: 1000 })).toThrow(/missing/);
});


describe('openPush (config → client, fingerprint, pusher)', () => {
  const cpuinfo = (model: string, sockets: number, coresPerSocket: number): string =>
    Array.from({ length: sockets }, (_, s) => `processor\t: ${s}\nvendor_id\t: GenuineIntel\nmodel name\t: ${model}\nphysical id\t: ${s}\ncpu cores\t: ${coresPerSocket}\n`).join('\n');
  const configWith = (procRoot: string, push: Record<string, unknown>): AgentConfig =>
    Value.Parse(AgentConfigSchema, Value.Default(AgentConfigSchema, { power: { procRoot, dmiRoot: join(procRoot, 'no-dmi') }, push })) as AgentConfig;

  test('off without a url; the fingerprint is the server\'s fingerprint() of /proc/cpuinfo, GPU model included', () => {
    const proc = new FakeTree('wattsched-push-proc-');
    try {
      proc.write('cpuinfo', cpuinfo('Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', 2, 20));
      expect(openPush(configWith(proc.root, {}), 'n1')).toBeNull();
      const opened = openPush(configWith(proc.root, { url: 'http://127.0.0.1:1', tokenFile }), 'n1');
      // (R) removed, runs of other characters to '-': 2 sockets of 20 cores.
      expect(opened?.fingerprint).toBe('intel-xeon-gold-6230-cpu-2-10ghz-s2-c40');
      opened?.client.close();
      const gpu = openPush(configWith(proc.root, { url: 'http://127.0.0.1:1', tokenFile, gpuModel: 'NVIDIA H100 80GB HBM3' }), 'n1');
      expect(gpu?.fingerprint).toBe('intel-xeon-gold-6230-cpu-2-10ghz-s2-c40-gpu-nvidia-h100-80gb-hbm3');
      gpu?.client.close();
    } finally {
      proc.cleanup();
    }
  });

  test('a fingerprint the server would refuse (over 128 characters) stops the start and names push.fingerprint', () => {
    const proc = new FakeTree('wattsched-push-proc-');
    try {
      proc.write('cpuinfo', cpuinfo(`Vendor ${'VeryLongModelName '.repeat(8)}`, 1, 4));
      expect(() => openPush(configWith(proc.root, { url: 'http://127.0.0.1:1', tokenFile }), 'n1')).toThrow(/set push\.fingerprint/);
      const own = openPush(configWith(proc.root, { url: 'http://127.0.0.1:1', tokenFile, fingerprint: 'my-fleet-a' }), 'n1');
      expect(own?.fingerprint).toBe('my-fleet-a');
      own?.client.close();
    } finally {
      proc.cleanup();
    }
  });
});
