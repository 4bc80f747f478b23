// End to end (issue 10): a running `wattsched agent` (the built CLI, fallback collector) whose only meter is a fake
// sysfs RAPL tree that this test advances pushes windows, with a bearer token from a file, to a running
// `wattsched model-server`; the server stores them and retrains a model for this node's fingerprint from them. A
// second agent with no meter at all (the watts are the model's estimate) pushes nothing and says so.
import { afterAll, describe, expect, test } from 'vitest';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHardware } from '../../src/agent/meter/hardware.js';
import { fingerprint } from '../../src/model/features.js';
import { readSegment } from '../../src/model/server/sample-log.js';
import type { ModelEntry, ModelResolution, SampleWindow } from '../../src/shared/wire/model.js';
import { FakeTree, raplZone } from './fake-sysfs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(root, 'dist/src/cli/main.js');
const TOKEN = 'e2e-push-token-0123456789abcdef';
const tmp = mkdtempSync(join(tmpdir(), 'wattsched-push-e2e-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** Starts a CLI subcommand and resolves with its listening address (pino's JSON log line) and its log so far. */
async function run(args: string[], addressPattern: RegExp): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NAME: '' } });
  children.push(child);
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const take = (d: Buffer): void => {
      log += d.toString();
      const m = addressPattern.exec(log);
      if (m) resolve(m[1] as string);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.once('exit', (code, signal) => reject(new Error(`${args[0]} exited (${code ?? signal}) before listening: ${log}`)));
  });
  return { child, url, log: () => log };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return exited;
}

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | null>): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Busy fraction of all CPUs since the previous call, from /proc/stat: the load the fake meter's watts follow. */
function cpuBusy(): () => number {
  let prev: number[] | null = null;
  return () => {
    const f = (/^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '').trim().split(/\s+/).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    const cur = [idle, total];
    const p = prev;
    prev = cur;
    if (p === null || total === p[1]) return 0;
    return 1 - (idle - (p[0] as number)) / (total - (p[1] as number));
  };
}

const WATTS_IDLE = 1000;
const WATTS_SPAN = 500;

