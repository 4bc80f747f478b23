// Node power models by hardware fingerprint, for nodes whose agent reports its hardware: the model server's answer
// (its own fallback chain: exact fingerprint, same CPU family, description curve), else the shipped curve model fed
// the node's description. Nothing here runs while a request waits: `lookup` answers from memory and queues what is
// missing or due for a refresh; fetches run in the background, bounded in number and in fingerprints kept, with
// exponential backoff per fingerprint after a failure. A failed or unusable answer is logged, counted, and the
// node falls through to the next source; a model that worked before stays in use until a refresh replaces it.
//
// Each model is turned into load curves in one inference run for every node waiting on it (loadCurves): the
// fingerprints a request brings in together are evaluated in one batch per model, not one run per node.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { Gauge, type Registry } from 'prom-client';
import { METRICS } from '../../shared/names.js';
import { fetchModel } from '../../shared/model-server-client.js';
import type { NodeHardware } from '../../shared/wire/model.js';
import type { PowerCurve } from '../../model/curve.js';
import type { LoadCurve } from '../../model/load-curve.js';
import type { PowerModel } from '../../model/power-model.js';
import { totalsCounter } from '../../shared/totals-counter.js';

/**
 * The model code, imported on first use: onnxruntime's native library costs ~15 MiB of resident memory at import,
 * which an extender whose nodes report no hardware (or with no model source) never pays.
 */
type ModelLib = typeof import('../../model/load-curve.js') & typeof import('../../model/power-model.js');
const importModelLib = async (): Promise<ModelLib> => ({ ...(await import('../../model/load-curve.js')), ...(await import('../../model/power-model.js')) });

export type ModelSource = 'model-server' | 'shipped';

export interface ModelCurve {
  readonly curve: PowerCurve;
  readonly source: ModelSource;
  /** e.g. "model-server:description-curve@v1" or "shipped:curve". */
  readonly modelId: string;
  /** How the model was chosen for this fingerprint. */
  readonly detail: string;
}

export interface Lookup {
  /** The best model known now for the fingerprint, if any. */
  readonly model: ModelCurve | null;
  /** Why better sources are not in use (e.g. "model server: no answer within 2000 ms"); '' when none failed. */
  readonly note: string;
}

export interface NodeModelsOptions {
  modelServerUrl?: string | undefined;
  requestTimeoutMs: number;
  refreshMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  maxFingerprints: number;
  maxConcurrentFetches: number;
  /** Directory with index.json and the shipped curve model; null: no shipped model. */
  shippedModelsDir: string | null;
  log?: Logger | undefined;
  now?: () => number;
  /** How ONNX bytes become a PowerModel (tests count the inference runs through it). */
  loadModel?: (bytes: Uint8Array, name: string) => Promise<PowerModel>;
}

interface Entry {
  readonly fingerprint: string;
  readonly hardware: NodeHardware;
  server: ModelCurve | null;
  serverNote: string;
  serverFailures: number;
  /** Earliest time of the next model server lookup. */
  serverDueAt: number;
  serverBusy: boolean;
  shipped: ModelCurve | null;
  shippedNote: string;
  shippedBusy: boolean;
  lookup: Lookup | null;
}

/** Models kept loaded at once: each fingerprint of a fleet usually resolves to one of a few models. */
const MAX_LOADED_MODELS = 16;

export class NodeModels {
  private readonly entries: LRUCache<string, Entry>;
  private readonly loaded: LRUCache<string, Promise<PowerModel>>;
  private readonly pendingBatches = new Map<PowerModel, { hardware: NodeHardware; done: (r: LoadCurve | Error) => void }[]>();
  private readonly queue: Entry[] = [];
  private running = 0;
  private shippedModel: Promise<{ model: PowerModel; key: string; mapePercent: number | null }> | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly now: () => number;
  private readonly load: (bytes: Uint8Array, name: string) => Promise<PowerModel>;
  private libLoading: Promise<ModelLib> | null = null;
  /** Outcomes since start, for metrics and tests. */
  readonly stats = { fetches: { ok: 0, failed: 0, unusable: 0 }, batches: 0 };

  constructor(private readonly opts: NodeModelsOptions) {
    this.now = opts.now ?? Date.now;
    this.load = opts.loadModel ?? (async (bytes, name) => (await this.lib()).OnnxPowerModel.fromBytes(bytes, name));
    this.entries = new LRUCache<string, Entry>({ max: opts.maxFingerprints });
    this.loaded = new LRUCache<string, Promise<PowerModel>>({
      max: MAX_LOADED_MODELS,
      dispose: (p) => {
        // Released once the batches already holding it are done with it.
        void p.then((m) => this.track(Promise.resolve().then(() => m.close()))).catch(() => undefined);
      },
    });
  }

