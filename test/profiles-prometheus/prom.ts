// A real Prometheus (Debian package `prometheus`) for the profile-source tests and the agent's end-to-end test:
// started on a free loopback port with a generated config and its own data directory, stopped by the caller; and the
// built agent those tests run for it to scrape.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { hostLayout, isRoot } from '../agent/real-cgroups.js';

export const hasBinary = (bin: string): boolean => {
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const CLI = resolve('dist/src/cli/main.js');

/**
 * What a test of the built agent on real cgroups under a real Prometheus needs: the cgroup v2 mount, and why the
 * test must skip (null: it can run).
 */
export function agentUnderPrometheus(): { v2: string | undefined; why: string | null } {
  const v2 = hostLayout()?.v2Path;
  const why = !isRoot ? 'needs root (real cgroups)' : !hasBinary('prometheus') ? 'needs the prometheus package' : !existsSync(CLI) ? 'needs the built CLI (npm run build)' : v2 === undefined ? 'needs a cgroup v2 hierarchy' : null;
  return { v2, why };
}

/**
 * Starts the built agent on loopback `port`, measuring every 500 ms, with `env`. `ready` resolves once it logs that
 * it listens, and rejects when it exits first or is not up within 60 s; `child` is there at once, for cleanup; `log`
 * is its output so far.
 */
export function startAgent(port: number, env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<void>; log: () => string } {
  const child = spawn(process.execPath, [CLI, 'agent', '--host', '127.0.0.1', '--port', String(port), '--interval', '500ms', '--log-level', 'info'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const ready = new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`agent not ready in 60 s: ${log.slice(-2000)}`)), 60_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      if (/listening at/.test(log)) (clearTimeout(timer), res());
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => (clearTimeout(timer), rej(new Error(`agent exited ${code}: ${log.slice(-2000)}`))));
  });
  return { child, ready, log: () => log };
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunningPrometheus {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts Prometheus on `dataDir` scraping `targets` every second (none: it only serves what the directory holds). */
export async function startPrometheus(dir: string, dataDir: string, targets: string[]): Promise<RunningPrometheus> {
  const port = await freePort();
  const config = join(dir, `prometheus-${port}.yml`);
  writeFileSync(
    config,
    targets.length === 0
      ? 'global: {}\nscrape_configs: []\n'
      : `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: agent\n    static_configs:\n      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]\n`,
  );
  const child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  // Polled only while Prometheus starts (connection refused or not ready yet); it must be ready within 60 s.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${log.slice(-2000)}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error(`prometheus not ready in 60 s: ${log.slice(-2000)}`);
    await sleep(200);
  }
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
