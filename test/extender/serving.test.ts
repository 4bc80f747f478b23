// Serving under pressure, against the built extender in a child process over real sockets: slow-body clients are
// cut off by the request timeout and the memory they pinned comes back; past serving.maxConcurrentRequests or
// serving.maxBufferedBytes a request gets 503 with Retry-After before its body is read; oversized bodies get 413;
// health endpoints answer while every webhook slot is taken.
import { fork, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';

const FIXTURE = join(import.meta.dirname, 'fixtures/measured-extender.mjs');
const MiB = 1024 * 1024;

interface Child {
  proc: ChildProcess;
  port: number;
  memory(): Promise<NodeJS.MemoryUsage>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

async function startExtender(over: Record<string, unknown>): Promise<Child> {
  const proc = fork(FIXTURE, [JSON.stringify(over)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(proc);
  const address = await new Promise<string>((resolve, reject) => {
    proc.once('message', (m: { address?: string }) => (m.address ? resolve(m.address) : reject(new Error(`unexpected ${JSON.stringify(m)}`))));
    proc.once('exit', (code) => reject(new Error(`extender exited with ${code}`)));
  });
  const memory = () =>
    new Promise<NodeJS.MemoryUsage>((resolve) => {
      proc.once('message', (m: { memory: NodeJS.MemoryUsage }) => resolve(m.memory));
      proc.send({ gc: true });
    });
  return { proc, port: Number(new URL(address).port), memory };
}

interface SlowResult {
  /** Everything the server sent before closing. */
  response: string;
  /** True when the server ended the connection (the client never does). */
  closedByServer: boolean;
}

/**
 * A client that sends a request head declaring `contentLength` bytes, waits `headWaitMs` for an early answer, then
 * (if none came) sends `firstChunk` bytes at once and one more byte every `trickleMs`, never finishing the body.
 */
function slowClient(port: number, o: { path: string; contentLength: number; firstChunk: number; trickleMs: number; headWaitMs?: number }): { done: Promise<SlowResult>; socket: Socket } {
  const socket = connect({ port, host: '127.0.0.1' });
  let response = '';
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<SlowResult>((resolve) => {
    socket.on('data', (d) => {
      response += d.toString('latin1');
      clearInterval(timer);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ response, closedByServer: true });
    });
  });
  socket.on('connect', () => {
    socket.write(`POST ${o.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${o.contentLength}\r\n\r\n`);
    setTimeout(() => {
      if (response !== '' || socket.destroyed) return;
      if (o.firstChunk > 0) socket.write(Buffer.alloc(o.firstChunk, 0x20));
      timer = setInterval(() => socket.write(' '), o.trickleMs);
    }, o.headWaitMs ?? 300);
  });
  return { done, socket };
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

async function post(port: number, path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** A gauge from the extender's /metrics (served outside the webhook caps). */
async function gauge(port: number, name: string): Promise<number> {
  const text = (await get(port, '/metrics')).body;
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** Waits (no fixed sleep) until the extender holds at least `inFlight` requests and `bytes` body bytes. */
const holding = (port: number, inFlight: number, bytes: number) =>
  vi.waitFor(
    async () => {
      expect(await gauge(port, 'wattsched_extender_requests_in_flight')).toBe(inFlight);
      expect(await gauge(port, 'wattsched_extender_buffered_request_bytes')).toBeGreaterThanOrEqual(bytes);
    },
    { timeout: 10_000, interval: 50 },
  );

const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);

const NAMES_BODY = JSON.stringify({ Pod: { metadata: { name: 'p', namespace: 'default' } }, NodeNames: ['a', 'b'] });

describe('slow clients', () => {
  test('slow-body clients are cut off at the request timeout, the ones past the cap get 503 at once, and their memory comes back', async () => {
    const ext = await startExtender({ serving: { requestTimeoutMs: 3000, headersTimeoutMs: 1000, maxConcurrentRequests: 8, maxBufferedBytes: 64 * MiB } });
    const before = await ext.memory();

    // 20 clients, each declaring 16 MiB, sending 4 MiB at once and then one byte every 500 ms: 8 are admitted (the
    // concurrency cap) and hold 8 x 4 = 32 MiB; the other 12 are refused before sending any body. Two waves: the
    // second must reuse what the first freed, not add to it.
    const wave = async () => {
      // A refused client sees its 503 during the 1 s it waits before sending a body, so it never writes into a
      // closed connection.
      const clients = Array.from({ length: 20 }, () => slowClient(ext.port, { path: '/prioritize', contentLength: 16 * MiB, firstChunk: 4 * MiB, trickleMs: 500, headWaitMs: 1000 }));
      await holding(ext.port, 8, 32 * MiB);
      const during = await ext.memory();
      expect((await get(ext.port, '/healthz')).status).toBe(200);
      const results = await Promise.all(clients.map((c) => c.done));
      const statuses = results.map((r) => statusOf(r.response)).sort();
      expect(results.every((r) => r.closedByServer)).toBe(true);
      // 408 is Node's answer when a request does not arrive within requestTimeout.
      expect(statuses).toEqual([...Array(8).fill(408), ...Array(12).fill(503)]);
      for (const r of results.filter((x) => statusOf(x.response) === 503)) expect(r.response).toMatch(/retry-after: 1/i);
      // Every admitted request gives back its slot and its bytes. The slot is released on the response's 'close'
      // event, which the server sees after the client has already seen its connection end, so wait (bounded) for it;
      // a leaked slot never comes back and fails here.
      await vi.waitFor(
        async () => {
          expect(await gauge(ext.port, 'wattsched_extender_requests_in_flight')).toBe(0);
          expect(await gauge(ext.port, 'wattsched_extender_buffered_request_bytes')).toBe(0);
        },
        { timeout: 10_000, interval: 50 },
      );
      return { during, after: await ext.memory() };
    };
    const first = await wave();
    const second = await wave();

    const mb = (n: number) => Math.round((n / MiB) * 10) / 10;
    console.log(
      `RSS MiB before ${mb(before.rss)}, wave 1 during ${mb(first.during.rss)} after ${mb(first.after.rss)}, wave 2 during ${mb(second.during.rss)} after ${mb(second.after.rss)}; ` +
        `Buffers (external) MiB before ${mb(before.external)}, during ${mb(first.during.external)}, after ${mb(first.after.external)}`,
    );
    // The held bodies are really in memory while the clients trickle (32 MiB of Buffers)...
    expect(first.during.external - before.external).toBeGreaterThan(30 * MiB);
    // ...and freed once they are cut off.
    expect(first.after.external - before.external).toBeLessThan(2 * MiB);
    expect(second.after.external - before.external).toBeLessThan(2 * MiB);
    // RSS is measured and printed above, not asserted: whether the allocator hands freed pages back to the OS, and
    // when, is its business, and between two waves RSS moved by 8 to 18 MiB here with no leak (Buffers back at
    // baseline). A leak of the held bodies is what the Buffer checks above catch.

    // The server serves normally afterwards.
    expect((await post(ext.port, '/prioritize', NAMES_BODY)).status).toBe(200);
  });

  test('a connection that never sends its headers is closed by the headers timeout', async () => {
    const ext = await startExtender({ serving: { requestTimeoutMs: 1500, headersTimeoutMs: 1000 } });
    const socket = connect({ port: ext.port, host: '127.0.0.1' });
    socket.on('connect', () => socket.write('POST /filter HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
    const closed = await new Promise<string>((resolve) => {
      let got = '';
      socket.on('data', (d) => (got += d.toString()));
      socket.on('error', () => {});
      socket.on('close', () => resolve(got));
    });
    expect(statusOf(closed)).toBe(408);
  });
});

describe('load shedding', () => {
  test('past maxConcurrentRequests a webhook gets 503 + Retry-After (filter keeps its result shape), health still answers, and slots come back', async () => {
    const ext = await startExtender({ serving: { requestTimeoutMs: 2000, headersTimeoutMs: 2000, maxConcurrentRequests: 3, retryAfterSeconds: 2 } });
    const holders = Array.from({ length: 3 }, () => slowClient(ext.port, { path: '/filter', contentLength: 1000, firstChunk: 10, trickleMs: 400, headWaitMs: 50 }));
    await holding(ext.port, 3, 0);

    const shed = await post(ext.port, '/filter', NAMES_BODY);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('2');
    const result = JSON.parse(shed.body) as { Error: string; NodeNames: unknown };
    expect(result.NodeNames).toBeNull();
    expect(result.Error).toMatch(/WS_ERR_OVERLOADED.*3 requests in flight/);
    expect((await post(ext.port, '/prioritize', NAMES_BODY)).status).toBe(503);
    expect((await get(ext.port, '/healthz')).status).toBe(200);
    expect((await get(ext.port, '/readyz')).status).toBe(200);

    const held = await Promise.all(holders.map((h) => h.done));
    expect(held.map((r) => statusOf(r.response))).toEqual([408, 408, 408]);
    // Slots are released on each response's 'close', which the server sees after the clients saw their 408s.
    await holding(ext.port, 0, 0);
    expect((await post(ext.port, '/prioritize', NAMES_BODY)).status).toBe(200);
    const metrics = (await get(ext.port, '/metrics')).body;
    expect(metrics).toMatch(/wattsched_extender_shed_total\{reason="concurrency"\} 2/);
  });

  test('a body that would take buffered bytes past maxBufferedBytes is refused before it is read', async () => {
    const ext = await startExtender({ bodyLimitBytes: 8 * MiB, serving: { requestTimeoutMs: 3000, maxBufferedBytes: 6 * MiB } });
    // One client holds 4 MiB of a declared 5 MiB; a second declaring 3 MiB would make 7 MiB > 6 MiB.
    const holder = slowClient(ext.port, { path: '/prioritize', contentLength: 5 * MiB, firstChunk: 4 * MiB, trickleMs: 500, headWaitMs: 20 });
    await holding(ext.port, 1, 4 * MiB);
    const big = await post(ext.port, '/prioritize', ' '.repeat(3 * MiB - NAMES_BODY.length) + NAMES_BODY);
    expect(big.status).toBe(503);
    expect(JSON.parse(big.body).error).toMatch(/maxBufferedBytes/);
    // A small one still fits.
    expect((await post(ext.port, '/prioritize', NAMES_BODY)).status).toBe(200);
    expect(statusOf((await holder.done).response)).toBe(408);
    expect((await post(ext.port, '/prioritize', ' '.repeat(3 * MiB - NAMES_BODY.length) + NAMES_BODY)).status).toBe(200);
  });

  test('a chunked body (no Content-Length) is counted as it arrives and refused when it passes maxBufferedBytes', async () => {
    const ext = await startExtender({ bodyLimitBytes: 8 * MiB, serving: { maxBufferedBytes: 2 * MiB } });
    const socket = connect({ port: ext.port, host: '127.0.0.1' });
    const got = new Promise<string>((resolve) => {
      let s = '';
      socket.on('data', (d) => (s += d.toString()));
      socket.on('error', () => resolve(s));
      socket.on('close', () => resolve(s));
    });
    socket.on('connect', () => {
      socket.write('POST /prioritize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = Buffer.alloc(512 * 1024, 0x20);
      for (let i = 0; i < 6; i++) socket.write(`${chunk.length.toString(16)}\r\n`), socket.write(chunk), socket.write('\r\n');
    });
    const raw = await got;
    expect(statusOf(raw)).toBe(503);
    expect(raw).toMatch(/maxBufferedBytes/);
  });

  test('a body over bodyLimitBytes gets 413 with a reason, declared or chunked', async () => {
    const ext = await startExtender({ bodyLimitBytes: 1 * MiB });
    const declared = slowClient(ext.port, { path: '/filter', contentLength: 2 * MiB, firstChunk: 0, trickleMs: 1000, headWaitMs: 2000 });
    const r = await declared.done;
    expect(statusOf(r.response)).toBe(413);
    expect(r.response).toMatch(/FST_ERR_CTP_BODY_TOO_LARGE/);
    const chunked = await fetch(`http://127.0.0.1:${ext.port}/prioritize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 3; i++) c.enqueue(new Uint8Array(512 * 1024).fill(0x20));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await post(ext.port, '/prioritize', NAMES_BODY)).status).toBe(200);
  });
});
