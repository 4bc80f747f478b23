// The shared server timeouts (src/shared/http-limits.ts) reach the Node server Fastify builds, over HTTP and HTTPS,
// and the extender applies its serving.* settings through them.
import type { Server } from 'node:http';
import Fastify from 'fastify';
import { describe, expect, test } from 'vitest';
import { DEFAULT_SERVER_TIMEOUTS, serverTimeoutOptions } from '../../src/shared/http-limits.js';
import { makeApp } from './helpers.js';

const timeouts = (s: Server) => ({ requestTimeout: s.requestTimeout, headersTimeout: s.headersTimeout, keepAliveTimeout: s.keepAliveTimeout });

describe('server timeouts', () => {
  test('defaults: 5 s to receive a request (kube-scheduler default httpTimeout), idle keep-alive past Go’s 90 s', async () => {
    const app = Fastify(serverTimeoutOptions());
    expect(timeouts(app.server)).toEqual({ requestTimeout: 5000, headersTimeout: 5000, keepAliveTimeout: 95_000 });
    expect(DEFAULT_SERVER_TIMEOUTS.keepAliveTimeoutMs).toBeGreaterThan(90_000);
    await app.close();
  });

  test('HTTPS servers get them through the TLS options; headersTimeout never exceeds requestTimeout', async () => {
    const app = Fastify(serverTimeoutOptions({ requestTimeoutMs: 2000, headersTimeoutMs: 9000, keepAliveTimeoutMs: 1000 }, {}));
    expect(app.server.constructor.name).toBe('Server');
    expect('setSecureContext' in app.server).toBe(true);
    expect(timeouts(app.server as unknown as Server)).toEqual({ requestTimeout: 2000, headersTimeout: 2000, keepAliveTimeout: 1000 });
    await app.close();
  });

  test('the extender applies serving.*', async () => {
    const app = await makeApp({ serving: { requestTimeoutMs: 3000, headersTimeoutMs: 1500, keepAliveTimeoutMs: 120_000 } });
    expect(timeouts(app.server)).toEqual({ requestTimeout: 3000, headersTimeout: 1500, keepAliveTimeout: 120_000 });
    await app.close();
  });
});
