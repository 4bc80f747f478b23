// The model server's one shared plugin: the store, metrics, authorisation, retraining and Prometheus pulling,
// created here and released in onClose. Wrapped with fastify-plugin and named so route plugins can depend on it.
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import { registerProcessMetrics } from '../../shared/process-metrics.js';
import type { ModelServerConfig } from '../../shared/config/model-server.js';
import type { SampleWindow } from '../../shared/wire/model.js';
import { METRICS } from '../../shared/names.js';
import { ModelStore, type Hardware } from './store.js';
import { IdempotencyConflict, type AppendResult } from './sample-log.js';
import { retrainFingerprint, type RetrainOutcome } from './retrain.js';
import { pullWindows, type Fetch } from './prometheus.js';
import { seedPretrained } from './seed.js';
import { authorise, type AuthPolicy } from './auth.js';
import { WS_ERR_MODEL_IDEMPOTENCY } from '../../shared/errors.js';

export const MODEL_SERVER_PLUGIN = 'wattsched-model-server';

export interface ModelServerDeps {
  now?: () => Date;
  fetch?: Fetch;
}

export interface ModelServer {
  store: ModelStore;
  config: Readonly<ModelServerConfig>;
  registry: Registry;
  /** Resolves once the upload is durable; a repeated idempotency key resolves with `duplicate` and stores nothing. */
  addSamples(fp: string, hardware: Partial<Hardware> | undefined, windows: readonly SampleWindow[], key?: string | null): Promise<AppendResult>;
  retrain(fp: string): Promise<RetrainOutcome>;
  /** Retrains every fingerprint with enough new windows; one at a time, so one CPU stays free for serving. Never rejects. */
  retrainDue(): Promise<RetrainOutcome[]>;
  pullPrometheus(start?: number, end?: number): Promise<{ windows: number; fingerprints: string[]; unmappedNodes: string[] }>;
}

declare module 'fastify' {
  interface FastifyInstance {
    modelServer: ModelServer;
  }
}

interface PluginOptions {
  config: Readonly<ModelServerConfig>;
  auth: AuthPolicy;
  dataDir: string;
  pretrainedDir?: string | undefined;
  deps: ModelServerDeps;
}

