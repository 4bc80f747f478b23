// Agent benchmark, root only: (1) the eBPF program's cost per context switch, from `perf bench sched pipe` with
// each program variant attached and with nothing attached, alternated in one run; (2) the agent's own CPU and RSS
// while it tracks 200 busy cgroups at a 1 s interval, on each collector, against an agent with no extra cgroups;
// (3) eBPF CPU time against the kernel's cpu.stat for a steady burner and a fork/exit storm.
// Prints a table and writes bench/results/agent.json.
//   node dist/bench/agent/run.js [--rounds 25] [--pipe-loops 20000] [--window 20] [--cgroups 200]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type NativeSession, type ProgramVariant, defaultAddonPath, loadAddon, packageRoot } from '../../src/agent/collector/addon.js';
import { ensureTracefs } from '../../src/agent/collector/ebpf.js';
import { detectLayout } from '../../src/agent/resource/cgroupfs.js';
import { BenchRun, type Window, bareNodeRssMiB, load1, pad, requireRootV2, sampleAgent, sleep, startAgent } from './harness.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '25' },
    'pipe-loops': { type: 'string', default: '20000' },
    window: { type: 'string', default: '20' },
    cgroups: { type: 'string', default: '200' },
  },
});
const ROUNDS = Number(args.rounds);
const PIPE_LOOPS = Number(args['pipe-loops']);
const WINDOW_S = Number(args.window);
const NCG = Number(args.cgroups);
// What a DaemonSet could add on top of the launcher's own setting (charts/wattsched: agent.nodeOptions).
const TUNED = '--max-semi-space-size=1';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const V2 = requireRootV2('bench/agent');
const layoutName = (detectLayout('/sys/fs/cgroup') as { name: string }).name;
const loaded = loadAddon(defaultAddonPath());
if ('error' in loaded) {
  console.error(`bench/agent needs the eBPF addon: ${loaded.error}`);
  process.exit(2);
}
const addon = loaded.addon;
const tracefs = ensureTracefs();
if (tracefs) console.error(`warning: ${tracefs}`);
const run = new BenchRun(V2);
const loadAtStart = load1();

