// GET /v1/models/{fingerprint} on `wattsched model-server`, as the agent and the extender both ask it: the step of
// the server's fallback chain that answered, and optionally the ONNX file. Reads are unauthenticated on the server
// (only mutating routes need a credential). Every way the answer can be unusable (no answer in time, a non-200, a
// body over the cap, not JSON, not the schema, an ONNX file missing or not base64) is one typed error with a reason,
// so callers fall through to their next model source and say why.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Compile } from 'typebox/compile';
import { WS_ERR_MODEL_SERVER } from './errors.js';
import { ModelResolutionSchema, type ModelResolution } from './wire/model.js';

export interface ModelFetchOptions {
  timeoutMs: number;
  /** Largest answer read; a shipped model is a few hundred KB of base64. */
  maxBytes?: number;
  /** That exact version of that exact fingerprint (no fallback chain), e.g. the one a `meta` lookup named. */
  version?: number;
}

export interface FetchedModel {
  resolution: ModelResolution;
  /** Present when asked for with include 'onnx'. */
  onnx?: Uint8Array;
}

const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
const checkResolution = Compile(ModelResolutionSchema);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * One GET over node:http(s): the agent would otherwise load fetch's HTTP stack (undici, ~10 MiB resident) for a
 * request every few minutes.
 */
function get(url: URL, timeoutMs: number, maxBytes: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'GET', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        res.destroy();
        reject(new Error(`answer of ${declared} bytes is over the ${maxBytes}-byte cap`));
        return;
      }
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (chunk: Buffer) => {
        n += chunk.byteLength;
        if (n > maxBytes) {
          res.destroy();
          reject(new Error(`answer over the ${maxBytes}-byte cap`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function fetchModel(baseUrl: string, fingerprint: string, include: 'meta' | 'onnx', opts: ModelFetchOptions): Promise<FetchedModel> {
  const version = opts.version === undefined ? '' : `&version=${opts.version}`;
  const url = new URL(`/v1/models/${encodeURIComponent(fingerprint)}?include=${include}${version}`, baseUrl);
  try {
    const res = await get(url, opts.timeoutMs, opts.maxBytes ?? DEFAULT_MAX_BYTES);
    const text = res.text;
    if (res.status !== 200) {
      let message = '';
      try {
        const b = JSON.parse(text) as { message?: unknown };
        if (typeof b.message === 'string') message = `: ${b.message.slice(0, 200)}`;
      } catch {
        // a non-JSON error body says nothing more than its status
      }
      throw new Error(`HTTP ${res.status}${message}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error('answer is not JSON');
    }
    if (!checkResolution.Check(body)) {
      const first = [...checkResolution.Errors(body)][0];
      throw new Error(`answer is not a model resolution (${first ? `${first.instancePath || '/'} ${first.message}` : 'schema mismatch'})`);
    }
    const resolution = body as ModelResolution;
    if (include === 'meta') return { resolution };
    const b64 = resolution.onnxBase64;
    if (b64 === undefined || b64.length === 0 || !BASE64.test(b64)) throw new Error('answer has no ONNX file (onnxBase64 missing or not base64)');
    return { resolution, onnx: new Uint8Array(Buffer.from(b64, 'base64')) };
  } catch (err) {
    const e = err as Error;
    // An aborted request reports AbortError whose cause is the signal's TimeoutError.
    const timedOut = e.name === 'TimeoutError' || (e.cause as Error | undefined)?.name === 'TimeoutError';
    const why = timedOut ? `no answer within ${opts.timeoutMs} ms` : e.message;
    throw new WS_ERR_MODEL_SERVER(url.origin, fingerprint, why);
  }
}
