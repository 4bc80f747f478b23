// Who may change the model server's state. Reads (models, health, metrics) are open: agents and probes fetch
// models without credentials. Every other method (uploads, pin, rollback, retrain, Prometheus pull) needs a bearer
// token equal to the configured one, or a TLS client certificate that verified against tls.clientCAFile.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { ModelServerConfig } from '../../shared/config/model-server.js';
import { WS_ERR_CONFIG_FILE, WS_ERR_CONFIG_INVALID, WS_ERR_MODEL_AUTH } from '../../shared/errors.js';

export interface AuthPolicy {
  /** sha256 of the token: compared in constant time, and the token itself is not kept. */
  tokenDigest: Buffer | null;
  clientCertificates: boolean;
  open: boolean;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Resolved once at start; a server that would accept anyone's writes refuses to start unless told to. */
export function resolveAuth(config: Readonly<ModelServerConfig>): AuthPolicy {
  const { auth, tls } = config;
  let token = auth.token ?? null;
  if (auth.tokenFile) {
    try {
      token = readFileSync(auth.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new WS_ERR_CONFIG_FILE(`${auth.tokenFile} (auth.tokenFile)`, (err as Error).message);
    }
    if (token.length < 16) throw new WS_ERR_CONFIG_INVALID(`  - auth.tokenFile: the token in ${auth.tokenFile} is shorter than 16 characters`);
  }
  const policy: AuthPolicy = { tokenDigest: token === null ? null : digest(token), clientCertificates: Boolean(tls.clientCAFile), open: auth.allowUnauthenticated };
  if (!policy.tokenDigest && !policy.clientCertificates && !policy.open) {
    throw new WS_ERR_CONFIG_INVALID('  - auth: set auth.tokenFile (or auth.token) and/or tls.clientCAFile so that only agents can upload samples and change models (auth.allowUnauthenticated: true turns this off)');
  }
  return policy;
}

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Throws WS_ERR_MODEL_AUTH (401) for a mutating request without valid credentials. */
export function authorise(policy: AuthPolicy, req: FastifyRequest): void {
  if (policy.open || READ_ONLY.has(req.method)) return;
  if (policy.clientCertificates && (req.raw.socket as TLSSocket).authorized === true) return;
  const header = req.headers.authorization;
  if (policy.tokenDigest && typeof header === 'string') {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (m && timingSafeEqual(digest(m[1] as string), policy.tokenDigest)) return;
    throw new WS_ERR_MODEL_AUTH('the bearer token does not match');
  }
  throw new WS_ERR_MODEL_AUTH(`${req.method} ${req.routeOptions.url ?? req.url} needs ${[policy.tokenDigest ? 'an Authorization: Bearer token' : '', policy.clientCertificates ? 'a client certificate signed by the configured CA' : ''].filter(Boolean).join(' or ')}`);
}
