// Agent cost with power attribution on, root only: the built `wattsched agent` (eBPF collector, model power, idle
// policy even, checkpoint written every interval) while N pod-shaped cgroups each wake 20 times a second, against
// the same agent with none; with default V8 settings (what `wattsched agent` gets) and with smaller young
// generations. CPU from /proc/<pid>/task/*/schedstat, RSS from /proc/<pid>/status, once a second over the window.
// Prints a table and writes bench/results/agent-attribution.json.
//   node dist/bench/agent/attribution.js [--window 20] [--cgroups 200]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../src/agent/collector/addon.js';
import { detectLayout } from '../../src/agent/resource/cgroupfs.js';

const { values: args } = parseArgs({ options: { window: { type: 'string', default: '20' }, cgroups: { type: 'string', default: '200' } } });
const WINDOW_S = Number(args.window);
const NCG = Number(args.cgroups);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0) {
  console.error('bench/agent/attribution needs root (real cgroups, BPF programs)');
  process.exit(2);
}
const layout = detectLayout('/sys/fs/cgroup');
if ('error' in layout || layout.v2Path === undefined) {
  console.error('bench/agent/attribution needs a cgroup v2 hierarchy');
  process.exit(2);
}
const V2 = layout.v2Path;
const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'wattsched-bench-attr-'));
const prefix = `wsab${randomBytes(3).toString('hex')}`;
const made: string[] = [];
const children: ChildProcess[] = [];
function cleanup(): void {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const dir of made.splice(0).reverse()) {
    for (let i = 0; i < 100; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
function mkcg(rel: string): string {
  const dir = join(V2, rel);
  mkdirSync(dir);
  made.push(dir);
  return dir;
}

/** N pods (systemd-driver names under this run's slice), one container each, each waking 20 times a second. */
function startPods(n: number): void {
  mkcg(`${prefix}.slice`);
  const perl = 'while (1) { my $x = 0; $x += $_ for 1..300; select(undef, undef, undef, 0.05) }';
  for (let i = 0; i < n; i++) {
    const pod = mkcg(`${prefix}.slice/${prefix}-kubepods-besteffort-pod${randomUUID().replaceAll('-', '_')}.slice`);
    const dir = mkcg(`${pod.slice(V2.length + 1)}/cri-containerd-${randomBytes(32).toString('hex')}.scope`);
    children.push(spawn('/bin/sh', ['-c', `echo $$ > '${dir}/cgroup.procs' && exec perl -e '${perl}'`], { stdio: 'ignore' }));
  }
}

function procCpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread gone
    }
  }
  return ns / 1e9;
}
const status = (pid: number, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

interface Run {
  nodeOptions: string;
  busyPods: number;
  podsWithWatts: number;
  metricsSeries: number;
  residualRatioMax: number;
  cpuPctOfOneCore: number;
  rssMiBMax: number;
  rssAnonMiBMax: number;
}

async function measure(busy: number, nodeOptions: string): Promise<Run> {
  const agent = spawn(process.execPath, [cli, 'agent', '--port', '0', '--host', '127.0.0.1', '--interval', '1s', '--collector', 'ebpf', '--log-level', 'info'], {
    env: {
      ...process.env,
      NODE_OPTIONS: nodeOptions,
      WATTSCHED_AGENT_KUBERNETES__MODE: 'off',
      WATTSCHED_AGENT_POWER__IDLE_POLICY: 'even',
      WATTSCHED_AGENT_POWER__CHECKPOINT_PATH: join(tmp, `energy-${randomBytes(3).toString('hex')}.json`),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(agent);
  try {
    let log = '';
    const port = await new Promise<number>((resolve, reject) => {
      agent.stdout!.on('data', (d: Buffer) => {
        log += d.toString();
        const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
        if (m) resolve(Number(m[1]));
      });
      agent.once('exit', (code) => reject(new Error(`agent exited ${code}: ${log}`)));
    });
    const pid = agent.pid as number;
    await sleep(5000);
    await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    await (await fetch(`http://127.0.0.1:${port}/v1/node`)).text();
    await sleep(1000);
    const t0 = performance.now();
    const c0 = procCpuSeconds(pid);
    const rss: number[] = [];
    const anon: number[] = [];
    let residual = 0;
    for (let s = 0; s < WINDOW_S; s++) {
      await sleep(1000);
      rss.push(status(pid, 'VmRSS'));
      anon.push(status(pid, 'RssAnon'));
      if (s % 15 === 14) await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    }
    const cpuS = procCpuSeconds(pid) - c0;
    const wallS = (performance.now() - t0) / 1000;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    residual = Math.max(residual, Number(/^wattsched_attribution_residual_ratio ([\d.e+-]+)$/m.exec(metrics)?.[1]));
    const report = (await (await fetch(`http://127.0.0.1:${port}/v1/node`)).json()) as { power?: unknown; pods: { energy?: { watts: number } }[] };
    return {
      nodeOptions,
      busyPods: busy,
      podsWithWatts: report.pods.filter((p) => (p.energy?.watts ?? 0) > 0).length,
      metricsSeries: metrics.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length,
      residualRatioMax: residual,
      cpuPctOfOneCore: (cpuS / wallS) * 100,
      rssMiBMax: Math.max(...rss),
      rssAnonMiBMax: Math.max(...anon),
    };
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    children.splice(children.indexOf(agent), 1);
  }
}

const runs: Run[] = [];
console.error(`agent with attribution: ${WINDOW_S} s windows, 0 then ${NCG} busy pods`);
runs.push(await measure(0, ''));
startPods(NCG);
await sleep(2000);
for (const o of ['', '--max-semi-space-size=4', '--max-semi-space-size=1']) runs.push(await measure(NCG, o));
// The pods' child handles would keep the event loop (and the 'exit' cleanup) from ever running.
cleanup();

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`\nAgent with attribution, eBPF, 1 s interval (${WINDOW_S} s window, /metrics every 15 s)`);
console.log(`${'NODE_OPTIONS'.padEnd(26)}${pad('pods', 6)}${pad('w/ watts', 9)}${pad('series', 8)}${pad('residual', 10)}${pad('CPU %core', 11)}${pad('RSS max MiB', 13)}${pad('anon MiB', 10)}`);
for (const r of runs) {
  console.log(`${(r.nodeOptions || '(default)').padEnd(26)}${pad(r.busyPods, 6)}${pad(r.podsWithWatts, 9)}${pad(r.metricsSeries, 8)}${pad(r.residualRatioMax.toExponential(1), 10)}${pad(r.cpuPctOfOneCore.toFixed(2), 11)}${pad(r.rssMiBMax.toFixed(1), 13)}${pad(r.rssAnonMiBMax.toFixed(1), 10)}`);
}
const busyDefault = runs.find((r) => r.busyPods === NCG && r.nodeOptions === '');
const result = {
  benchmark: 'agent-attribution',
  at: new Date().toISOString(),
  parameters: { windowSeconds: WINDOW_S, busyPods: NCG, intervalSeconds: 1, idlePolicy: 'even' },
  runs,
  targets: {
    agentCpuPctOfOneCore: { target: 1, measured: busyDefault?.cpuPctOfOneCore ?? null, met: busyDefault !== undefined && busyDefault.cpuPctOfOneCore < 1 },
    agentRssMiB: { target: 100, measured: busyDefault?.rssMiBMax ?? null, met: busyDefault !== undefined && busyDefault.rssMiBMax <= 100 },
  },
};
const out = join(packageRoot(), 'bench', 'results', 'agent-attribution.json');
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(`\nwrote ${out}`);
process.exit(0);