describe.skipIf(!existsSync(CLI))('agent → model server (built CLI; skipped without dist/)', () => {
  test('windows from a fake RAPL meter are pushed with a token, stored, and retrained from; an estimate-only agent pushes none', async () => {
    // The meter: one package zone whose energy counter follows the node's real CPU load, far above any estimate
    // the curve model would give this machine, so a stored window's watts show where they came from. Replaced by
    // rename so the agent never reads a half-written number.
    const sysfs = new FakeTree('wattsched-push-e2e-rapl-');
    raplZone(sysfs, 'intel-rapl:0', 'package-0', 0);
    const energyFile = sysfs.path('intel-rapl:0/energy_uj');
    let uj = 0;
    const busy = cpuBusy();
    busy();
    let last = performance.now();
    const meter = setInterval(() => {
      const now = performance.now();
      uj += (WATTS_IDLE + WATTS_SPAN * busy()) * (now - last) * 1e3; // W × ms × 1e3 = µJ
      last = now;
      writeFileSync(`${energyFile}.tmp`, `${Math.round(uj)}\n`);
      renameSync(`${energyFile}.tmp`, energyFile);
    }, 50);

    try {
      const tokenFile = join(tmp, 'token');
      writeFileSync(tokenFile, `${TOKEN}\n`);
      const dataDir = join(tmp, 'models');
      const serverCfg = join(tmp, 'model-server.json');
      writeFileSync(serverCfg, JSON.stringify({ auth: { tokenFile }, retrain: { intervalSeconds: 0, minSamples: 40, minNewSamples: 1, maxTrees: 30 } }));
      const server = await run(['model-server', '--config', serverCfg, '--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1'], /"address":"([^"]+)"/);

      const agentCfg = (name: string, power: object, push: object): string => {
        const file = join(tmp, `${name}.json`);
        writeFileSync(
          file,
          JSON.stringify({
            node: name,
            port: 0,
            host: '127.0.0.1',
            intervalMs: 100,
            collector: 'fallback',
            kubernetes: { mode: 'off' },
            power: { checkpointPath: '', ...power },
            push: { url: server.url, tokenFile, windowMs: 300, intervalMs: 500, batchSize: 25, ...push },
          }),
        );
        return file;
      };
      const metered = await run(['agent', '--config', agentCfg('e2e-metered', { meters: ['rapl'], powercapRoot: sysfs.root }, {})], /listening at (http:\/\/127\.0\.0\.1:\d+)/);
      const estimated = await run(
        ['agent', '--config', agentCfg('e2e-estimated', { meters: [] }, { fingerprint: 'e2e-estimate-only' })],
        /listening at (http:\/\/127\.0\.0\.1:\d+)/,
      );

      const fp = fingerprint(readHardware({ procRoot: '/proc', dmiRoot: '/sys/class/dmi/id', defaultYear: 2020 }).hardware);
      const list = async (): Promise<ModelEntry[]> => ((await (await fetch(`${server.url}/v1/models`)).json()) as { models: ModelEntry[] }).models;
      // 40 windows of 0.3 s, sent every 0.5 s in batches of 25.
      const entry = await until('40 stored windows', 90_000, async () => (await list()).find((m) => m.fingerprint === fp && m.samples >= 40) ?? null);
      expect(entry.hardware.sockets).toBeGreaterThanOrEqual(1);

      // What is on the server's disk is the meter's watts (the fake's range), as time-ordered 0.3 s windows.
      const segDir = join(dataDir, fp, 'samples');
      const stored: SampleWindow[] = [];
      for (const f of readdirSync(segDir).filter((n) => n.endsWith('.log'))) {
        const seg = await readSegment(join(segDir, f));
        expect(seg.skipped).toEqual([]);
        for (const r of seg.records) stored.push(...r.windows);
      }
      expect(stored.length).toBeGreaterThanOrEqual(40);
      for (const w of stored) {
        expect(w.end - w.start).toBeGreaterThanOrEqual(0.3 - 1e-9);
        expect(Object.keys(w.counters)).toContain('cpu_seconds_per_s');
      }
      // Energy is conserved across windows: the fake writes 1,000–1,500 W, so the time-weighted mean lies there up to
      // the energy not yet written at either end (one 50 ms step, or a stall of the writer on this shared machine).
      // A single window can be off by such a step or stall, so most windows, not all, must lie near that range.
      const seconds = stored.reduce((a, w) => a + (w.end - w.start), 0);
      const mean = stored.reduce((a, w) => a + w.watts * (w.end - w.start), 0) / seconds;
      expect(mean).toBeGreaterThan(WATTS_IDLE * 0.9);
      expect(mean).toBeLessThan((WATTS_IDLE + WATTS_SPAN) * 1.1);
      const near = stored.filter((w) => w.watts > WATTS_IDLE * 0.7 && w.watts < (WATTS_IDLE + WATTS_SPAN) * 1.3).length;
      expect(near / stored.length).toBeGreaterThanOrEqual(0.9);

      // Retrain from those windows: the first model for this fingerprint is published as version 1.
      const retrain = await fetch(`${server.url}/v1/models/${fp}/retrain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(retrain.status).toBe(200);
      const outcome = (await retrain.json()) as { published: boolean; version: number | null; trainWindows: number; heldOutWindows: number; reason: string };
      expect(outcome, outcome.reason).toMatchObject({ published: true, version: 1 });
      expect(outcome.trainWindows + outcome.heldOutWindows).toBeGreaterThanOrEqual(40);
      const model = (await (await fetch(`${server.url}/v1/models/${fp}?include=meta`)).json()) as ModelResolution;
      expect(model).toMatchObject({ match: 'exact', fingerprint: fp, version: 1, task: 'counters' });
      expect(model.featureNames.every((f) => Object.keys(stored[0]?.counters ?? {}).includes(f))).toBe(true);

      // The agent reports what it did.
      const m = await (await fetch(`${metered.url}/metrics`)).text();
      expect(Number(/wattsched_agent_push_windows_total\{result="acknowledged"\} (\d+)/.exec(m)?.[1])).toBeGreaterThanOrEqual(40);
      expect(m).toContain('wattsched_agent_push_skipped_intervals_total{reason="estimated"} 0');

      // The estimate-only agent ran all along: nothing reached the server, and it says why.
      expect((await list()).some((x) => x.fingerprint === 'e2e-estimate-only')).toBe(false);
      const e = await (await fetch(`${estimated.url}/metrics`)).text();
      expect(Number(/wattsched_agent_push_skipped_intervals_total\{reason="estimated"\} (\d+)/.exec(e)?.[1])).toBeGreaterThan(10);
      expect(e).toContain('wattsched_agent_push_windows_total{result="made"} 0');
      expect(estimated.log()).toContain('node watts are the model estimate, not a meter');

      expect(await stop(metered.child)).toBe(0);
      expect(await stop(estimated.child)).toBe(0);
      await stop(server.child);
    } finally {
      clearInterval(meter);
      sysfs.cleanup();
    }
  }, 180_000);
});
