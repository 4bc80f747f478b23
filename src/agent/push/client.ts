// One POST /v1/samples to the model server, classified: acknowledged (on the server's disk), worth retrying with the
// same idempotency key (no answer, 5xx, 401, 429: it may or may not be stored), or refused for good (the batch
// itself is bad, or the server is full). node:http/https directly, because mTLS needs a client certificate per
// request, which Node's fetch cannot take without an extra dispatcher package.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { WS_ERR_CONFIG_FILE, WS_ERR_CONFIG_INVALID } from '../../shared/errors.js';
import { IDEMPOTENCY_KEY_HEADER, type SampleBatch } from '../../shared/wire/model.js';

export interface ClientOptions {
  url: string;
  tokenFile?: string | undefined;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  timeoutMs: number;
}

export type PushOutcome =
  | { kind: 'ack'; accepted: number; duplicate: boolean }
  | { kind: 'retry'; reason: string; status: number | null }
  | { kind: 'refused'; reason: string; status: number };

/** Pure: what an answer means for the batch. */
export function classify(status: number, body: string): PushOutcome {
  let parsed: { accepted?: unknown; duplicate?: unknown; error?: unknown; message?: unknown } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    parsed = {};
  }
  const reason = `HTTP ${status}${typeof parsed.error === 'string' ? ` ${parsed.error}` : ''}${typeof parsed.message === 'string' ? `: ${parsed.message}` : ''}`;
  if (status >= 200 && status < 300) {
    if (typeof parsed.accepted !== 'number') return { kind: 'retry', reason: `HTTP ${status} without an acknowledgement body`, status };
    return { kind: 'ack', accepted: parsed.accepted, duplicate: parsed.duplicate === true };
  }
  // The same body would get the same answer: a malformed batch (400), too large (413), a key reused with other
  // windows (422), or the server's caps (409, "not worth retrying until an operator acts").
  if (status === 400 || status === 409 || status === 413 || status === 422) return { kind: 'refused', reason, status };
  return { kind: 'retry', reason, status };
}

function readSecret(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new WS_ERR_CONFIG_FILE(`${path} (${field})`, (err as Error).message);
  }
}

export class ModelServerClient {
  private readonly endpoint: URL;
  private readonly token: string | null;
  private readonly agent: HttpAgent;

  constructor(private readonly opts: ClientOptions) {
    this.endpoint = new URL('/v1/samples', opts.url);
    this.token = opts.tokenFile === undefined ? null : readSecret(opts.tokenFile, 'push.tokenFile').toString('utf8').trim();
    if (this.token !== null && this.token.length === 0) throw new WS_ERR_CONFIG_INVALID(`  - push.tokenFile: ${opts.tokenFile} is empty`);
    if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) throw new WS_ERR_CONFIG_INVALID('  - push: certFile and keyFile go together');
    if (this.endpoint.protocol === 'https:') {
      this.agent = new HttpsAgent({
        keepAlive: true,
        ...(opts.caFile === undefined ? {} : { ca: readSecret(opts.caFile, 'push.caFile') }),
        ...(opts.certFile === undefined ? {} : { cert: readSecret(opts.certFile, 'push.certFile') }),
        ...(opts.keyFile === undefined ? {} : { key: readSecret(opts.keyFile, 'push.keyFile') }),
      });
    } else {
      if (opts.certFile !== undefined) throw new WS_ERR_CONFIG_INVALID('  - push: a client certificate needs an https:// url');
      this.agent = new HttpAgent({ keepAlive: true });
    }
    if (this.token === null && opts.certFile === undefined) throw new WS_ERR_CONFIG_INVALID('  - push: the model server needs push.tokenFile or push.certFile/keyFile');
  }

  get url(): string {
    return this.endpoint.href;
  }

  /** Never throws: every failure is an outcome. */
  post(batch: SampleBatch, key: string): Promise<PushOutcome> {
    const body = JSON.stringify(batch);
    const send = this.endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<PushOutcome>((resolve) => {
      const req = send(
        this.endpoint,
        {
          method: 'POST',
          agent: this.agent,
          // The whole exchange, not only an idle socket: a server that trickles bytes is as down as one that is silent.
          signal: AbortSignal.timeout(this.opts.timeoutMs),
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            [IDEMPOTENCY_KEY_HEADER]: key,
            ...(this.token === null ? {} : { authorization: `Bearer ${this.token}` }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(classify(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
          res.on('error', (err) => resolve({ kind: 'retry', reason: err.message, status: null }));
        },
      );
      req.on('error', (err) => resolve({ kind: 'retry', reason: err.name === 'AbortError' ? `no answer within ${this.opts.timeoutMs} ms` : err.message, status: null }));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
