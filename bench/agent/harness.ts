// What bench/agent/run.ts and bench/agent/attribution.ts share: the root and cgroup v2 checks, cgroups made for the
// run and removed on any exit, busy workloads, starting the built agent the way a user does, and sampling its CPU,
// RSS and the machine's load average over a window. This machine is shared, so every window carries the load
// average it ran under, and each benchmark measures its own baseline in the same run.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/agent/collector/addon.js';
import { detectLayout } from '../../src/agent/resource/cgroupfs.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The unified hierarchy's mount point; exits 2 with the reason when not root or there is none. */
export function requireRootV2(what: string): string {
  if (process.getuid?.() !== 0) {
    console.error(`${what} needs root (real cgroups, BPF programs)`);
    process.exit(2);
  }
  const layout = detectLayout('/sys/fs/cgroup');
  if ('error' in layout || layout.v2Path === undefined) {
    console.error(`${what} needs a cgroup v2 hierarchy: ${'error' in layout ? layout.error : 'none mounted'}`);
    process.exit(2);
  }
  return layout.v2Path;
}

/** The `wattsched` launcher (package.json "bin"): what `wattsched agent` runs, V8 flags included. */
export const LAUNCHER = join(packageRoot(), 'bin', 'wattsched');

/** Cgroups and processes of one run, all removed on exit (also on an error or Ctrl-C). */
export class BenchRun {
  private readonly made: string[] = [];
  readonly children: ChildProcess[] = [];
  /** This run's own directory below the v2 mount, unique per run (no dashes: systemd slice names nest by dash). */
  readonly base: string;

  constructor(readonly v2: string) {
    this.base = `wsbench${randomBytes(3).toString('hex')}`;
    this.mkcg(this.base);
    process.on('exit', () => this.cleanup());
    process.on('SIGINT', () => process.exit(130));
  }

  /** Makes `rel` (relative to the v2 mount); removed by cleanup(), deepest first. */
  mkcg(rel: string): string {
    const dir = join(this.v2, rel);
    mkdirSync(dir);
    this.made.push(dir);
    return dir;
  }

  /**
   * `n` busy cgroups under this run's directory, each one process that wakes 20 times a second and does a little
   * work, so every cgroup is on-CPU in every interval. `pods`: kubelet-shaped names (a pod slice with one containerd
   * scope, systemd driver, under a top-level `<base>.slice`), so the agent attributes them as pods. Returns the
   * parent's path relative to the mount, with leading and trailing slashes.
   */
  startBusy(n: number, shape: 'plain' | 'pods'): string {
    const perl = 'while (1) { my $x = 0; $x += $_ for 1..300; select(undef, undef, undef, 0.05) }';
    const parent = shape === 'pods' ? `${this.base}.slice` : `${this.base}/busy`;
    this.mkcg(parent);
    for (let i = 0; i < n; i++) {
      let dir: string;
      if (shape === 'pods') {
        const pod = `${parent}/${this.base}-kubepods-besteffort-pod${randomUUID().replaceAll('-', '_')}.slice`;
        this.mkcg(pod);
        dir = this.mkcg(`${pod}/cri-containerd-${randomBytes(32).toString('hex')}.scope`);
      } else {
        dir = this.mkcg(`${parent}/cg-${i}`);
      }
      this.children.push(spawn('/bin/sh', ['-c', `echo $$ > '${dir}/cgroup.procs' && exec perl -e '${perl}'`], { stdio: 'ignore' }));
    }
    return `/${parent}/`;
  }

  stopBusy(): void {
    for (const c of this.children.splice(0)) c.kill('SIGKILL');
  }

  cleanup(): void {
    this.stopBusy();
    for (const dir of this.made.splice(0).reverse()) {
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // killed tasks leave within milliseconds
        }
      }
    }
  }
}

/**
 * CPU time of `pid`, in seconds, from schedstat (exact ns, unlike tick-sampled utime/stime), split into the main
 * thread (JavaScript, and the GC work done on it) and all other threads (V8's background compiler and GC helpers,
 * libuv's pool).
 */
export function threadCpuSeconds(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (tid === String(pid)) main += ns;
      else others += ns;
    } catch {
      // thread exited between readdir and read
    }
  }
  return { main: main / 1e9, others: others / 1e9 };
}

