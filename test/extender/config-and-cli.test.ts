import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ExtenderConfigSchema } from '../../src/shared/config/extender.js';
import { envOverrides, loadConfig } from '../../src/shared/config/load.js';

const CLI = join(import.meta.dirname, '../../dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'wattsched-ext-'));

describe('configuration', () => {
  test('defaults are the documented ones', () => {
    const c = loadConfig(ExtenderConfigSchema);
    expect(c).toMatchObject({ port: 8888, filterVerb: 'filter', prioritizeVerb: 'prioritize', preemptVerb: 'preempt', urlPrefix: '', bodyLimitBytes: 64 * 1024 * 1024 });
    expect(Object.isFrozen(c.powerCurves)).toBe(true);
  });

  test('file < env < flags, env names nest with __ and convert to the schema type', () => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'port: 1000\nhost: 127.0.0.1\ntls:\n  certFile: /from/file\n');
    const c = loadConfig(ExtenderConfigSchema, {
      file,
      env: { WATTSCHED_EXTENDER_PORT: '2000', WATTSCHED_EXTENDER_TLS__KEY_FILE: '/from/env', WATTSCHED_EXTENDER_BODY_LIMIT_BYTES: '4096' },
      envPrefix: 'WATTSCHED_EXTENDER_',
      flags: { port: 3000 },
    });
    expect(c.port).toBe(3000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.bodyLimitBytes).toBe(4096);
    expect(c.tls).toEqual({ certFile: '/from/file', keyFile: '/from/env' });
  });

  test('every bad field is named, all at once', () => {
    const err = (() => {
      try {
        loadConfig(ExtenderConfigSchema, { flags: { port: 70000, filterVerb: 'a/b', powerCurves: { default: [1, 2, 3] }, nope: 1 } });
      } catch (e) {
        return e as Error & { code: string };
      }
      throw new Error('expected a config error');
    })();
    expect(err.code).toBe('WS_ERR_CONFIG_INVALID');
    expect(err.message).toMatch(/port: must be <= 65535/);
    expect(err.message).toMatch(/filterVerb: must match pattern/);
    expect(err.message).toMatch(/powerCurves\.default: must not have fewer than 11 items/);
    expect(err.message).toMatch(/nope/);
  });

  test('JSON values in the environment become structures', () => {
    expect(envOverrides({ X_NODES: '[{"name":"a"}]', X_A__B_C: 'v', OTHER: '1' }, 'X_')).toEqual({ nodes: [{ name: 'a' }], a: { bC: 'v' } });
  });
});

function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /"address":"([^"]+)"/.exec(err);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`extender exited ${code}: ${err}`)));
  });
}

describe('the wattsched CLI', () => {
  test('a bad flag is a usage error naming it, exit 2', () => {
    let out = '';
    let status = 0;
    try {
      execFileSync('node', [CLI, 'extender', '--port', 'eighty'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      const x = e as { status: number; stderr: string };
      status = x.status;
      out = x.stderr;
    }
    expect(status).toBe(2);
    expect(out).toMatch(/WS_ERR_USAGE: --port must be an integer/);
  });

  test('a bad config file value is reported with its field, exit 2', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'nodes:\n  - name: a\n    allocatableMilliCPU: -4\n');
    let out = '';
    try {
      execFileSync('node', [CLI, 'extender', '--config', file], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      out = (e as { stderr: string }).stderr;
    }
    expect(out).toMatch(/WS_ERR_CONFIG_INVALID/);
    expect(out).toMatch(/nodes\.0\.allocatableMilliCPU: must be >= 1/);
  });

  test('unknown command lists the commands', () => {
    let out = '';
    try {
      execFileSync('node', [CLI, 'frobnicate'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      out = (e as { stderr: string }).stderr;
    }
    expect(out).toMatch(/unknown command 'frobnicate'/);
    expect(out).toMatch(/extender/);
  });
});

describe('HTTPS with client certificates (enableHTTPS + mTLS)', () => {
  const pki = join(dir, 'pki');
  let child: ChildProcess;
  let port = 0;
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });

  beforeAll(async () => {
    execFileSync('mkdir', ['-p', pki]);
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=wattsched-test-ca');
    for (const who of ['server', 'client']) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? 'localhost' : 'kube-scheduler'}`);
      writeFileSync(join(pki, `${who}.ext`), who === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '1', '-extfile', `${who}.ext`);
    }
    const cfg = join(dir, 'tls.yaml');
    writeFileSync(cfg, `kubernetes: {mode: off}\ntls:\n  certFile: ${pki}/server.crt\n  keyFile: ${pki}/server.key\n  clientCAFile: ${pki}/ca.crt\n`);
    child = spawn('node', [CLI, 'extender', '--config', cfg, '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    port = Number(new URL(await waitForListening(child)).port);
  });
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  const call = (withClientCert: boolean) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const agent = new Agent({
        ca: readFileSync(join(pki, 'ca.crt')),
        ...(withClientCert ? { cert: readFileSync(join(pki, 'client.crt')), key: readFileSync(join(pki, 'client.key')) } : {}),
      });
      const req = request({ host: '127.0.0.1', servername: 'localhost', port, path: '/prioritize', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ Pod: {}, NodeNames: ['a'], Nodes: null }));
    });

  test('a client with a certificate from the CA is served', async () => {
    const res = await call(true);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual([{ Host: 'a', Score: 0 }]);
  });

  test('a client without a certificate is refused at the handshake', async () => {
    await expect(call(false)).rejects.toThrow();
  });
});