// ---- 1. switch storm ---------------------------------------------------------------------------------------------
function pipeUsecsPerOp(): number {
  const out = execFileSync('perf', ['bench', 'sched', 'pipe', '-l', String(PIPE_LOOPS)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /([\d.]+) usecs\/op/.exec(out);
  if (!m) throw new Error(`cannot parse perf bench output:\n${out}`);
  return Number(m[1]);
}

const variants: ProgramVariant[] = [];
for (const v of ['tp_btf', 'raw_tp', 'tp'] as ProgramVariant[]) {
  try {
    new addon.Session(v, { maxEntries: 1024, pmu: [], exitHook: true, flushHz: 10 }).destroy();
    variants.push(v);
  } catch (err) {
    console.error(`variant ${v} does not load here: ${(err as Error).message.split('\n')[0]}`);
  }
}
// The best variant's hook with an empty body: what attaching anything to sched_switch costs here.
const emptyObject = join(packageRoot(), 'bpf', '.output', 'cgroup_counters_empty.bpf.o');
const EMPTY = `${variants[0]}-empty`;
const hasEmpty = variants.length > 0 && existsSync(emptyObject);
const openArm = (arm: string): NativeSession =>
  arm === EMPTY
    ? new addon.Session(variants[0] as ProgramVariant, { objectPath: emptyObject, maxEntries: 1024, pmu: [], exitHook: true, flushHz: 10 })
    : new addon.Session(arm as ProgramVariant, { maxEntries: 1024, pmu: [], exitHook: true, flushHz: 10 });
const storm: Record<string, number[]> = { off: [] };
if (hasEmpty) storm[EMPTY] = [];
for (const v of variants) storm[v] = [];
console.error(`switch storm: ${ROUNDS} rounds x (off + ${variants.join(', ')}), perf bench sched pipe -l ${PIPE_LOOPS}`);
pipeUsecsPerOp(); // warm caches and the perf binary
for (let r = 0; r < ROUNDS; r++) {
  // Rotate the order each round so drift from other load on the machine spreads over all arms.
  const arms = Object.keys(storm);
  const order = arms.map((_, i) => arms[(i + r) % arms.length] as string);
  for (const arm of order) {
    let s: NativeSession | null = null;
    if (arm !== 'off') s = openArm(arm);
    try {
      storm[arm]?.push(pipeUsecsPerOp());
    } finally {
      s?.destroy();
    }
  }
}
// The kernel's own per-program accounting (kernel.bpf_stats_enabled): time inside the program per run, which the
// noise of other load on a shared machine does not reach. Measured in separate runs, since the stats cost time too.
const progNs: Record<string, number> = {};
const statsWas = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
try {
  for (const v of Object.keys(storm).filter((a) => a !== 'off')) {
    const s = openArm(v);
    try {
      pipeUsecsPerOp();
      const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { name?: string; run_cnt?: number; run_time_ns?: number }[];
      const p = progs.find((x) => x.name?.startsWith('handle_switch') && (x.run_cnt ?? 0) > 0);
      if (p?.run_cnt) progNs[v] = (p.run_time_ns ?? 0) / p.run_cnt;
    } finally {
      s.destroy();
    }
  }
} finally {
  writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsWas);
}
const offMed = median(storm.off as number[]);
const stormRows = Object.entries(storm).map(([arm, xs]) => {
  const med = median(xs);
  // Each pipe round trip is two context switches (one per side).
  return {
    arm,
    usecsPerOp: med,
    runs: xs,
    slowdownPct: arm === 'off' ? 0 : ((med - offMed) / offMed) * 100,
    // Same-round ratios cancel the drift of other load on the machine between rounds.
    pairedSlowdownPct: arm === 'off' ? 0 : (median(xs.map((x, i) => x / (storm.off?.[i] as number))) - 1) * 100,
    nsPerSwitch: arm === 'off' ? 0 : ((med - offMed) * 1000) / 2,
    programNsPerRun: progNs[arm] ?? null,
  };
});

// ---- 2. agent cost with N busy cgroups ------------------------------------------------------------------------------
interface AgentRun extends Window {
  collector: string;
  nodeOptions: string;
  busyCgroups: number;
  trackedCgroups: number;
  busyTracked: number;
  readMsMean: number;
}

async function measureAgent(collector: 'ebpf' | 'fallback', busy: number, busyPrefix: string, nodeOptions = ''): Promise<AgentRun> {
  const agent = await startAgent(run, { collector, nodeOptions });
  try {
    const w = await sampleAgent(agent, WINDOW_S);
    const url = (p: string) => `http://127.0.0.1:${agent.port}${p}`;
    const report = (await (await fetch(url('/v1/node'))).json()) as { collector: { name: string }; cgroups: { path: string | null; rates: { cpuSeconds: number } }[] };
    if (report.collector.name !== collector) throw new Error(`agent runs ${report.collector.name}, wanted ${collector}`);
    const metrics = await (await fetch(url('/metrics'))).text();
    const sum = Number(/wattsched_agent_read_duration_seconds_sum ([\d.e+-]+)/.exec(metrics)?.[1]);
    const count = Number(/wattsched_agent_read_duration_seconds_count (\d+)/.exec(metrics)?.[1]);
    const busyTracked = report.cgroups.filter((c) => c.path?.startsWith(busyPrefix) && c.rates.cpuSeconds > 0).length;
    return { collector, nodeOptions, busyCgroups: busy, trackedCgroups: report.cgroups.length, busyTracked, ...w, readMsMean: (sum / count) * 1000 };
  } finally {
    await agent.stop();
  }
}

console.error(`agent cost: ${WINDOW_S} s windows, idle then ${NCG} busy cgroups, eBPF and fallback, through the launcher`);
const bare = await bareNodeRssMiB(run);
const agentRuns: AgentRun[] = [];
for (const c of ['ebpf', 'fallback'] as const) agentRuns.push(await measureAgent(c, 0, '-'));
const busyPrefix = run.startBusy(NCG, 'plain');
await sleep(1000);
for (const c of ['ebpf', 'fallback'] as const) agentRuns.push(await measureAgent(c, NCG, busyPrefix));
agentRuns.push(await measureAgent('ebpf', NCG, busyPrefix, TUNED));
run.stopBusy();

// ---- 3. accuracy against cpu.stat ---------------------------------------------------------------------------------
function usageNs(dir: string): number {
  return Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1]) * 1000;
}
function runIn(dir: string, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/sh', ['-c', `echo $$ > '${dir}/cgroup.procs' && ${script}`], { stdio: 'ignore' });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
}
const accuracy: { variant: string; workload: string; kernelCpuS: number; ebpfCpuS: number; errorPct: number }[] = [];
// Every variant attached at once, each with its own maps, so all see exactly the same workload.
const sessions = variants.map((v) => ({ v, s: new addon.Session(v, { maxEntries: 4096, pmu: [], exitHook: true, flushHz: 10 }) }));
try {
  const workloads = {
    'steady burner 1 s': `exec '${process.execPath}' -e 'const e = Date.now() + 1000; while (Date.now() < e) {}'`,
    'fork/exit storm (1000 x /bin/true)': 'i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done',
    'threads (4 x 0.5 s, node workers)': `exec '${process.execPath}' -e 'const { Worker } = require("worker_threads"); for (let i = 0; i < 4; i++) new Worker("const e = Date.now() + 500; while (Date.now() < e) {}", { eval: true });'`,
  };
  let k = 0;
  for (const [name, script] of Object.entries(workloads)) {
    const dir = run.mkcg(`${run.base}/acc-${k++}`);
    await runIn(dir, script);
    const kernel = usageNs(dir) / 1e9;
    const id = statSync(dir, { bigint: true }).ino;
    for (const { v, s } of sessions) {
      const { ids, values } = s.read();
      const i = [...ids].indexOf(id);
      const ebpf = i < 0 ? 0 : (values[i * 5] as number) / 1e9;
      accuracy.push({ variant: v, workload: name, kernelCpuS: kernel, ebpfCpuS: ebpf, errorPct: ((ebpf - kernel) / kernel) * 100 });
    }
  }
} finally {
  for (const { s } of sessions) s.destroy();
}

