// /healthz latency of the real model-server process while it retrains a large store, against the same probes on
// the idle server in the same run (the lean baseline). Target: every probe within 100 ms during the retrain.
//   npm run build && node dist/bench/model/healthz-retrain.js [--windows 24000]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { SampleWindow } from '../../src/shared/wire/model.js';
import { projectRoot, resultsDir } from '../paths.js';

const { values } = parseArgs({ options: { windows: { type: 'string', default: '24000' } } });
const WINDOWS = Number(values.windows);
const TOKEN = 'bench-token-0123456789abcdef';
const FP = 'intel-xeon-gold-6230-s2-c40';
const win = (i: number): SampleWindow => ({ start: 1e6 + i * 3, end: 1e6 + 3 + i * 3, counters: { cpu_seconds_per_s: (i % 17) * 0.5 + 0.1, cycles_per_s: 1e9 + (i % 101) * 1e7, instructions_per_s: 2e9 + (i % 37) * 3e7 }, watts: 120 + (i % 17) * 8 + (i % 101) * 0.3 });

const dir = mkdtempSync(join(tmpdir(), 'wattsched-bench-'));
writeFileSync(join(dir, 'cfg.yaml'), `auth:\n  token: ${TOKEN}\nretrain:\n  intervalSeconds: 0\n  maxTrees: 300\nbodyLimitBytes: 4194304\n`);
const child = spawn(process.execPath, [join(projectRoot(), 'dist/src/cli/main.js'), 'model-server', '--config', join(dir, 'cfg.yaml'), '--data-dir', join(dir, 'data'), '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
const url = await new Promise<string>((resolve, reject) => {
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    const m = /"address":"([^"]+)"/.exec(err);
    if (m) resolve(m[1] as string);
  });
  child.once('exit', (code) => reject(new Error(`model-server exited ${code}: ${err}`)));
});

async function probe(): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/healthz`);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`/healthz ${res.status}`);
  return performance.now() - t0;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => Number((s[Math.min(s.length - 1, Math.floor(s.length * q))] as number).toFixed(2));
  return { probes: s.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: Number((s.at(-1) as number).toFixed(2)) };
};

try {
  for (let i = 0; i < WINDOWS; i += 4000) {
    const res = await fetch(`${url}/v1/samples`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ fingerprint: FP, windows: Array.from({ length: Math.min(4000, WINDOWS - i) }, (_, k) => win(i + k)) }) });
    if (res.status !== 200) throw new Error(`upload ${res.status}: ${await res.text()}`);
  }
  const idle: number[] = [];
  for (let i = 0; i < 300; i++) {
    idle.push(await probe());
    await new Promise((r) => setTimeout(r, 10));
  }
  // The server's own event-loop lag maximum is reset by every scrape: one scrape now, one when the retrain is done,
  // tells a stall of the server's event loop apart from the machine not scheduling the server or the prober.
  const lagMax = async (): Promise<number> => Number(/^wattsched_model_server_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]) * 1000;
  await lagMax();
  let done = false;
  const t0 = performance.now();
  const retrain = fetch(`${url}/v1/models/${FP}/retrain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{}' }).then(async (r) => {
    done = true;
    return r.json();
  });
  const busy: number[] = [];
  while (!done) {
    const ms = await probe();
    if (!done) busy.push(ms);
    await new Promise((r) => setTimeout(r, 10));
  }
  const result = await retrain;
  const retrainSeconds = (performance.now() - t0) / 1000;
  const serverEventLoopLagMaxMs = Number((await lagMax()).toFixed(1));
  const during = stats(busy);
  const report = {
    benchmark: 'model-healthz-during-retrain',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', loadavg1m: loadavg()[0] },
    parameters: { windows: WINDOWS, maxTrees: 300, probeEveryMs: 10 },
    targetMaxMs: 100,
    retrainSeconds: Number(retrainSeconds.toFixed(1)),
    retrain: result,
    idle: stats(idle),
    duringRetrain: { ...during, serverEventLoopLagMaxMs },
    p99RatioToIdle: Number((during.p99Ms / stats(idle).p99Ms).toFixed(2)),
    metTarget: during.maxMs <= 100,
  };
  mkdirSync(resultsDir(), { recursive: true });
  writeFileSync(join(resultsDir(), 'model-healthz-retrain.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
