// The model server's one shared plugin: the store, metrics, retraining and Prometheus pulling, created here and
// released in onClose. Wrapped with fastify-plugin and named so route plugins can depend on it.
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ModelServerConfig } from '../../shared/config/model-server.js';
import type { SampleWindow } from '../../shared/wire/model.js';
import { METRICS } from '../../shared/names.js';
import { ModelStore, type Hardware } from './store.js';
import { retrainFingerprint, type RetrainOutcome } from './retrain.js';
import { pullWindows, type Fetch } from './prometheus.js';
import { seedPretrained } from './seed.js';

export const MODEL_SERVER_PLUGIN = 'wattsched-model-server';

export interface ModelServerDeps {
  now?: () => Date;
  fetch?: Fetch;
}

export interface ModelServer {
  store: ModelStore;
  config: Readonly<ModelServerConfig>;
  registry: Registry;
  addSamples(fp: string, hardware: Partial<Hardware> | undefined, windows: readonly SampleWindow[]): number;
  retrain(fp: string): Promise<RetrainOutcome>;
  /** Retrains every fingerprint with enough new windows; one at a time, so the CPUs stay free for serving. */
  retrainDue(): Promise<RetrainOutcome[]>;
  pullPrometheus(start?: number, end?: number): Promise<{ windows: number; fingerprints: string[]; unmappedNodes: string[] }>;
}

declare module 'fastify' {
  interface FastifyInstance {
    modelServer: ModelServer;
  }
}

const plugin: FastifyPluginAsync<{ config: Readonly<ModelServerConfig>; dataDir: string; pretrainedDir?: string | undefined; deps: ModelServerDeps }> = async (app, opts) => {
  const now = opts.deps.now ?? (() => new Date());
  const store = new ModelStore(opts.dataDir, opts.config.maxSamplesPerFingerprint);
  if (opts.pretrainedDir) {
    const seeded = seedPretrained(store, opts.pretrainedDir, now());
    if (seeded.length > 0) app.log.info({ seeded }, 'seeded pretrained models');
  }
  const registry = new Registry();
  const names = METRICS.modelServer;
  new Gauge({ name: names.models, help: 'Fingerprints with a served model', registers: [registry], collect() { this.set(store.list().filter((e) => e.current !== null).length); } });
  const samples = new Counter({ name: names.samples, help: 'Sample windows accepted', labelNames: ['source'], registers: [registry] });
  const retrains = new Counter({ name: names.retrains, help: 'Retraining attempts by result', labelNames: ['result'], registers: [registry] });
  // Sample count at the last attempt per fingerprint; per-instance state, not module state.
  const attempted = new Map<string, number>();
  let running: Promise<unknown> = Promise.resolve();

  const server: ModelServer = {
    store,
    config: opts.config,
    registry,
    addSamples(fpName, hardware, windows) {
      samples.inc({ source: 'push' }, windows.length);
      return store.appendSamples(fpName, hardware, windows);
    },
    async retrain(fpName) {
      // Serialise attempts: two concurrent retrains of one fingerprint could publish out of order.
      const job = running.then(async () => {
        attempted.set(fpName, store.samples(fpName).length);
        try {
          const r = await retrainFingerprint(store, fpName, opts.config.retrain, now());
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
      for (const e of store.list()) {
        const n = e.samples;
        if (n < opts.config.retrain.minSamples || n - (attempted.get(e.fingerprint) ?? 0) < opts.config.retrain.minNewSamples) continue;
        try {
          out.push(await server.retrain(e.fingerprint));
        } catch (err) {
          app.log.warn({ err, fingerprint: e.fingerprint }, 'retrain failed');
        }
      }
      return out;
    },
    async pullPrometheus(start, end) {
      const p = opts.config.prometheus;
      if (!p.url) return { windows: 0, fingerprints: [], unmappedNodes: [] };
      const to = end ?? now().getTime() / 1000;
      const from = start ?? to - p.rangeSeconds;
      const pulled = await pullWindows(p, opts.deps.fetch ?? (fetch as unknown as Fetch), from, to);
      let total = 0;
      for (const [fpName, windows] of pulled.byFingerprint) {
        // Windows already stored (same end time) are not added twice when ranges overlap.
        const seen = new Set(store.has(fpName) ? store.samples(fpName).map((w) => w.end) : []);
        const fresh = windows.filter((w) => !seen.has(w.end));
        if (fresh.length === 0) continue;
        store.appendSamples(fpName, undefined, fresh);
        samples.inc({ source: 'prometheus' }, fresh.length);
        total += fresh.length;
      }
      return { windows: total, fingerprints: [...pulled.byFingerprint.keys()], unmappedNodes: pulled.unmappedNodes };
    },
  };
  app.decorate('modelServer', server);

  const timers: NodeJS.Timeout[] = [];
  if (opts.config.retrain.intervalSeconds > 0) {
    timers.push(setInterval(() => void server.retrainDue(), opts.config.retrain.intervalSeconds * 1000).unref());
  }
  if (opts.config.prometheus.url && opts.config.prometheus.intervalSeconds > 0) {
    timers.push(
      setInterval(() => {
        server.pullPrometheus().catch((err: unknown) => app.log.warn({ err }, 'prometheus pull failed'));
      }, opts.config.prometheus.intervalSeconds * 1000).unref(),
    );
  }
  app.addHook('onClose', async () => {
    for (const t of timers) clearInterval(t);
    await running;
  });
};

export default fp(plugin, { name: MODEL_SERVER_PLUGIN, fastify: '5.x' });
