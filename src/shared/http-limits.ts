// Timeouts every wattsched HTTP server gets. Node's own defaults let a client that sends headers and then one body
// byte every few seconds hold its connection, and the bytes it sent, for 300 s (requestTimeout), checked only every
// 30 s (connectionsCheckingInterval). Callers are machines on the same host or cluster that send a request in one go
// (kube-scheduler's extender client, Prometheus, the agent), so a request that has not fully arrived within seconds
// is not coming.
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { FastifyServerOptions } from 'fastify';
import Type, { type Static } from 'typebox';

export const ServerTimeoutsSchema = Type.Object(
  {
    /**
     * Headers and body must have arrived within this, or Node answers 408 and closes. 5 s is kube-scheduler's
     * default extender httpTimeout (DefaultExtenderTimeout): a request slower to send than that could not be
     * answered in time for the scheduler anyway.
     */
    requestTimeoutMs: Type.Integer({ minimum: 100, default: 5_000 }),
    /** Headers alone; at most requestTimeoutMs (Node refuses a larger value). */
    headersTimeoutMs: Type.Integer({ minimum: 100, default: 5_000 }),
    /**
     * Idle keep-alive connections are closed after this. Longer than Go's http.Transport IdleConnTimeout (90 s,
     * kept by client-go's SetTransportDefaults for the extender client), so the client always closes an idle
     * connection first and never sends a POST onto one the server is closing (Go does not retry a POST).
     */
    keepAliveTimeoutMs: Type.Integer({ minimum: 1_000, default: 95_000 }),
  },
  { additionalProperties: false, default: {} },
);
export type ServerTimeouts = Static<typeof ServerTimeoutsSchema>;

export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = { requestTimeoutMs: 5_000, headersTimeoutMs: 5_000, keepAliveTimeoutMs: 95_000 };

/** How often Node checks request and header deadlines; a slow client is cut at most this long after its deadline. */
const DEADLINE_CHECK_MS = 500;

/** The timeouts as node:http server options (for a server made without Fastify). */
export function nodeServerTimeouts(t: ServerTimeouts = DEFAULT_SERVER_TIMEOUTS) {
  return {
    headersTimeout: Math.min(t.headersTimeoutMs, t.requestTimeoutMs),
    requestTimeout: t.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(DEADLINE_CHECK_MS, t.requestTimeoutMs),
    keepAliveTimeout: t.keepAliveTimeoutMs,
  };
}

/**
 * Fastify constructor options that apply the timeouts, merged into the TLS options when serving HTTPS (Fastify then
 * passes those, not `http`, to the server constructor).
 */
export function serverTimeoutOptions(t: ServerTimeouts = DEFAULT_SERVER_TIMEOUTS, https?: HttpsOptions): Partial<FastifyServerOptions> & { https?: HttpsOptions } {
  const { keepAliveTimeout: _, ...node } = nodeServerTimeouts(t);
  return {
    requestTimeout: t.requestTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    ...(https ? { https: { ...https, ...node } } : { http: node }),
  } as Partial<FastifyServerOptions> & { https?: HttpsOptions };
}
