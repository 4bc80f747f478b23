// The agent's side of the model server's training data: every report goes through the window builder, finished
// windows wait in a bounded queue (the oldest are dropped and counted when the server is away), and a timer sends
// them in batches. A batch gets its idempotency key when it is cut from the queue and keeps key and body until the
// server acknowledges or refuses it, so a retry after a lost acknowledgement is stored once.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { METRICS } from '../../shared/names.js';
import type { NodeReport } from '../../shared/wire/agent.js';
import type { SampleBatch, SampleWindow } from '../../shared/wire/model.js';
import type { PushOutcome } from './client.js';
import { SKIP_REASONS, WindowBuilder } from './window.js';
import { totalsCounter } from '../../shared/totals-counter.js';

export interface PusherOptions {
  client: { post(batch: SampleBatch, key: string): Promise<PushOutcome> };
  fingerprint: string;
  hardware: NonNullable<SampleBatch['hardware']>;
  node: string;
  windowSeconds: number;
  gpuModelKnown: boolean;
  intervalMs: number;
  batchSize: number;
  maxQueuedWindows: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  log?: Logger;
  /** Jitter source, 0..1 (tests pin it). */
  random?: () => number;
  /** Names this process's batches; default a random UUID, so keys never repeat across restarts. */
  runId?: string;
}

export interface PushStats {
  windowsMade: number;
  acknowledged: number;
  duplicates: number;
  droppedOverflow: number;
  droppedRefused: number;
  requestsOk: number;
  requestsRetry: number;
  requestsRefused: number;
}

/** Pure: the delay before retry number `attempt` (1, 2, ...): doubling from `initial`, capped, with jitter in [½, 1]. */
export function backoffMs(attempt: number, initial: number, max: number, random: number): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(30, attempt - 1));
  return Math.round(ceiling * (0.5 + random / 2));
}

export class Pusher {
  readonly stats: PushStats = { windowsMade: 0, acknowledged: 0, duplicates: 0, droppedOverflow: 0, droppedRefused: 0, requestsOk: 0, requestsRetry: 0, requestsRefused: 0 };
  private readonly builder: WindowBuilder;
  private queue: SampleWindow[] = [];
  private pending: { key: string; batch: SampleBatch } | null = null;
  private seq = 0;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> | null = null;
  private readonly runId: string;
  private warnedEstimated = false;

  constructor(private readonly opts: PusherOptions) {
    this.builder = new WindowBuilder(opts.windowSeconds, opts.gpuModelKnown);
    this.runId = opts.runId ?? randomUUID();
  }

  get queued(): number {
    return this.queue.length + (this.pending?.batch.windows.length ?? 0);
  }

  get skippedIntervals(): ReadonlyMap<string, number> {
    return this.builder.skipped;
  }

  /** Called with every report the monitor publishes. */
  offer(report: NodeReport): void {
    const before = this.builder.skipped.get('estimated') ?? 0;
    const w = this.builder.add(report);
    if (!this.warnedEstimated && (this.builder.skipped.get('estimated') ?? 0) > before) {
      this.warnedEstimated = true;
      this.opts.log?.warn({ fingerprint: this.opts.fingerprint }, 'node watts are the model estimate, not a meter: no windows are sent to the model server while that lasts');
    }
    if (w === null) return;
    this.stats.windowsMade += 1;
    this.queue.push(w);
    const over = this.queue.length - this.opts.maxQueuedWindows;
    if (over > 0) {
      this.queue.splice(0, over);
      this.stats.droppedOverflow += over;
    }
  }

  /** Sends batches until the queue is empty (true) or one must be retried later (false). */
  async flush(): Promise<boolean> {
    for (;;) {
      if (this.pending === null) {
        if (this.queue.length === 0) return true;
        const windows = this.queue.splice(0, this.opts.batchSize);
        this.seq += 1;
        // Printable ASCII without spaces, ≤ 200 characters: the server's Idempotency-Key rule.
        const key = `${this.opts.node.replace(/[^\x21-\x7e]/g, '_').slice(0, 100)}/${this.runId}/${this.seq}`;
        this.pending = { key, batch: { fingerprint: this.opts.fingerprint, hardware: this.opts.hardware, node: this.opts.node.slice(0, 253), windows } };
      }
      const { key, batch } = this.pending;
      const out = await this.opts.client.post(batch, key);
      if (out.kind === 'retry') {
        this.stats.requestsRetry += 1;
        this.attempts += 1;
        this.opts.log?.warn({ key, status: out.status, reason: out.reason, attempt: this.attempts, queued: this.queued }, 'model server upload failed; retrying with the same key');
        return false;
      }
      this.attempts = 0;
      this.pending = null;
      if (out.kind === 'refused') {
        this.stats.requestsRefused += 1;
        this.stats.droppedRefused += batch.windows.length;
        this.opts.log?.error({ key, status: out.status, reason: out.reason, windows: batch.windows.length }, 'model server refused the batch; dropped');
        continue;
      }
      this.stats.requestsOk += 1;
      if (out.duplicate) this.stats.duplicates += 1;
      this.stats.acknowledged += batch.windows.length;
      this.opts.log?.debug({ key, windows: batch.windows.length, duplicate: out.duplicate }, 'windows acknowledged by the model server');
    }
  }

  /** Uploads every intervalMs, or after the backoff while a batch is being retried. */
  start(): void {
    this.running = true;
    const schedule = (ms: number): void => {
      if (this.running) this.timer = setTimeout(run, ms);
    };
    const run = (): void => {
      this.inFlight = this.flush().then(
        (drained) => schedule(drained ? this.opts.intervalMs : backoffMs(this.attempts, this.opts.initialBackoffMs, this.opts.maxBackoffMs, (this.opts.random ?? Math.random)())),
        (err: unknown) => {
          this.opts.log?.error({ err }, 'model server upload loop failed');
          schedule(this.opts.intervalMs);
        },
      );
    };
    schedule(this.opts.intervalMs);
  }

  /** Stops the timer and waits for an upload in progress (bounded by the client's timeout). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.inFlight;
  }

  /** wattsched_agent_push_* on the agent's registry. */
  register(reg: Registry): void {
    const M = METRICS.agent;
    const stats = this.stats;
    totalsCounter({
      name: M.pushWindows,
      help: 'Windows for the model server by outcome: made, acknowledged, dropped_overflow (queue full), dropped_refused (a 4xx the same body would get again).',
      registry: reg,
      labelName: 'result',
      read: () => ({ made: stats.windowsMade, acknowledged: stats.acknowledged, dropped_overflow: stats.droppedOverflow, dropped_refused: stats.droppedRefused }),
    });
    const skipped = this.builder.skipped;
    totalsCounter({
      name: M.pushSkippedIntervals,
      help: 'Intervals not sent to the model server: estimated (the watts are the model estimate, no meter), no_power, source_changed, gpu_model_unknown.',
      registry: reg,
      labelName: 'reason',
      read: () => Object.fromEntries(SKIP_REASONS.map((r) => [r, skipped.get(r) ?? 0])),
    });
    totalsCounter({
      name: M.pushRequests,
      help: 'Uploads to the model server by result: ok (acknowledged, duplicates included), retry, refused.',
      registry: reg,
      labelName: 'result',
      read: () => ({ ok: stats.requestsOk, retry: stats.requestsRetry, refused: stats.requestsRefused }),
    });
    const self = this;
    new Gauge({ name: M.pushQueued, help: 'Windows waiting for the model server (queued and in the batch being sent).', registers: [reg], collect() { this.set(self.queued); } });
  }
}