// ---- report ---------------------------------------------------------------------------------------------------------
console.log('\nSwitch storm (perf bench sched pipe, median of rounds; 2 context switches per op)');
console.log(`${'program'.padEnd(14)}${pad('us/op', 10)}${pad('slowdown', 10)}${pad('paired', 9)}${pad('ns/switch', 11)}${pad('prog ns/run', 13)}  runs`);
for (const r of stormRows) {
  const ns = r.programNsPerRun === null ? '-' : r.programNsPerRun.toFixed(0);
  console.log(`${r.arm.padEnd(14)}${pad(r.usecsPerOp.toFixed(2), 10)}${pad(r.slowdownPct.toFixed(2) + '%', 10)}${pad(r.pairedSlowdownPct.toFixed(2) + '%', 9)}${pad(r.nsPerSwitch.toFixed(0), 11)}${pad(ns, 13)}  ${r.runs.map((x) => x.toFixed(2)).join(' ')}`);
}
console.log(`\nAgent cost at 1 s interval, started through bin/wattsched (${WINDOW_S} s window, /metrics scraped every 15 s)`);
console.log(`${'collector'.padEnd(10)}${pad('busy cg', 8)}${pad('tracked', 9)}${pad('busy seen', 10)}${pad('CPU %core', 11)}${pad('RSS max MiB', 13)}${pad('anon MiB', 10)}${pad('read ms', 9)}${pad('load1', 12)}`);
for (const a of agentRuns) {
  console.log(`${(a.collector + (a.nodeOptions ? '*' : '')).padEnd(10)}${pad(a.busyCgroups, 8)}${pad(a.trackedCgroups, 9)}${pad(a.busyTracked, 10)}${pad(a.cpuPctOfOneCore.toFixed(2), 11)}${pad(a.rssMiBMax.toFixed(1), 13)}${pad(a.rssAnonMiBMax.toFixed(1), 10)}${pad(a.readMsMean.toFixed(2), 9)}${pad(a.load1.map((l) => l.toFixed(1)).join('-'), 12)}`);
}
console.log(`* with NODE_OPTIONS=${TUNED} as well`);
console.log(`floor: a bare node process, same binary: RSS ${bare.rssMiB.toFixed(1)} MiB (anon ${bare.rssAnonMiB.toFixed(1)})`);
console.log('\neBPF CPU time vs cpu.stat usage_usec');
for (const a of accuracy) {
  console.log(`${a.variant.padEnd(8)}${a.workload.padEnd(38)} kernel ${a.kernelCpuS.toFixed(4)} s  eBPF ${a.ebpfCpuS.toFixed(4)} s  error ${a.errorPct.toFixed(2).padStart(6)}%`);
}

const best = stormRows.find((r) => r.arm === variants[0]);
const busyEbpf = agentRuns.find((a) => a.collector === 'ebpf' && a.busyCgroups === NCG && a.nodeOptions === '');
const result = {
  benchmark: 'agent',
  at: new Date().toISOString(),
  machine: { kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), cpus: Number(execFileSync('nproc', { encoding: 'utf8' })), layout: layoutName },
  load1: { start: loadAtStart, end: load1() },
  launch: 'bin/wattsched agent (the launcher adds --max-semi-space-size=1 unless NODE_OPTIONS sets it)',
  bareNode: bare,
  parameters: { rounds: ROUNDS, pipeLoops: PIPE_LOOPS, windowSeconds: WINDOW_S, busyCgroups: NCG, intervalSeconds: 1 },
  switchStorm: { baselineUsecsPerOp: offMed, emptyHookArm: hasEmpty ? EMPTY : null, arms: stormRows },
  agent: agentRuns,
  accuracy,
  targets: {
    switchStormSlowdownPct: { target: 3, measured: best?.pairedSlowdownPct ?? null, variant: variants[0] ?? null, met: best !== undefined && best.pairedSlowdownPct < 3 },
    agentCpuPctOfOneCore: { target: 1, measured: busyEbpf?.cpuPctOfOneCore ?? null, met: busyEbpf !== undefined && busyEbpf.cpuPctOfOneCore < 1 },
    agentRssMiB: { target: 100, measured: busyEbpf?.rssMiBMax ?? null, met: busyEbpf !== undefined && busyEbpf.rssMiBMax < 100 },
  },
};
const outDir = join(packageRoot(), 'bench', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'agent.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`\nwrote ${join(outDir, 'agent.json')}`);
