// Models and sample windows per hardware fingerprint in one local directory (an emptyDir, a host path or a PVC):
//   <dir>/<fingerprint>/entry.json     hardware, current/pinned version, version list
//   <dir>/<fingerprint>/v<N>.onnx      every published version, kept for pinning and rollback
//   <dir>/<fingerprint>/samples/*.log  accepted windows, an append-only segment log (sample-log.ts)
// entry.json and model files are written to a temporary file, fsync'ed and renamed into place, so a crash leaves
// the old or the new file, never half of one. The store bounds what clients can make it keep: the number of
// fingerprints, sample bytes and windows per fingerprint (oldest segments dropped) and sample bytes in all.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ModelEntry, ModelMetadata, ModelVersion, SampleWindow } from '../../shared/wire/model.js';
import { FINGERPRINT_MAX_LENGTH } from '../../shared/wire/model.js';
import { WS_ERR_MODEL_NOT_FOUND, WS_ERR_MODEL_INPUT, WS_ERR_MODEL_LIMIT } from '../../shared/errors.js';
import { SampleLog, syncDir, type AppendResult, type SkipReason } from './sample-log.js';

export interface StoreLimits {
  maxFingerprints: number;
  maxSamplesPerFingerprint: number;
  maxSampleBytesPerFingerprint: number;
  maxSampleBytes: number;
}

export interface StoreEvents {
  /** A record or file that could not be read and was left out. */
  skipped(file: string, reason: SkipReason | 'entry' | 'unreadable', detail: string): void;
}

export interface Hardware {
  cpuModel: string;
  sockets: number;
  cores: number;
  gpuModel: string;
}

interface StoredEntry {
  fingerprint: string;
  hardware: Hardware;
  current: number | null;
  pinned: number | null;
  versions: ModelVersion[];
}

const FINGERPRINT = /^[a-z0-9][a-z0-9._-]*$/;

let tmpSeq = 0;

