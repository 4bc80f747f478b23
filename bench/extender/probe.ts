// The pressure benchmark's health prober, in a process of its own: timed from the load generator's event loop, a
// probe would also count the generator's own stalls (it writes 50 bodies of 3 MB) as the server's. Usage:
// probe.js SECONDS INTERVAL SERVER_PID NAME=PORT…: for each target, on one keep-alive connection of its own, GETs
// /healthz and /readyz in turn every INTERVAL ms for SECONDS, the targets independently of each other; samples the
// server's RSS each time. Prints {"targets":{NAME:{"ok":[ms…],"failed":[ms…],"slow":[{at,path,ms}…]}},"rssPeakMiB":N}.
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';

const [seconds, interval, pid] = process.argv.slice(2, 5).map(Number) as [number, number, number];
const targets = process.argv.slice(5).map((t) => t.split('=') as [string, string]);
const rssMiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const PATHS = ['/healthz', '/readyz'];

function probe(agent: Agent, port: number, path: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end();
  });
}

let rssPeakMiB = rssMiB();
const deadline = performance.now() + seconds * 1000;
const results = await Promise.all(
  targets.map(async ([name, port]) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ok: number[] = [];
    const failed: number[] = [];
    /** Probes over 100 ms, with their wall-clock start (epoch ms), to line up against the server's own traces. */
    const slow: { at: number; path: string; ms: number }[] = [];
    for (let i = 0; performance.now() < deadline; i++) {
      const path = PATHS[i % PATHS.length] as string;
      const at = Date.now();
      const r = await probe(agent, Number(port), path);
      (r.status === 200 ? ok : failed).push(r.ms);
      if (r.ms > 100) slow.push({ at, path, ms: Math.round(r.ms) });
      rssPeakMiB = Math.max(rssPeakMiB, rssMiB());
      await new Promise((res) => setTimeout(res, interval));
    }
    agent.destroy();
    return [name, { ok, failed, slow }] as const;
  }),
);
process.stdout.write(`${JSON.stringify({ targets: Object.fromEntries(results), rssPeakMiB })}\n`);