  /** Whether any source can answer at all (no model server and no shipped model: the caller need not ask). */
  get enabled(): boolean {
    return this.opts.modelServerUrl !== undefined || this.opts.shippedModelsDir !== null;
  }

  /** From memory only; queues a background lookup when the fingerprint is new or due. */
  lookup(fingerprint: string, hardware: NodeHardware): Lookup {
    let e = this.entries.get(fingerprint);
    if (e === undefined) {
      e = { fingerprint, hardware, server: null, serverNote: '', serverFailures: 0, serverDueAt: 0, serverBusy: false, shipped: null, shippedNote: '', shippedBusy: false, lookup: null };
      this.entries.set(fingerprint, e);
    }
    if (!this.closed) {
      // The queue is bounded like the entries: more fingerprints than that at once wait for a later request.
      if (this.opts.modelServerUrl !== undefined && !e.serverBusy && this.now() >= e.serverDueAt && this.queue.length < this.opts.maxFingerprints) {
        e.serverBusy = true;
        this.queue.push(e);
        this.pump();
      }
      if (this.opts.shippedModelsDir !== null && e.shipped === null && e.shippedNote === '' && !e.shippedBusy) {
        e.shippedBusy = true;
        this.track(this.evaluateShipped(e));
      }
    }
    if (e.lookup === null) {
      const notes: string[] = [];
      if (e.serverNote) notes.push(`model server: ${e.serverNote}`);
      if (e.shippedNote && e.server === null) notes.push(`shipped model: ${e.shippedNote}`);
      e.lookup = { model: e.server ?? e.shipped, note: notes.join('; ') };
    }
    return e.lookup;
  }

  /** Resolves when no lookup or evaluation is in flight (tests, and an orderly close). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0 || this.queue.length > 0) await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await this.settled();
    this.loaded.clear();
    if (this.shippedModel) await this.shippedModel.then((s) => s.model.close()).catch(() => undefined);
    await this.settled();
  }

  registerMetrics(registry: Registry): void {
    const m = METRICS.extender;
    totalsCounter({
      name: m.modelServerFetches,
      help: 'Model server lookups by outcome: ok, failed (no answer, an error or a malformed answer), unusable (a model that is not a load curve).',
      registry,
      labelName: 'outcome',
      read: () => this.stats.fetches,
    });
    const entries = this.entries;
    new Gauge({
      name: m.nodeModels,
      help: 'Hardware fingerprints known to the extender, by the source of the model in use (model-server, shipped, none).',
      labelNames: ['source'],
      registers: [registry],
      collect() {
        const n = { 'model-server': 0, shipped: 0, none: 0 };
        for (const e of entries.values()) n[e.server ? 'model-server' : e.shipped ? 'shipped' : 'none']++;
        for (const [k, v] of Object.entries(n)) this.set({ source: k }, v);
      },
    });
  }

  private lib(): Promise<ModelLib> {
    this.libLoading ??= importModelLib();
    return this.libLoading;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** The next lookup builds a new answer object, so callers that keep results per answer see the change. */
  private changed(e: Entry): void {
    e.lookup = null;
  }

