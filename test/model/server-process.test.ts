// The real `wattsched model-server` process (dist/, built by scripts/setup.sh): killed with SIGKILL in the middle of
// concurrent uploads, several times, and restarted on the same data directory. Every upload it acknowledged must be
// there afterwards, it must answer /healthz at once, and a torn record must be skipped and counted. Then a retrain
// of a large store must leave /healthz answering while it runs (the training is in a worker thread).
import { afterAll, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRecord, readSegment } from '../../src/model/server/sample-log.js';
import type { SampleWindow } from '../../src/shared/wire/model.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(root, 'dist/src/cli/main.js');
const TOKEN = 'process-test-token-0123456789';
const FP = 'intel-xeon-gold-6230-s2-c40';
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wattsched-proc-'));
  dirs.push(d);
  return d;
}

interface Running {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

async function start(dataDir: string, configFile: string): Promise<Running> {
  const child = spawn(process.execPath, [CLI, 'model-server', '--config', configFile, '--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /"address":"([^"]+)"/.exec(err);
      if (m) resolve(m[1] as string);
    });
    child.once('exit', (code, signal) => reject(new Error(`model-server exited (${code ?? signal}) before listening: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

function killHard(r: Running): Promise<void> {
  return new Promise((resolve) => {
    r.child.once('exit', () => resolve());
    r.child.kill('SIGKILL');
  });
}

const win = (i: number): SampleWindow => ({ start: 1_000_000 + i * 3, end: 1_000_003 + i * 3, counters: { cpu_seconds_per_s: (i % 17) * 0.5 + 0.1, cycles_per_s: 1e9 + (i % 101) * 1e7, instructions_per_s: 2e9 + (i % 37) * 3e7 }, watts: 120 + (i % 17) * 8 + (i % 101) * 0.3 });
const wins = (from: number, n: number): SampleWindow[] => Array.from({ length: n }, (_, k) => win(from + k));

async function post(url: string, body: unknown, key?: string): Promise<Response> {
  return fetch(`${url}/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...(key ? { 'idempotency-key': key } : {}) }, body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
}

describe('SIGKILL during uploads', () => {
  test('four kills mid-upload: served at once after each restart, every acknowledged upload kept, torn record counted', async () => {
    const dataDir = tempDir();
    const cfg = join(tempDir(), 'model-server.yaml');
    writeFileSync(cfg, `auth:\n  token: ${TOKEN}\nretrain:\n  intervalSeconds: 0\n`);
    const acked = new Map<string, number>(); // key → first window index
    const inflight = new Map<string, number>();
    let next = 0;
    const BATCH = 40;
    for (let round = 0; round < 4; round++) {
      const server = await start(dataDir, cfg);
      // Served at once: the first request after "listening" is answered.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      let killed = false;
      // Four clients upload as fast as the server acknowledges; the kill lands while requests are in flight.
      const client = async (c: number): Promise<void> => {
        for (let n = 0; !killed; n++) {
          const key = `r${round}-c${c}-${n}`;
          const from = next;
          next += BATCH;
          inflight.set(key, from);
          let status = 0;
          let body: unknown = null;
          try {
            const res = await post(server.url, { fingerprint: FP, windows: wins(from, BATCH) }, key);
            status = res.status;
            body = await res.json();
          } catch {
            return; // the connection died with the process: this upload stays "in flight"
          }
          expect(status).toBe(200);
          expect(body).toMatchObject({ accepted: BATCH, duplicate: false });
          acked.set(key, from);
          inflight.delete(key);
        }
      };
      const clients = [0, 1, 2, 3].map(client);
      // Kill once a few dozen uploads went through, at a point that differs per round.
      const before = acked.size;
      while (acked.size < before + 20 + round * 7) await new Promise((r) => setTimeout(r, 5));
      killed = true;
      await killHard(server);
      await Promise.all(clients);
    }
    expect(acked.size).toBeGreaterThanOrEqual(4 * 20);

    // A crash during an append (power loss, a full disk) leaves half a record at the end of a segment; SIGKILL of a
    // single write(2) to a regular file does not, so the tear is written by hand where the last process was writing.
    const segDir = join(dataDir, FP, 'samples');
    const newest = join(segDir, readdirSync(segDir).sort().at(-1) as string);
    appendFileSync(newest, encodeRecord({ key: 'torn', hash: null, windows: wins(next, BATCH) }).subarray(0, 200));

    const server = await start(dataDir, cfg);
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      // Every acknowledged upload is stored: its retry is recognised as a duplicate, and its windows are on disk.
      for (const [key, from] of acked) {
        const res = await post(server.url, { fingerprint: FP, windows: wins(from, BATCH) }, key);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { duplicate: boolean }).duplicate, key).toBe(true);
      }
      const stored = new Map<string, number>();
      for (const f of readdirSync(segDir).sort()) for (const r of (await readSegment(join(segDir, f))).records) stored.set(r.key as string, r.windows[0]?.start as number);
      for (const [key, from] of acked) expect(stored.get(key), key).toBe(win(from).start);
      // Nothing else: at most the uploads whose answer was lost with the process.
      for (const key of stored.keys()) expect(acked.has(key) || inflight.has(key), key).toBe(true);
      const list = (await (await fetch(`${server.url}/v1/models?after=${FP.slice(0, -1)}&limit=1`)).json()) as { models: { fingerprint: string; samples: number }[] };
      expect(list.models[0]).toMatchObject({ fingerprint: FP, samples: stored.size * BATCH });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/wattsched_model_server_skipped_records_total\{reason="torn"\} 1\n/);
      expect(server.stderr()).toMatch(/skipped unreadable stored data/);
    } finally {
      await killHard(server);
    }
  }, 120_000);
});

