// TLS for wattsched's HTTPS servers (the extender and the model server): the `tls` config block both take, and the
// Node https options built from it once at start-up.
import { readFileSync } from 'node:fs';
import type { ServerOptions as HttpsOptions } from 'node:https';
import Type, { type Static } from 'typebox';
import { WS_ERR_CONFIG_FILE, WS_ERR_CONFIG_INVALID } from './errors.js';

export const ServerTlsSchema = Type.Object(
  {
    certFile: Type.Optional(Type.String({ minLength: 1 })),
    keyFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Client certificates are asked for and checked against this CA; what they are needed for is each server's rule. */
    clientCAFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false, default: {} },
);
export type ServerTls = Static<typeof ServerTlsSchema>;

function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new WS_ERR_CONFIG_FILE(`${path} (${field})`, (err as Error).message);
  }
}

/**
 * HTTPS options when a certificate is configured, undefined for plain HTTP. With a client CA, `clientCerts`
 * 'required' refuses every connection without a certificate it signed (mTLS); 'requested' asks for one but lets
 * connections without it in, so the routes decide per request.
 */
export function httpsOptions(tls: ServerTls, clientCerts: 'required' | 'requested'): HttpsOptions | undefined {
  if (!tls.certFile && !tls.keyFile && !tls.clientCAFile) return undefined;
  if (!tls.certFile || !tls.keyFile) throw new WS_ERR_CONFIG_INVALID('  - tls: certFile and keyFile must be set together (tls.clientCAFile needs them)');
  const opts: HttpsOptions = { cert: readPem(tls.certFile, 'tls.certFile'), key: readPem(tls.keyFile, 'tls.keyFile') };
  if (tls.clientCAFile) Object.assign(opts, { ca: readPem(tls.clientCAFile, 'tls.clientCAFile'), requestCert: true, rejectUnauthorized: clientCerts === 'required' });
  return opts;
}