const plugin: FastifyPluginAsync<PluginOptions> = async (app, opts) => {
  const now = opts.deps.now ?? (() => new Date());
  const cfg = opts.config;
  const registry = new Registry();
  // Process metrics, among them the event loop's lag: what a stalled /healthz would show first.
  registerProcessMetrics(registry, 'wattsched_model_server_');
  const names = METRICS.modelServer;
  const skipped = new Counter({ name: names.skippedRecords, help: 'Stored sample records or entry files left out because they were torn or corrupt', labelNames: ['reason'], registers: [registry] });
  const store = new ModelStore(
    opts.dataDir,
    { maxFingerprints: cfg.maxFingerprints, maxSamplesPerFingerprint: cfg.maxSamplesPerFingerprint, maxSampleBytesPerFingerprint: cfg.maxSampleBytesPerFingerprint, maxSampleBytes: cfg.maxSampleBytes },
    {
      skipped(file, reason, detail) {
        skipped.inc({ reason });
        app.log.warn({ file, reason, detail }, 'skipped unreadable stored data');
      },
    },
  );
  if (opts.pretrainedDir) {
    const seeded = await seedPretrained(store, opts.pretrainedDir, now());
    if (seeded.length > 0) app.log.info({ seeded }, 'seeded pretrained models');
  }
  // Indexing the sample logs reads every segment once; serving does not wait for it, uploads do.
  store.loadSamples().then(
    () => app.log.info({ fingerprints: store.size, sampleBytes: store.totalSampleBytes }, 'sample store indexed'),
    (err: unknown) => app.log.error({ err }, 'indexing the sample store failed'),
  );
  new Gauge({ name: names.models, help: 'Fingerprints with a served model', registers: [registry], collect() { this.set(store.fingerprints().filter((f) => store.served(f) !== null).length); } });
  new Gauge({ name: names.sampleBytes, help: 'Bytes of stored sample windows, all fingerprints', registers: [registry], collect() { this.set(store.totalSampleBytes); } });
  const samples = new Counter({ name: names.samples, help: 'Sample windows accepted', labelNames: ['source'], registers: [registry] });
  const retrains = new Counter({ name: names.retrains, help: 'Retraining attempts by result', labelNames: ['result'], registers: [registry] });
  // Sample count at the last attempt per fingerprint; per-instance state, not module state.
  const attempted = new Map<string, number>();
  let running: Promise<unknown> = Promise.resolve();

  const server: ModelServer = {
    store,
    config: cfg,
    registry,
    async addSamples(fpName, hardware, windows, key = null) {
      let r: AppendResult;
      try {
        r = await store.appendSamples(fpName, hardware, windows, key);
      } catch (err) {
        if (err instanceof IdempotencyConflict) throw new WS_ERR_MODEL_IDEMPOTENCY(err.message);
        throw err;
      }
      if (!r.duplicate) samples.inc({ source: 'push' }, windows.length);
      return r;
    },
    async retrain(fpName) {
      // Serialise attempts: two concurrent retrains of one fingerprint could publish out of order, and one training
      // at a time leaves the other core to serving.
      const job = running.then(async () => {
        attempted.set(fpName, await store.sampleCount(fpName));
        try {
          const r = await retrainFingerprint(store, fpName, cfg.retrain, now());
          retrains.inc({ result: r.published ? 'published' : 'rejected' });
          app.log.info(r, 'retrain');
          return r;
        } catch (err) {
          retrains.inc({ result: 'failed' });
          throw err;
        }
      });
      running = job.catch(() => undefined);
      return job;
    },
    async retrainDue() {
      const out: RetrainOutcome[] = [];
      try {
        for (const fpName of store.fingerprints()) {
          const n = await store.sampleCount(fpName);
          if (n < cfg.retrain.minSamples || n - (attempted.get(fpName) ?? 0) < cfg.retrain.minNewSamples) continue;
          try {
            out.push(await server.retrain(fpName));
          } catch (err) {
            app.log.warn({ err, fingerprint: fpName }, 'retrain failed');
          }
        }
      } catch (err) {
        app.log.error({ err }, 'periodic retrain pass failed');
      }
      return out;
    },
    async pullPrometheus(start, end) {
      const p = cfg.prometheus;
      if (!p.url) return { windows: 0, fingerprints: [], unmappedNodes: [] };
      const to = end ?? now().getTime() / 1000;
      const from = start ?? to - p.rangeSeconds;
      const pulled = await pullWindows(p, opts.deps.fetch ?? (fetch as unknown as Fetch), from, to);
      let total = 0;
      for (const [fpName, windows] of pulled.byFingerprint) {
        // Ranges overlap from one pull to the next: only windows newer than the newest stored one are added.
        const newest = await store.newestSampleEnd(fpName);
        const fresh = windows.filter((w) => w.end > newest);
        if (fresh.length === 0) continue;
        await store.appendSamples(fpName, undefined, fresh);
        samples.inc({ source: 'prometheus' }, fresh.length);
        total += fresh.length;
      }
      return { windows: total, fingerprints: [...pulled.byFingerprint.keys()], unmappedNodes: pulled.unmappedNodes };
    },
  };
  app.decorate('modelServer', server);

  app.addHook('onRequest', async (req, reply) => {
    try {
      authorise(opts.auth, req);
    } catch (err) {
      reply.header('www-authenticate', 'Bearer');
      throw err;
    }
  });

  const timers: NodeJS.Timeout[] = [];
  if (cfg.retrain.intervalSeconds > 0) {
    timers.push(setInterval(() => void server.retrainDue(), cfg.retrain.intervalSeconds * 1000).unref());
  }
  if (cfg.prometheus.url && cfg.prometheus.intervalSeconds > 0) {
    timers.push(
      setInterval(() => {
        server.pullPrometheus().catch((err: unknown) => app.log.warn({ err }, 'prometheus pull failed'));
      }, cfg.prometheus.intervalSeconds * 1000).unref(),
    );
  }
  app.addHook('onClose', async () => {
    for (const t of timers) clearInterval(t);
    await running;
    await store.close();
  });
};

export default fp(plugin, { name: MODEL_SERVER_PLUGIN, fastify: '5.x' });