describe('retraining a large store', () => {
  test('/healthz keeps answering while a retrain of 24,000 windows runs', async () => {
    const dataDir = tempDir();
    const cfg = join(tempDir(), 'model-server.yaml');
    writeFileSync(cfg, `auth:\n  token: ${TOKEN}\nretrain:\n  intervalSeconds: 0\n  maxTrees: 300\nbodyLimitBytes: 4194304\n`);
    const server = await start(dataDir, cfg);
    try {
      for (let i = 0; i < 6; i++) expect((await post(server.url, { fingerprint: FP, windows: wins(i * 4000, 4000) })).status).toBe(200);
      let done = false;
      const retrain = fetch(`${server.url}/v1/models/${FP}/retrain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{}' }).then(async (r) => {
        done = true;
        return { status: r.status, body: (await r.json()) as { published: boolean; trainWindows: number } };
      });
      const latencies: number[] = [];
      while (!done) {
        const t0 = performance.now();
        const res = await fetch(`${server.url}/healthz`);
        await res.arrayBuffer();
        if (!done) latencies.push(performance.now() - t0);
        expect(res.status).toBe(200);
        await new Promise((r) => setTimeout(r, 20));
      }
      const r = await retrain;
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ published: true, trainWindows: 18_000 });
      // Answered all along, and promptly: 95 % of many probes within 100 ms. Training on the event loop would stall
      // every probe for the whole retrain; the worker leaves a median of a few ms. The 95th percentile, not the
      // maximum, because a shared 2-core box can stall any process for one scheduler slice; the maximum is measured
      // by bench/model/healthz-retrain.ts.
      expect(latencies.length).toBeGreaterThan(50);
      const sorted = [...latencies].sort((a, b) => a - b);
      const p95 = sorted[Math.floor(sorted.length * 0.95)] as number;
      console.log(`healthz during retrain: ${latencies.length} probes, median ${sorted[sorted.length >> 1]?.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`);
      expect(p95).toBeLessThan(100);
      expect(existsSync(join(dataDir, FP, 'v1.onnx'))).toBe(true);
    } finally {
      await killHard(server);
    }
  }, 300_000);
});
