// Large request bodies are parsed off the main event loop: a small pool of worker threads (piscina) receives each
// body's bytes as a transferred buffer and returns the compact projection the scorer needs (args.ts). A 3 MB
// full-object body costs the main thread a structured-clone of a few hundred kilobytes instead of a synchronous
// parse and a heap full of Node objects, so health probes keep answering and major GCs stay small. Bounded: the
// admission caps (serving/admission.ts) limit how many bodies can be waiting, and the pool's own queue refuses
// past that as overload. Idle threads exit, so their heaps go back to the system after a burst.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { WS_ERR_OVERLOADED } from '../../shared/errors.js';
import { NamesCache, parseExtenderArgs, type ArgsResult } from './args.js';
import type { ParseJob } from './parse-worker.js';
import { workerScriptUrl } from '../../shared/worker-url.js';

/** Bodies at least this large go to a worker; smaller ones (names mode, small clusters) cost less than the hop. */
export const OFFLOAD_BYTES = 256 * 1024;

export interface ParsePoolOptions {
  /** Worker threads at most; default: one less than the CPUs, at least 1, at most 4. */
  threads?: number;
  /**
   * How long an idle thread lives, ms. A fresh thread needs a few hundred ms to load and warm up before its first
   * parse, so threads outlive the gaps between pods of a steady scheduling stream, then exit to give their heap back.
   */
  idleTimeoutMs?: number;
  /** Bodies waiting for a thread at most; past it a body is refused as overload. */
  maxQueue?: number;
}

export class ParsePool {
  private readonly pool: Piscina<ParseJob, ArgsResult>;
  private readonly names = new NamesCache();

  constructor(opts: ParsePoolOptions = {}) {
    const threads = opts.threads ?? Math.max(1, Math.min(4, availableParallelism() - 1));
    this.pool = new Piscina({ filename: workerScriptUrl(import.meta.url, 'parse-worker.js').href, minThreads: 0, maxThreads: threads, idleTimeout: opts.idleTimeoutMs ?? 30_000, maxQueue: opts.maxQueue ?? 64, recordTiming: false });
  }

  /**
   * Parses `body` inline when small, else in a worker. `keepBody`: the caller still needs the bytes (the
   * full-mode filter echoes them), so a copy is transferred instead of the body itself.
   */
  async parse(body: Buffer, echo: boolean, keepBody: boolean): Promise<ArgsResult> {
    if (body.length < OFFLOAD_BYTES) return parseExtenderArgs(body, echo, this.names);
    // Only a buffer that owns its whole ArrayBuffer can be transferred without taking bytes that are not its own.
    const owns = body.byteOffset === 0 && body.buffer.byteLength === body.length;
    const bytes = keepBody || !owns ? new Uint8Array(body) : new Uint8Array(body.buffer, 0, body.length);
    if (this.pool.queueSize >= this.pool.options.maxQueue) throw new WS_ERR_OVERLOADED(`${this.pool.queueSize} request bodies waiting to be parsed`);
    return this.pool.run({ bytes, echo }, { transferList: [bytes.buffer as ArrayBuffer] });
  }

  /** Threads currently alive (0 once idle threads have exited). */
  get threads(): number {
    return this.pool.threads.length;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