  private pump(): void {
    while (this.running < this.opts.maxConcurrentFetches && this.queue.length > 0) {
      const e = this.queue.shift() as Entry;
      this.running++;
      this.track(this.refreshFromServer(e)).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async refreshFromServer(e: Entry): Promise<void> {
    const url = this.opts.modelServerUrl as string;
    const timeoutMs = this.opts.requestTimeoutMs;
    try {
      const { resolution: r } = await fetchModel(url, e.fingerprint, 'meta', { timeoutMs });
      const name = `${r.fingerprint}@v${r.version ?? 0}`;
      const problem = (await this.lib()).loadCurveProblem({ task: r.task, featureNames: r.featureNames, name });
      if (problem !== null) {
        // The server answered; its model just cannot price load. Not a failure to back off from.
        this.stats.fetches.unusable++;
        e.serverFailures = 0;
        e.serverDueAt = this.now() + this.opts.refreshMs;
        if (e.server !== null || e.serverNote !== problem) {
          this.opts.log?.info({ fingerprint: e.fingerprint, reason: problem }, 'the model server\'s model cannot price load; the node falls through to its next model');
          e.server = null;
          e.serverNote = problem;
          this.changed(e);
        }
        return;
      }
      let model = this.loaded.get(name);
      if (model === undefined) {
        // The exact version the chain named (a new one may be published between the two requests).
        model = fetchModel(url, r.fingerprint, 'onnx', { timeoutMs, ...(r.version === null ? {} : { version: r.version }) }).then((f) => this.load(f.onnx as Uint8Array, `model-server:${name}`));
        this.loaded.set(name, model);
        model.catch(() => this.loaded.delete(name));
      }
      const result = await this.batch(await model, e.hardware);
      if ('error' in result) throw new Error(result.error);
      const mape = r.heldOutMapePercent === null ? '' : `, held-out MAPE ${r.heldOutMapePercent.toFixed(1)} %`;
      e.server = { curve: result.curve, source: 'model-server', modelId: `model-server:${name}`, detail: `${r.match} match for ${e.fingerprint}${mape}` };
      e.serverNote = '';
      e.serverFailures = 0;
      e.serverDueAt = this.now() + this.opts.refreshMs;
      this.stats.fetches.ok++;
      this.changed(e);
    } catch (err) {
      const why = (err as Error).message;
      this.stats.fetches.failed++;
      e.serverFailures++;
      const wait = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** (e.serverFailures - 1));
      e.serverDueAt = this.now() + wait;
      const note = `${why} (retry in ${Math.round(wait / 1000)} s${e.server ? `; keeping ${e.server.modelId}` : ''})`;
      // Logged when the reason changes, not on every retry of a server that stays down.
      if (!e.serverNote.startsWith(why)) this.opts.log?.warn({ fingerprint: e.fingerprint, err: why, retryInMs: wait }, 'model server lookup failed; the node falls through to its next model');
      e.serverNote = note;
      this.changed(e);
    } finally {
      e.serverBusy = false;
    }
  }

  private async evaluateShipped(e: Entry): Promise<void> {
    try {
      const shipped = await this.shipped();
      const result = await this.batch(shipped.model, e.hardware);
      if ('error' in result) throw new Error(result.error);
      const mape = shipped.mapePercent === null ? '' : ` (grouped cross-validation MAPE ${shipped.mapePercent.toFixed(1)} %)`;
      e.shipped = { curve: result.curve, source: 'shipped', modelId: `shipped:${shipped.key}`, detail: `from the node's description, fingerprint ${e.fingerprint}${mape}` };
    } catch (err) {
      e.shippedNote = (err as Error).message;
      this.opts.log?.warn({ fingerprint: e.fingerprint, err: e.shippedNote }, 'shipped curve model unusable for this node');
    } finally {
      e.shippedBusy = false;
      this.changed(e);
    }
  }

  private shipped(): Promise<{ model: PowerModel; key: string; mapePercent: number | null }> {
    this.shippedModel ??= (async () => {
      const dir = this.opts.shippedModelsDir as string;
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as Record<string, { file: string; task: string; grouped?: { mapePercent?: number } }>;
      const found = Object.entries(index).find(([, x]) => x.task === 'curve');
      if (found === undefined) throw new Error(`no curve model in ${dir}/index.json`);
      const [key, entry] = found;
      const bytes = await readFile(join(dir, entry.file));
      return { model: await this.load(bytes, `shipped:${key}`), key, mapePercent: entry.grouped?.mapePercent ?? null };
    })();
    return this.shippedModel;
  }

  /**
   * Queues one node for `model`; every node queued for the same model before the next turn of the event loop is
   * evaluated in the same inference run.
   */
  private batch(model: PowerModel, hardware: NodeHardware): Promise<LoadCurve> {
    return new Promise<LoadCurve>((resolve, reject) => {
      let waiting = this.pendingBatches.get(model);
      if (waiting === undefined) {
        this.pendingBatches.set(model, (waiting = []));
        setImmediate(() => this.track(this.runBatch(model)));
      }
      waiting.push({ hardware, done: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });
  }

  private async runBatch(model: PowerModel): Promise<void> {
    const waiting = this.pendingBatches.get(model) ?? [];
    this.pendingBatches.delete(model);
    this.stats.batches++;
    try {
      const curves = await (await this.lib()).loadCurves(model, waiting.map((w) => w.hardware));
      waiting.forEach((w, i) => w.done(curves[i] as LoadCurve));
    } catch (err) {
      for (const w of waiting) w.done(err as Error);
    }
  }
}
