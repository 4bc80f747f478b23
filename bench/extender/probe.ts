// The pressure benchmark's health prober, in a process of its own: timed from the load generator's event loop, a
// probe would also count the generator's own stalls (it writes 50 bodies of 3 MB) as the server's. GETs
// http://127.0.0.1:PORT/healthz every INTERVAL ms on one keep-alive connection for SECONDS, sampling the server's
// RSS (pid SERVER_PID) each time; prints {"ok":[ms…],"failed":[ms…],"rssPeakMiB":N} when done.
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';

const [port, seconds, interval, pid] = process.argv.slice(2).map(Number) as [number, number, number, number];
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const rssMiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

function probe(): Promise<{ status: number; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end();
  });
}

const ok: number[] = [];
const failed: number[] = [];
let rssPeakMiB = rssMiB();
const deadline = performance.now() + seconds * 1000;
while (performance.now() < deadline) {
  const r = await probe();
  (r.status === 200 ? ok : failed).push(r.ms);
  rssPeakMiB = Math.max(rssPeakMiB, rssMiB());
  await new Promise((res) => setTimeout(res, interval));
}
agent.destroy();
process.stdout.write(`${JSON.stringify({ ok, failed, rssPeakMiB })}\n`);