/** Temporary file, fsync, rename, fsync of the folder: after a crash the old or the new file, whole. Async, so a
 * slow disk stalls no request. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${tmpSeq++}`;
  const h = await open(tmp, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, path);
  await syncDir(join(path, '..'));
}

const noEvents: StoreEvents = { skipped: () => undefined };

export class ModelStore {
  private readonly entries = new Map<string, StoredEntry>();
  private readonly logs = new Map<string, SampleLog>();
  private sampleBytes = 0;
  private loadingAll: Promise<void> | null = null;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly limits: StoreLimits,
    private readonly events: StoreEvents = noEvents,
  ) {
    mkdirSync(dir, { recursive: true });
    // Only the small entry files are read here; sample logs are indexed by loadSamples() in the background, so a
    // large store serves at once after a restart.
    for (const name of readdirSync(dir)) {
      const file = join(dir, name, 'entry.json');
      if (!FINGERPRINT.test(name) || !existsSync(file)) continue;
      try {
        this.entries.set(name, JSON.parse(readFileSync(file, 'utf8')) as StoredEntry);
      } catch (err) {
        events.skipped(file, 'entry', (err as Error).message);
      }
    }
  }

  /** Indexes every fingerprint's sample log, one after another; appends wait for it (the store-wide byte cap). */
  loadSamples(): Promise<void> {
    this.loadingAll ??= (async () => {
      for (const fp of [...this.entries.keys()]) {
        // One unreadable fingerprint must not hold up the others: its own requests report the error.
        await this.log(fp).load().catch((err: unknown) => this.events.skipped(join(this.dir, fp, 'samples'), 'unreadable', (err as Error).message));
      }
    })();
    return this.loadingAll;
  }

  private log(fp: string): SampleLog {
    let l = this.logs.get(fp);
    if (!l) {
      const perFp = this.limits.maxSampleBytesPerFingerprint;
      l = new SampleLog(
        join(this.folder(fp), 'samples'),
        { maxBytes: perFp, maxWindows: this.limits.maxSamplesPerFingerprint, segmentBytes: Math.max(64 * 1024, Math.floor(perFp / 8)) },
        (file, reason, offset, detail) => this.events.skipped(file, reason, `at byte ${offset}: ${detail}`),
        (delta) => (this.sampleBytes += delta),
      );
      this.logs.set(fp, l);
    }
    return l;
  }

  /** Sample bytes on disk over all fingerprints (as far as indexed). */
  get totalSampleBytes(): number {
    return this.sampleBytes;
  }

  private folder(fp: string): string {
    if (fp.length > FINGERPRINT_MAX_LENGTH || !FINGERPRINT.test(fp)) throw new WS_ERR_MODEL_INPUT(`bad fingerprint: need 1-${FINGERPRINT_MAX_LENGTH} of a-z 0-9 . _ - starting with a letter or digit`);
    return join(this.dir, fp);
  }

  /** Entry and model files are written one at a time, in the order the changes were made. */
  private persist(write: () => Promise<void>): Promise<void> {
    const job = this.writes.then(write);
    this.writes = job.catch(() => undefined);
    return job;
  }

  private async save(e: StoredEntry): Promise<void> {
    this.entries.set(e.fingerprint, e);
    const folder = this.folder(e.fingerprint);
    const text = JSON.stringify(e, null, 2);
    await this.persist(async () => {
      await mkdir(folder, { recursive: true });
      await writeAtomic(join(folder, 'entry.json'), text);
    });
  }

  has(fp: string): boolean {
    return this.entries.has(fp);
  }

  async ensure(fp: string, hardware?: Partial<Hardware>): Promise<StoredEntry> {
    const existing = this.entries.get(fp);
    if (existing) {
      if (hardware && existing.hardware.cpuModel === '' && hardware.cpuModel) {
        existing.hardware = { cpuModel: hardware.cpuModel, sockets: hardware.sockets ?? 0, cores: hardware.cores ?? 0, gpuModel: hardware.gpuModel ?? '' };
        await this.save(existing);
      }
      return existing;
    }
    if (this.entries.size >= this.limits.maxFingerprints) throw new WS_ERR_MODEL_LIMIT(`${this.entries.size} fingerprints stored, the configured maximum (maxFingerprints); ${fp} is not added`);
    const e: StoredEntry = { fingerprint: fp, hardware: { cpuModel: hardware?.cpuModel ?? '', sockets: hardware?.sockets ?? 0, cores: hardware?.cores ?? 0, gpuModel: hardware?.gpuModel ?? '' }, current: null, pinned: null, versions: [] };
    await this.save(e);
    return e;
  }

  get size(): number {
    return this.entries.size;
  }

  async entry(fp: string): Promise<ModelEntry> {
    const e = this.entries.get(fp);
    if (!e) throw new WS_ERR_MODEL_NOT_FOUND(`for fingerprint ${fp}`);
    const log = this.log(fp);
    await log.load();
    return { ...e, versions: [...e.versions], samples: log.windows };
  }

  /** Fingerprints in name order, without their sample counts (nothing is read). */
  fingerprints(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** One page of entries in fingerprint order, after the `after` cursor; `next` is the cursor of the next page. */
  async list(limit = Number.MAX_SAFE_INTEGER, after?: string): Promise<{ models: ModelEntry[]; next: string | null }> {
    const all = this.fingerprints().filter((fp) => after === undefined || fp > after);
    const page = all.slice(0, limit);
    const models: ModelEntry[] = [];
    for (const fp of page) models.push(await this.entry(fp));
    return { models, next: all.length > page.length ? (page.at(-1) as string) : null };
  }

  /** The version agents get by default: the pinned one if any, else the current one. */
  served(fp: string): ModelVersion | null {
    const e = this.entries.get(fp);
    const v = e ? (e.pinned ?? e.current) : null;
    return e && v !== null ? (e.versions.find((x) => x.version === v) ?? null) : null;
  }

  version(fp: string, version: number): ModelVersion {
    const v = this.entries.get(fp)?.versions.find((x) => x.version === version);
    if (!v) throw new WS_ERR_MODEL_NOT_FOUND(`version ${version} for fingerprint ${fp}`);
    return v;
  }

  async onnx(fp: string, version: number): Promise<Uint8Array> {
    this.version(fp, version);
    return readFile(join(this.folder(fp), `v${version}.onnx`));
  }

  /** A new version, made current; its held-out error and how it was measured come from the file's metadata. */
  async publish(fp: string, onnx: Uint8Array, meta: ModelMetadata, source: ModelVersion['source'], now: Date): Promise<ModelVersion> {
    const e = await this.ensure(fp);
    const version = (e.versions.reduce((m, v) => Math.max(m, v.version), 0) as number) + 1;
    const file = join(this.folder(fp), `v${version}.onnx`);
    await this.persist(() => writeAtomic(file, onnx));
    const v: ModelVersion = {
      fingerprint: fp,
      version,
      task: meta.task,
      family: meta.family,
      featureNames: meta.featureNames,
      outputNames: meta.outputNames,
      createdAt: now.toISOString(),
      trainingRows: meta.trainingRows,
      heldOutMapePercent: meta.validation.mapePercent,
      ...(meta.validation.method ? { heldOutMethod: meta.validation.method } : {}),
      sha256: createHash('sha256').update(onnx).digest('hex'),
      source,
    };
    e.versions.push(v);
    e.current = version;
    await this.save(e);
    return v;
  }

  /** Pins the served version (null unpins); retraining keeps publishing behind a pin. */
  async pin(fp: string, version: number | null): Promise<ModelEntry> {
    const e = this.entries.get(fp);
    if (!e) throw new WS_ERR_MODEL_NOT_FOUND(`for fingerprint ${fp}`);
    if (version !== null) this.version(fp, version);
    e.pinned = version;
    await this.save(e);
    return this.entry(fp);
  }

  /** Makes the version before the current one current again. */
  async rollback(fp: string): Promise<ModelEntry> {
    const e = this.entries.get(fp);
    if (!e || e.current === null) throw new WS_ERR_MODEL_NOT_FOUND(`current version for fingerprint ${fp}`);
    const older = e.versions.filter((v) => v.version < (e.current as number)).map((v) => v.version);
    if (older.length === 0) throw new WS_ERR_MODEL_INPUT(`fingerprint ${fp} has no version before ${e.current}`);
    e.current = Math.max(...older);
    await this.save(e);
    return this.entry(fp);
  }

  /** Every stored window of a fingerprint, oldest first (reads the segment files). */
  async samples(fp: string): Promise<SampleWindow[]> {
    return this.entries.has(fp) ? this.log(fp).readAll() : [];
  }

  async sampleCount(fp: string): Promise<number> {
    if (!this.entries.has(fp)) return 0;
    const log = this.log(fp);
    await log.load();
    return log.windows;
  }

  /** Segment files to read the windows from, oldest first; a file may be dropped by the caps while being read. */
  async sampleFiles(fp: string): Promise<string[]> {
    if (!this.entries.has(fp)) return [];
    const log = this.log(fp);
    await log.load();
    return log.files();
  }

  async newestSampleEnd(fp: string): Promise<number> {
    if (!this.entries.has(fp)) return -Infinity;
    const log = this.log(fp);
    await log.load();
    return log.newestEnd;
  }

  /**
   * Stores one upload durably (resolves after fdatasync). A key already stored with the same windows answers
   * `duplicate` without storing again; with different windows it is an error.
   */
  async appendSamples(fp: string, hardware: Partial<Hardware> | undefined, windows: readonly SampleWindow[], key: string | null = null): Promise<AppendResult> {
    this.folder(fp);
    await this.loadSamples();
    if (this.sampleBytes >= this.limits.maxSampleBytes) throw new WS_ERR_MODEL_LIMIT(`the sample store is full (${this.sampleBytes} bytes, maxSampleBytes ${this.limits.maxSampleBytes})`);
    await this.ensure(fp, hardware);
    const hash = key === null ? null : createHash('sha256').update(JSON.stringify(windows)).digest('hex');
    return this.log(fp).append(windows, key, hash, (bytes) => {
      if (this.sampleBytes + bytes > this.limits.maxSampleBytes) throw new WS_ERR_MODEL_LIMIT(`the sample store holds ${this.sampleBytes} bytes; ${bytes} more would exceed maxSampleBytes ${this.limits.maxSampleBytes}`);
    });
  }

  async close(): Promise<void> {
    await this.loadingAll?.catch(() => undefined);
    await this.writes;
    for (const l of this.logs.values()) await l.close();
  }
}