export function statusMiB(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

/** 1-minute load average. */
export function load1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

export interface Agent {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts `wattsched agent` through the launcher (so with the V8 flags a user gets) on an ephemeral loopback port,
 * Kubernetes off; `nodeOptions` adds NODE_OPTIONS on top, as a DaemonSet could. `nodeFlags` instead runs node on the
 * CLI directly with exactly those flags (settings the launcher does not offer). Resolves once it listens.
 */
export async function startAgent(run: BenchRun, opts: { collector: 'ebpf' | 'fallback'; env?: Record<string, string>; nodeOptions?: string; nodeFlags?: string[] }): Promise<Agent> {
  const argv = ['agent', '--port', '0', '--host', '127.0.0.1', '--interval', '1s', '--collector', opts.collector, '--log-level', 'info'];
  const [cmd, args] = opts.nodeFlags === undefined ? [LAUNCHER, argv] : [process.execPath, [...opts.nodeFlags, join(packageRoot(), 'dist', 'src', 'cli', 'main.js'), ...argv]];
  const agent = spawn(cmd, args, {
    env: { ...process.env, WATTSCHED_AGENT_KUBERNETES__MODE: 'off', NODE_OPTIONS: opts.nodeOptions ?? '', ...opts.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  run.children.push(agent);
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    agent.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    agent.once('exit', (code) => reject(new Error(`agent exited ${code}: ${log}`)));
  });
  return {
    pid: agent.pid as number,
    port,
    stop: async () => {
      agent.kill('SIGTERM');
      if (agent.exitCode === null) await new Promise((r) => agent.once('exit', r));
      run.children.splice(run.children.indexOf(agent), 1);
    },
  };
}

export interface Window {
  cpuPctOfOneCore: number;
  /** The main thread's part of cpuPctOfOneCore; the rest is V8's background threads (JIT compiler, GC helpers). */
  mainThreadPctOfOneCore: number;
  rssMiBMax: number;
  rssMiBMean: number;
  /** Private (anonymous) part of the RSS; the rest is the node binary and libraries, shared with other processes. */
  rssAnonMiBMax: number;
  /** 1-minute load average at the start and the end of the window. */
  load1: [number, number];
}

/**
 * Warms the agent up, then samples CPU and RSS once a second for `seconds`, with a /metrics scrape every 15 s as a
 * ServiceMonitor would. Warm-up: first readings, one call of each endpoint (their first call compiles serializers),
 * and V8's memory reducer, which runs three compacting GCs 8-10 s after start-up (about 90 ms of CPU here, 0.45% of
 * a core over a 20 s window that starts before it): a one-off, not the steady cost.
 */
export async function sampleAgent(agent: Agent, seconds: number): Promise<Window> {
  const url = (p: string) => `http://127.0.0.1:${agent.port}${p}`;
  await sleep(5000);
  await (await fetch(url('/metrics'))).text();
  await (await fetch(url('/v1/node'))).text();
  await sleep(10_000);
  return sampleWindow(agent, seconds);
}

/** One window of `seconds` from now, sampled as sampleAgent describes (no warm-up). */
export async function sampleWindow(agent: Agent, seconds: number): Promise<Window> {
  const url = (p: string) => `http://127.0.0.1:${agent.port}${p}`;
  const l0 = load1();
  const t0 = performance.now();
  const c0 = threadCpuSeconds(agent.pid);
  const rss: number[] = [];
  const anon: number[] = [];
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    rss.push(statusMiB(agent.pid, 'VmRSS'));
    anon.push(statusMiB(agent.pid, 'RssAnon'));
    if (s % 15 === 14) await (await fetch(url('/metrics'))).text();
  }
  const c1 = threadCpuSeconds(agent.pid);
  const wallS = (performance.now() - t0) / 1000;
  return {
    cpuPctOfOneCore: ((c1.main + c1.others - c0.main - c0.others) / wallS) * 100,
    mainThreadPctOfOneCore: ((c1.main - c0.main) / wallS) * 100,
    rssMiBMax: Math.max(...rss),
    rssMiBMean: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssAnonMiBMax: Math.max(...anon),
    load1: [l0, load1()],
  };
}

/**
 * The floor for the RSS figures, in the same run: a bare Node process that only keeps a timer, started the same
 * way (same binary, no flags). What the agent adds is its RSS minus this.
 */
export async function bareNodeRssMiB(run: BenchRun): Promise<{ rssMiB: number; rssAnonMiB: number }> {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } });
  run.children.push(c);
  try {
    await sleep(2000);
    return { rssMiB: statusMiB(c.pid as number, 'VmRSS'), rssAnonMiB: statusMiB(c.pid as number, 'RssAnon') };
  } finally {
    c.kill('SIGKILL');
    run.children.splice(run.children.indexOf(c), 1);
  }
}

export const pad = (s: string | number, n: number) => String(s).padStart(n);
