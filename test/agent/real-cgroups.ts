// Helpers for the root-only tests: real cgroups under the machine's own hierarchies, workloads moved into them
// before they start, and cleanup that kills leftovers and removes every cgroup even when a test fails.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CgroupLayout, detectLayout } from '../../src/agent/resource/cgroupfs.js';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export function hostLayout(): CgroupLayout | null {
  const l = detectLayout('/sys/fs/cgroup');
  return 'error' in l ? null : l;
}

export class CgroupSet {
  private readonly dirs: string[] = [];

  /** Creates `rel` (and parents) below `mount`; removed again by cleanup(), deepest first. */
  make(mount: string, rel: string): string {
    const parts = rel.split('/').filter(Boolean);
    let dir = mount;
    for (const p of parts) {
      dir = join(dir, p);
      if (!existsSync(dir)) {
        mkdirSync(dir);
        this.dirs.push(dir);
      }
    }
    return dir;
  }

  /** Removes one cgroup now (it must be empty): the "ran and vanished" case. */
  remove(dir: string): void {
    killAll(dir);
    rmdirWithRetry(dir);
    const i = this.dirs.indexOf(dir);
    if (i >= 0) this.dirs.splice(i, 1);
  }

  cleanup(): void {
    for (const dir of [...this.dirs].reverse()) {
      try {
        killAll(dir);
        rmdirWithRetry(dir);
      } catch {
        // best effort: a later run uses a fresh random name
      }
    }
    this.dirs.length = 0;
  }
}

function killAll(dir: string): void {
  let pids: string[] = [];
  try {
    pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function rmdirWithRetry(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i > 200) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); // dying tasks leave within milliseconds
    }
  }
}

export function cgroupId(dir: string): string {
  return statSync(dir, { bigint: true }).ino.toString();
}

export function usageNsV2(dir: string): number {
  const m = /^usage_usec (\d+)$/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'));
  return Number(m?.[1]) * 1000;
}

export function usageNsV1(dir: string): number {
  return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8').trim());
}

/** Runs a shell snippet whose shell joins every cgroup in `dirs` before it execs/starts any work. */
export function runIn(dirs: string[], script: string): Promise<void> {
  const join = dirs.map((d) => `echo $$ > '${d}/cgroup.procs'`).join(' && ');
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${join} && ${script}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`workload exited ${code}: ${err}`))));
  });
}

/** A CPU burner: one process spinning for `ms` milliseconds. */
export function burner(ms: number): string {
  return `exec '${process.execPath}' -e 'const e = Date.now() + ${ms}; while (Date.now() < e) {}'`;
}

/**
 * Half-duty CPU in `dir` for `ms` (20 ms spinning, 20 ms idle): on a shared machine a test asks for some CPU, not for
 * all of it, and measures what it got. Resolves once the process exits however it ends, since a test may remove the
 * cgroup (killing it) as its time runs out; CgroupSet.cleanup kills it with the rest of its cgroup.
 */
export function burnHalfDuty(dir: string, ms: number): Promise<void> {
  const js = `const end = Date.now() + ${ms}; const tick = () => { const t = Date.now() + 20; while (Date.now() < t) {} if (Date.now() < end) setTimeout(tick, 20); }; tick();`;
  return new Promise((res, rej) => {
    const child = spawn('/bin/sh', ['-c', `echo $$ > '${dir}/cgroup.procs' && exec '${process.execPath}' -e '${js}'`], { stdio: 'ignore' });
    child.once('error', rej);
    child.once('exit', () => res());
  });
}

/** Fork/exit storm: `n` short-lived processes, each its own fork, exec and exit. */
export function forkStorm(n: number): string {
  return `i=0; while [ $i -lt ${n} ]; do /bin/true; i=$((i+1)); done`;
}
