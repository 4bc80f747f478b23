// The health thread: a bare HTTP server for /healthz and /readyz that answers from the main loop's heartbeat
// (heartbeat.ts) and never waits for that loop. Started by health-thread.ts; posts {port} once listening.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { nodeServerTimeouts, type ServerTimeouts } from '../../shared/http-limits.js';
import { healthz, readyz, type HealthAnswer, type HealthIdentity } from './health-answer.js';
import { readHeartbeat } from './heartbeat.js';

export interface HealthWorkerData {
  heartbeat: SharedArrayBuffer;
  identity: HealthIdentity;
  port: number;
  host: string;
  timeouts: ServerTimeouts;
}

const data = workerData as HealthWorkerData;
const routes: Record<string, typeof healthz> = { '/healthz': healthz, '/readyz': readyz };

function answer(req: IncomingMessage): { status: HealthAnswer['status'] | 404; body: HealthAnswer['body'] } {
  const path = (req.url ?? '/').split('?')[0] as string;
  const route = req.method === 'GET' || req.method === 'HEAD' ? routes[path] : undefined;
  // Fastify's 404 shape, as the main port answers an unknown route.
  if (!route) return { status: 404, body: { message: `Route ${req.method}:${req.url} not found`, error: 'Not Found', statusCode: 404 } };
  return route(readHeartbeat(data.heartbeat), data.identity);
}

const server = createServer(nodeServerTimeouts(data.timeouts), (req: IncomingMessage, res: ServerResponse) => {
  const { status, body } = answer(req);
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(req.method === 'HEAD' ? undefined : json);
});
// A failed listen (port taken) is thrown, so the thread dies with it and the main thread's start() rejects.
server.on('error', (err) => {
  throw err;
});
server.listen(data.port, data.host, () => parentPort?.postMessage({ port: (server.address() as AddressInfo).port }));
