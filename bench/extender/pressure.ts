// Health latency and memory under pressure: 50 clients send full-object prioritize requests (500 realistic Nodes,
// ~2.9 MB each) as fast as they are answered, for a fixed time, while a prober in a process of its own (probe.ts)
// GETs /healthz and /readyz in turn every 50 ms, on a connection of its own per port: the extender's health port
// (its health thread, what kubelet probes) and its main port (answered by the main event loop), the floor's one port,
// and an idle control server in a process of its own (what the machine alone does to a probe at that moment). Run against the extender and against the floor (bare Fastify,
// Node defaults, no load shedding), each in its own process, so the ratio is measured in the same run. RSS is read
// from /proc before, during and after. Results: bench/results/extender-pressure.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { extenderArgs, realisticPod } from './fixtures.js';
import { benchNodes } from './workload.js';
import { resultsDir } from '../paths.js';

const CLIENTS = 50;
const SECONDS = Number(process.env.PRESSURE_SECONDS ?? 15);
const body = Buffer.from(JSON.stringify(extenderArgs('full', benchNodes(500), realisticPod())));

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

function call(agent: Agent, port: number, method: string, path: string, payload?: Buffer): Promise<{ status: number; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end(payload);
  });
}

interface ProbeResult {
  ok: number[];
  failed: number[];
  slow: { at: number; path: string; ms: number }[];
}

function probeStats({ ok, failed, slow }: ProbeResult) {
  const sorted = [...ok].sort((a, b) => a - b);
  return { probes: ok.length + failed.length, failed: failed.length, p50ms: pct(sorted, 50), p99ms: pct(sorted, 99), maxms: sorted.at(-1) ?? NaN, over100ms: slow.length, slow };
}

async function startServer(which: 'extender' | 'floor' | 'idle'): Promise<{ child: ChildProcess; port: number; healthPort: number | null }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'pressure-server.js'), which], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, ...(JSON.parse(line.toString()) as { port: number; healthPort: number | null }) };
}

async function measure(which: 'extender' | 'floor') {
  const { child, port, healthPort } = await startServer(which);
  // Probed alongside, taking no load: what the machine alone does to a probe's latency at that moment.
  const idle = await startServer('idle');
  const pid = child.pid as number;
  await sleep(500);
  const rssBefore = rssMiB(pid);

  const loadAgent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const deadline = performance.now() + SECONDS * 1000;
  const statuses = new Map<number, number>();
  const targets = [...(healthPort === null ? [] : [`healthPort=${healthPort}`]), `mainPort=${port}`, `idleServer=${idle.port}`];
  const prober = spawn(process.execPath, [join(import.meta.dirname, 'probe.js'), String(SECONDS), '50', String(pid), ...targets], { stdio: ['ignore', 'pipe', 'inherit'] });
  let probeOut = '';
  prober.stdout!.on('data', (d: Buffer) => (probeOut += d.toString()));
  const proberExit = once(prober, 'exit');
  const load = Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < deadline) {
      const r = await call(loadAgent, port, 'POST', '/prioritize', body);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  });
  await Promise.all(load);
  const rssEnd = rssMiB(pid);
  loadAgent.destroy();
  await proberExit;
  const { targets: probed, rssPeakMiB } = JSON.parse(probeOut) as { targets: Record<string, ProbeResult>; rssPeakMiB: number };
  const rssPeak = Math.max(rssBefore, rssPeakMiB, rssEnd);
  idle.child.kill('SIGTERM');
  await sleep(10_000);
  const rssAfter = rssMiB(pid);
  // The extender's parse workers exit after 30 s idle (protocol/parse-pool.ts), giving their heaps back.
  await sleep(30_000);
  const rssAfter40 = rssMiB(pid);
  child.kill('SIGTERM');
  await once(child, 'exit');
  return {
    server: which,
    probes: Object.fromEntries(Object.entries(probed).map(([name, r]) => [name, probeStats(r)])),
    prioritizeByStatus: Object.fromEntries(statuses),
    rssMiB: { before: rssBefore, peak: rssPeak, endOfLoad: rssEnd, after10s: rssAfter, after40s: rssAfter40 },
  };
}

// `--only extender` skips the floor (for tracing the extender alone; the results file then has no ratio).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const loadavgAtStart = loadavg();
const floor = only === 'extender' ? null : await measure('floor');
const extender = await measure('extender');
const result = {
  benchmark: 'extender-pressure',
  at: new Date().toISOString(),
  machine: { node: process.version, loadavgAtStart, loadavgAtEnd: loadavg() },
  clients: CLIENTS,
  seconds: SECONDS,
  bodyBytes: body.length,
  floor,
  extender,
  // kubelet probes the health port; the floor has only its one port.
  healthP99VsFloor: floor ? (extender.probes.healthPort?.p99ms ?? NaN) / (floor.probes.mainPort?.p99ms ?? NaN) : null,
};
mkdirSync(resultsDir(), { recursive: true });
writeFileSync(join(resultsDir(), 'extender-pressure.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
