// The Redfish meter against a real HTTPS server on loopback (a certificate made for the test by openssl): discovery,
// both power resources, basic auth, certificate checks; then backoff and staleness with a scripted getter and fake
// timers, so no assertion depends on how fast this machine is.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { RedfishMeter, type RedfishOptions, parseCredentials, wattsOf } from '../../src/agent/meter/redfish.js';

const dir = mkdtempSync(join(tmpdir(), 'wattsched-t9-redfish-'));
let server: Server;
let port = 0;
/** What the fake BMC serves, by path; anything else is 404. */
let routes: Record<string, unknown> = {};
const AUTH = `Basic ${Buffer.from('admin:s3cr:et').toString('base64')}`;

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'creds'), 'admin:s3cr:et\n');
  const { readFileSync } = await import('node:fs');
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    if (req.headers.authorization !== AUTH) return res.writeHead(401).end();
    const body = routes[req.url ?? ''];
    if (body === undefined) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const opts = (over: Partial<RedfishOptions> = {}): RedfishOptions => ({
  url: `https://127.0.0.1:${port}`,
  credentialsFile: join(dir, 'creds'),
  caFile: join(dir, 'cert.pem'),
  insecure: false,
  timeoutMs: 2000,
  periodMs: 60_000,
  maxBackoffMs: 60_000,
  staleAfterMs: 120_000,
  ...over,
});

describe('Redfish parsing', () => {
  test.each([
    ['user:pass', { username: 'user', password: 'pass' }],
    ['admin:s3cr:et\n', { username: 'admin', password: 's3cr:et' }],
    ['{"username":"u","password":"p"}', { username: 'u', password: 'p' }],
  ])('credentials %j', (text, want) => expect(parseCredentials(text)).toEqual(want));
  test('credentials without a user are refused', () => expect(() => parseCredentials(':x')).toThrow(/neither/));
  test.each([
    [{ PowerWatts: { Reading: 412.5 } }, 412.5],
    [{ PowerControl: [{ PowerConsumedWatts: 388 }] }, 388],
    [{ PowerControl: [{ PowerConsumedWatts: null }] }, null],
    [{ PowerWatts: { Reading: -1 } }, null],
    [{}, null],
  ])('watts of %j', (body, want) => expect(wattsOf(body)).toBe(want));
});

describe('RedfishMeter over HTTPS', () => {
  test('discovers the chassis, reads EnvironmentMetrics, with basic auth and the CA file', async () => {
    routes = { '/redfish/v1/Chassis': { Members: [{ '@odata.id': '/redfish/v1/Chassis/1U' }] }, '/redfish/v1/Chassis/1U/EnvironmentMetrics': { PowerWatts: { Reading: 412.5 } } };
    const o = await RedfishMeter.open(opts());
    if (!('meter' in o)) throw new Error(o.unavailable.reason);
    expect([o.meter.source, o.meter.platform]).toEqual(['redfish', true]);
    expect(await o.meter.read({ monotonicNs: 0, cpuUtilisation: 0 })).toEqual({ source: 'redfish', watts: 412.5, zones: [{ zone: 'platform', watts: 412.5, inTotal: true }] });
    await o.meter.close();
  });

  test('falls back to the older Power resource', async () => {
    routes = { '/redfish/v1/Chassis/7/Power': { PowerControl: [{ PowerConsumedWatts: 388 }] } };
    const o = await RedfishMeter.open(opts({ chassis: '/redfish/v1/Chassis/7' }));
    if (!('meter' in o)) throw new Error(o.unavailable.reason);
    expect((await o.meter.read({ monotonicNs: 0, cpuUtilisation: 0 })).watts).toBe(388);
    await o.meter.close();
  });

  test('a wrong password, an unknown certificate, a missing credentials file: unavailable with the reason', async () => {
    routes = { '/redfish/v1/Chassis/1/Power': { PowerControl: [{ PowerConsumedWatts: 1 }] } };
    writeFileSync(join(dir, 'wrong'), 'admin:nope');
    expect(await RedfishMeter.open(opts({ credentialsFile: join(dir, 'wrong') }))).toMatchObject({ unavailable: { reason: expect.stringMatching(/HTTP 401/) } });
    expect(await RedfishMeter.open(opts({ caFile: undefined, chassis: '/redfish/v1/Chassis/1' }))).toMatchObject({ unavailable: { reason: expect.stringMatching(/self[- ]signed certificate/) } });
    const insecure = await RedfishMeter.open(opts({ caFile: undefined, insecure: true, chassis: '/redfish/v1/Chassis/1' }));
    expect('meter' in insecure).toBe(true);
    if ('meter' in insecure) await insecure.meter.close();
    expect(await RedfishMeter.open(opts({ credentialsFile: join(dir, 'absent') }))).toMatchObject({ unavailable: { reason: expect.stringMatching(/ENOENT/) } });
  });
});

describe('RedfishMeter polling', () => {
  test('failed polls back off (doubling up to the cap); a stale reading fails the meter with the last error', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const calls: number[] = [];
      let ok = true;
      const get = async (path: string) => {
        calls.push(performance.now());
        if (!ok) throw new Error('GET: HTTP 503');
        return path.endsWith('/EnvironmentMetrics') ? { PowerWatts: { Reading: 300 } } : {};
      };
      const o = await RedfishMeter.open(opts({ chassis: '/redfish/v1/Chassis/1', periodMs: 1000, maxBackoffMs: 4000, staleAfterMs: 5000 }), get);
      if (!('meter' in o)) throw new Error(o.unavailable.reason);
      const start = calls.length; // the opening read
      ok = false;
      // Polls at +1 s (fails), then +2 s, +4 s, +4 s (capped): at 1, 3, 7 and 11 s.
      await vi.advanceTimersByTimeAsync(11_000);
      expect(calls.slice(start).map((t) => Math.round(t - (calls[start - 1] as number)))).toEqual([1000, 3000, 7000, 11000]);
      // The reading from the opening (t = 0) is 11 s old: older than 5 s, so the meter fails and says why.
      await expect(o.meter.read({ monotonicNs: 0, cpuUtilisation: 0 })).rejects.toThrow(/redfish reading 11000 ms old \(GET: HTTP 503\)/);
      ok = true;
      await vi.advanceTimersByTimeAsync(4000);
      expect((await o.meter.read({ monotonicNs: 0, cpuUtilisation: 0 })).watts).toBe(300);
      await o.meter.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
