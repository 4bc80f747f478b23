// Load shedding for the webhook routes. A request is admitted only while fewer than maxConcurrentRequests are in
// flight and the bytes held by all admitted bodies stay under maxBufferedBytes; past either, it is answered 503 with
// Retry-After at once (before its body is read) and its connection closed. Bodies are parsed and answered one per
// event-loop turn, so the I/O between them, /healthz and /readyz included, waits for at most one request's work
// instead of for every body that happened to finish in the same turn.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WS_ERR_OVERLOADED } from '../../shared/errors.js';

export interface AdmissionLimits {
  maxConcurrentRequests: number;
  maxBufferedBytes: number;
}

export type ShedReason = 'concurrency' | 'buffered_bytes';

declare module 'fastify' {
  interface FastifyRequest {
    /** Body bytes this request holds against serving.maxBufferedBytes. */
    heldBytes: number;
  }
}

/** Runs jobs one per event-loop turn (setImmediate between them), in arrival order. */
export class TurnQueue {
  private readonly jobs: Array<() => void> = [];
  private scheduled = false;

  push(job: () => void): void {
    this.jobs.push(job);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.next);
    }
  }

  private readonly next = (): void => {
    const job = this.jobs.shift();
    if (this.jobs.length > 0) setImmediate(this.next);
    else this.scheduled = false;
    job?.();
  };
}

export interface AdmissionEvents {
  shed(reason: ShedReason): void;
  /** Called whenever the admitted requests or their held bytes change. */
  changed(inFlight: number, bufferedBytes: number): void;
}

/** Adds the admission hooks to `app`'s scope (call it inside the webhook plugin so health routes stay outside). */
export function installAdmission(app: FastifyInstance, limits: AdmissionLimits, events: AdmissionEvents): void {
  let inFlight = 0;
  let buffered = 0;
  const onShed = events.shed;

  const refuse = (reason: ShedReason, why: string): never => {
    onShed(reason);
    throw new WS_ERR_OVERLOADED(why);
  };

  app.decorateRequest('heldBytes', 0);
  app.addHook('onRequest', async (req: FastifyRequest, reply) => {
    if (inFlight >= limits.maxConcurrentRequests) refuse('concurrency', `${inFlight} requests in flight (serving.maxConcurrentRequests ${limits.maxConcurrentRequests})`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > 0 && buffered + declared > limits.maxBufferedBytes) {
      refuse('buffered_bytes', `a ${declared}-byte body would take buffered request bodies past serving.maxBufferedBytes (${limits.maxBufferedBytes}; ${buffered} held)`);
    }
    inFlight += 1;
    events.changed(inFlight, buffered);
    // 'close' fires once the response is sent or the connection dies (client gone, request timeout), so every
    // admitted request gives its slot and bytes back exactly once.
    reply.raw.once('close', () => {
      inFlight -= 1;
      buffered -= req.heldBytes;
      req.heldBytes = 0;
      events.changed(inFlight, buffered);
    });
  });

  // Counts body bytes as they arrive: a body without Content-Length, or one that lied, is still bounded. A listener
  // on the body stream itself rather than a Transform piped in front of it: building and piping a stream per
  // request cost about a tenth of a names-mode call. The stream is paused until Fastify's body reader listens and
  // resumes it, so every chunk reaches this counter first; past the cap the stream reports the error to that reader
  // as a failing preParsing stream would, and the request gets 503.
  app.addHook('preParsing', async (req, _reply, payload) => {
    const count = (chunk: Buffer): void => {
      buffered += chunk.length;
      req.heldBytes += chunk.length;
      events.changed(inFlight, buffered);
      if (buffered <= limits.maxBufferedBytes) return;
      payload.removeListener('data', count);
      // The body reader listens for errors until it has the whole body or has refused it (bodyLimit); once it has
      // refused it nobody holds what still arrives, and an error with no listener would throw.
      if (payload.listenerCount('error') === 0) return;
      onShed('buffered_bytes');
      payload.emit('error', new WS_ERR_OVERLOADED(`buffered request bodies passed serving.maxBufferedBytes (${limits.maxBufferedBytes})`));
    };
    payload.on('data', count);
    payload.pause();
    return payload;
  });
}
