// The TLS options both HTTPS servers build from their `tls` block: plain HTTP without one, a certificate and key
// always as a pair, unreadable files named with their field, and the client CA's two modes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { httpsOptions } from '../../src/shared/server-tls.js';

// httpsOptions reads the files and leaves parsing them to Node, so any bytes stand in for PEM here.
const dir = mkdtempSync(join(tmpdir(), 'wattsched-tls-'));
const file = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, name);
  return path;
};
const [cert, key, ca] = [file('cert'), file('key'), file('ca')];
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('httpsOptions', () => {
  test('no tls block: plain HTTP', () => {
    expect(httpsOptions({}, 'required')).toBeUndefined();
  });

  test.for([
    ['certificate without key', { certFile: cert }],
    ['key without certificate', { keyFile: key }],
    ['client CA alone', { clientCAFile: ca }],
  ] as const)('%s: refused as invalid config', ([, tls]) => {
    expect(() => httpsOptions(tls, 'required')).toThrow(expect.objectContaining({ code: 'WS_ERR_CONFIG_INVALID' }));
  });

  test('an unreadable file is a config-file error naming the path and the field', () => {
    expect(() => httpsOptions({ certFile: cert, keyFile: join(dir, 'absent') }, 'required')).toThrow(expect.objectContaining({ code: 'WS_ERR_CONFIG_FILE', message: expect.stringContaining(`${join(dir, 'absent')} (tls.keyFile)`) }));
  });

  test('certificate and key, no client CA: no client certificates asked for', () => {
    const o = httpsOptions({ certFile: cert, keyFile: key }, 'required');
    expect(o).toEqual({ cert: Buffer.from('cert'), key: Buffer.from('key') });
  });

  test.for([
    ['required', true],
    ['requested', false],
  ] as const)('client CA, %s: client certificates asked for, rejectUnauthorized %s', ([mode, reject]) => {
    expect(httpsOptions({ certFile: cert, keyFile: key, clientCAFile: ca }, mode)).toEqual({ cert: Buffer.from('cert'), key: Buffer.from('key'), ca: Buffer.from('ca'), requestCert: true, rejectUnauthorized: reject });
  });
});
