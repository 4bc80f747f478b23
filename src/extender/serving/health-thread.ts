// Liveness and readiness served by a thread of their own, on a port of their own (serving.healthPort), so a probe
// is answered while the main event loop is busy, waiting for a CPU or paused by its garbage collector. The answer
// still means what a liveness probe means: the main loop beats a shared heartbeat (heartbeat.ts) every BEAT_MS,
// and past serving.maxLoopLagMs without a beat the thread answers 503. See docs/extender.md, "Health probes".
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ServerTimeouts } from '../../shared/http-limits.js';
import type { HealthIdentity } from './health-answer.js';
import type { LoopHeartbeat } from './heartbeat.js';
import type { HealthWorkerData } from './health-worker.js';
import { workerScriptUrl } from '../../shared/worker-url.js';

/** How often the main loop beats: small against any useful maxLoopLagMs, and a timer this rare costs nothing. */
export const BEAT_MS = 100;

export interface HealthThreadOptions {
  heartbeat: LoopHeartbeat;
  identity: HealthIdentity;
  port: number;
  host: string;
  timeouts: ServerTimeouts;
  /** The thread died after it started listening (probes then fail, and kubelet restarts the pod). */
  onError: (err: Error) => void;
}

export class HealthThread {
  private constructor(
    private readonly worker: Worker,
    /** The port it listens on (the one picked, when asked for 0). */
    readonly port: number,
  ) {}

  /** Resolves once the thread listens; rejects with the listen error (e.g. EADDRINUSE). */
  static async start(opts: HealthThreadOptions): Promise<HealthThread> {
    const data: HealthWorkerData = { heartbeat: opts.heartbeat.buffer, identity: opts.identity, port: opts.port, host: opts.host, timeouts: opts.timeouts };
    const worker = new Worker(workerScriptUrl(import.meta.url, 'health-worker.js'), { workerData: data });
    // once() rejects if 'error' comes first: a listen failure is thrown in the thread.
    const [{ port }] = (await once(worker, 'message')) as [{ port: number }];
    worker.on('error', opts.onError);
    return new HealthThread(worker, port);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
