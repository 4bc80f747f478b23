// Extender latency and throughput against the floor (bare Fastify parsing the same body), same run, same machine.
// Sequential requests on one keep-alive connection give the latency kube-scheduler sees per call; four concurrent
// connections give throughput. Rounds alternate floor/extender so drift on a noisy VM hits both alike.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { once } from 'node:events';
import { extenderArgs, realisticPod } from './fixtures.js';
import { benchNodes } from './workload.js';
import { resultsDir } from '../paths.js';

type Verb = 'filter' | 'prioritize';
type Mode = 'names' | 'full';
interface Sample { p50: number; p99: number; mean: number; rps: number; n: number; cpuMsPerReq: number }

const quick = process.argv.includes('--quick');
// `--modes names` (or full) measures one mode only, into bench/results/extender-<mode>.json.
const modesArg = process.argv.indexOf('--modes');
const modes = (modesArg > 0 ? (process.argv[modesArg + 1] ?? '').split(',') : ['names', 'full']) as Mode[];
const nodesArg = process.argv.indexOf('--nodes');
const nodeCounts = nodesArg > 0 ? (process.argv[nodesArg + 1] ?? '').split(',').map(Number) : [500, 5000];

const child = spawn(process.execPath, [join(import.meta.dirname, 'servers.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
const [line] = (await once(child.stdout, 'data')) as [Buffer];
const ports = JSON.parse(line.toString()) as { extender: number; floor: number; admin: number };

function post(agent: Agent, port: number, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

async function serverCpuMs(): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${ports.admin}/cpu`);
  const { user, system } = (await res.json()) as { user: number; system: number };
  return (user + system) / 1000;
}

async function measure(port: number, path: string, body: Buffer, requests: number, concurrency: number): Promise<Sample> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const cpu0 = await serverCpuMs();
  const lat: number[] = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) lat.push(await post(agent, port, path, body));
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuMsPerReq = ((await serverCpuMs()) - cpu0) / lat.length;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), mean: lat.reduce((a, b) => a + b, 0) / lat.length, rps: lat.length / secs, n: lat.length, cpuMsPerReq };
}


const rows: Record<string, unknown>[] = [];
const allNodes = benchNodes(Math.max(...nodeCounts));
for (const mode of modes) {
  for (const n of nodeCounts) {
    const body = Buffer.from(JSON.stringify(extenderArgs(mode, allNodes.slice(0, n), realisticPod())));
    const big = mode === 'full' && n === 5000;
    const reqs = quick ? 20 : big ? 60 : mode === 'full' ? 400 : 2000;
    for (const verb of ['prioritize', 'filter'] as Verb[]) {
      const path = `/${verb}`;
      await measure(ports.extender, path, body, Math.min(50, reqs), 1); // warm-up: JIT and caches
      await measure(ports.floor, path, body, Math.min(50, reqs), 1);
      const lat: { floor: Sample[]; ours: Sample[] } = { floor: [], ours: [] };
      for (let round = 0; round < 3; round++) {
        lat.floor.push(await measure(ports.floor, path, body, Math.ceil(reqs / 3), 1));
        lat.ours.push(await measure(ports.extender, path, body, Math.ceil(reqs / 3), 1));
      }
      const tput = { floor: await measure(ports.floor, path, body, reqs, 4), ours: await measure(ports.extender, path, body, reqs, 4) };
      // Median of the three rounds' percentiles: one GC pause or a neighbour's burst does not decide the row.
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] as number;
      const row = {
        verb, mode, nodes: n, bodyBytes: body.length,
        floorP50ms: med(lat.floor.map((s) => s.p50)), floorP99ms: med(lat.floor.map((s) => s.p99)),
        p50ms: med(lat.ours.map((s) => s.p50)), p99ms: med(lat.ours.map((s) => s.p99)),
        floorRps: tput.floor.rps, rps: tput.ours.rps,
        floorCpuMsPerReq: med(lat.floor.map((s) => s.cpuMsPerReq)), cpuMsPerReq: med(lat.ours.map((s) => s.cpuMsPerReq)),
      };
      rows.push({ ...row, p99VsFloor: row.p99ms / row.floorP99ms, throughputVsFloor: row.rps / row.floorRps, cpuVsFloor: row.cpuMsPerReq / row.floorCpuMsPerReq });
    }
  }
}
child.kill('SIGTERM');

const targets = [
  { name: 'names mode, 5,000 nodes: p99 ≤ 1.5× floor and < 5 ms', rows: rows.filter((r) => r.mode === 'names' && r.nodes === 5000), ok: (r: Record<string, unknown>) => (r.p99VsFloor as number) <= 1.5 && (r.p99ms as number) < 5 },
  { name: 'full mode, 500 nodes: p99 < 40 ms', rows: rows.filter((r) => r.mode === 'full' && r.nodes === 500), ok: (r: Record<string, unknown>) => (r.p99ms as number) < 40 },
].filter((t) => t.rows.length > 0).map((t) => ({ target: t.name, met: t.rows.every(t.ok), rows: t.rows.map((r) => `${r.verb}: p99 ${(r.p99ms as number).toFixed(2)} ms, ${(r.p99VsFloor as number).toFixed(2)}× floor`) }));

const f = (x: unknown, d = 2) => (typeof x === 'number' ? x.toFixed(d) : String(x));
console.log('\nwattsched extender vs bare-Fastify floor (same body, same process, loopback)\n');
console.log('verb        mode   nodes   body MB   floor p50/p99 ms   extender p50/p99 ms   p99 ×floor   floor req/s   extender req/s   CPU ms/req floor/ext   CPU ×floor');
for (const r of rows) {
  console.log(
    `${String(r.verb).padEnd(11)} ${String(r.mode).padEnd(6)} ${String(r.nodes).padStart(5)}   ${f((r.bodyBytes as number) / 1e6).padStart(7)}   ${`${f(r.floorP50ms)}/${f(r.floorP99ms)}`.padStart(16)}   ${`${f(r.p50ms)}/${f(r.p99ms)}`.padStart(19)}   ${f(r.p99VsFloor).padStart(10)}   ${f(r.floorRps, 0).padStart(11)}   ${f(r.rps, 0).padStart(14)}   ${`${f(r.floorCpuMsPerReq)}/${f(r.cpuMsPerReq)}`.padStart(20)}   ${f(r.cpuVsFloor).padStart(10)}`,
  );
}
for (const t of targets) console.log(`${t.met ? 'MET   ' : 'MISSED'} ${t.target}: ${t.rows.join('; ')}`);

mkdirSync(resultsDir(), { recursive: true });
writeFileSync(
  join(resultsDir(), modesArg > 0 ? `extender-${modes.join('-')}.json` : 'extender.json'),
  `${JSON.stringify({ benchmark: 'extender', at: new Date().toISOString(), machine: { cpus: (await import('node:os')).cpus().length, node: process.version, loadavg: (await import('node:os')).loadavg() }, quick, rows, targets }, null, 2)}\n`,
);
