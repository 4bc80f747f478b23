// Models and sample windows per hardware fingerprint in one local directory (an emptyDir, a host path or a PVC):
//   <dir>/<fingerprint>/entry.json    hardware, current/pinned version, version list
//   <dir>/<fingerprint>/v<N>.onnx     every published version, kept for pinning and rollback
//   <dir>/<fingerprint>/samples.jsonl accepted windows, oldest dropped beyond the configured cap
// Writes go to a temporary file and are renamed into place, so a crash never leaves half a file behind.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ModelEntry, ModelMetadata, ModelVersion, SampleWindow } from '../../shared/wire/model.js';
import { WS_ERR_MODEL_NOT_FOUND, WS_ERR_MODEL_INPUT } from '../../shared/errors.js';

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

function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export class ModelStore {
  private readonly entries = new Map<string, StoredEntry>();
  private readonly sampleCache = new Map<string, SampleWindow[]>();

  constructor(
    readonly dir: string,
    private readonly maxSamples: number,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      const file = join(dir, name, 'entry.json');
      if (FINGERPRINT.test(name) && existsSync(file)) this.entries.set(name, JSON.parse(readFileSync(file, 'utf8')) as StoredEntry);
    }
  }

  private folder(fp: string): string {
    if (!FINGERPRINT.test(fp)) throw new WS_ERR_MODEL_INPUT(`bad fingerprint ${JSON.stringify(fp)}`);
    return join(this.dir, fp);
  }

  private save(e: StoredEntry): void {
    mkdirSync(this.folder(e.fingerprint), { recursive: true });
    writeAtomic(join(this.folder(e.fingerprint), 'entry.json'), JSON.stringify(e, null, 2));
    this.entries.set(e.fingerprint, e);
  }

  has(fp: string): boolean {
    return this.entries.has(fp);
  }

  ensure(fp: string, hardware?: Partial<Hardware>): StoredEntry {
    const existing = this.entries.get(fp);
    if (existing) {
      if (hardware && existing.hardware.cpuModel === '' && hardware.cpuModel) {
        existing.hardware = { cpuModel: hardware.cpuModel, sockets: hardware.sockets ?? 0, cores: hardware.cores ?? 0, gpuModel: hardware.gpuModel ?? '' };
        this.save(existing);
      }
      return existing;
    }
    const e: StoredEntry = { fingerprint: fp, hardware: { cpuModel: hardware?.cpuModel ?? '', sockets: hardware?.sockets ?? 0, cores: hardware?.cores ?? 0, gpuModel: hardware?.gpuModel ?? '' }, current: null, pinned: null, versions: [] };
    this.save(e);
    return e;
  }

  entry(fp: string): ModelEntry {
    const e = this.entries.get(fp);
    if (!e) throw new WS_ERR_MODEL_NOT_FOUND(`for fingerprint ${fp}`);
    return { ...e, versions: [...e.versions], samples: this.samples(fp).length };
  }

  list(): ModelEntry[] {
    return [...this.entries.keys()].sort().map((fp) => this.entry(fp));
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

  onnx(fp: string, version: number): Uint8Array {
    this.version(fp, version);
    return readFileSync(join(this.folder(fp), `v${version}.onnx`));
  }

  publish(fp: string, onnx: Uint8Array, meta: ModelMetadata, source: ModelVersion['source'], heldOutMapePercent: number, now: Date): ModelVersion {
    const e = this.ensure(fp);
    const version = (e.versions.reduce((m, v) => Math.max(m, v.version), 0) as number) + 1;
    writeAtomic(join(this.folder(fp), `v${version}.onnx`), onnx);
    const v: ModelVersion = {
      fingerprint: fp,
      version,
      task: meta.task,
      family: meta.family,
      featureNames: meta.featureNames,
      outputNames: meta.outputNames,
      createdAt: now.toISOString(),
      trainingRows: meta.trainingRows,
      heldOutMapePercent,
      sha256: createHash('sha256').update(onnx).digest('hex'),
      source,
    };
    e.versions.push(v);
    e.current = version;
    this.save(e);
    return v;
  }

  /** Pins the served version (null unpins); retraining keeps publishing behind a pin. */
  pin(fp: string, version: number | null): ModelEntry {
    const e = this.entries.get(fp);
    if (!e) throw new WS_ERR_MODEL_NOT_FOUND(`for fingerprint ${fp}`);
    if (version !== null) this.version(fp, version);
    e.pinned = version;
    this.save(e);
    return this.entry(fp);
  }

  /** Makes the version before the current one current again. */
  rollback(fp: string): ModelEntry {
    const e = this.entries.get(fp);
    if (!e || e.current === null) throw new WS_ERR_MODEL_NOT_FOUND(`current version for fingerprint ${fp}`);
    const older = e.versions.filter((v) => v.version < (e.current as number)).map((v) => v.version);
    if (older.length === 0) throw new WS_ERR_MODEL_INPUT(`fingerprint ${fp} has no version before ${e.current}`);
    e.current = Math.max(...older);
    this.save(e);
    return this.entry(fp);
  }

  samples(fp: string): SampleWindow[] {
    const cached = this.sampleCache.get(fp);
    if (cached) return cached;
    const file = join(this.folder(fp), 'samples.jsonl');
    const rows = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as SampleWindow)
      : [];
    this.sampleCache.set(fp, rows);
    return rows;
  }

  appendSamples(fp: string, hardware: Partial<Hardware> | undefined, windows: readonly SampleWindow[]): number {
    this.ensure(fp, hardware);
    const all = this.samples(fp);
    all.push(...windows);
    const file = join(this.folder(fp), 'samples.jsonl');
    if (all.length > this.maxSamples) {
      all.splice(0, all.length - this.maxSamples);
      writeAtomic(file, all.map((w) => JSON.stringify(w)).join('\n') + '\n');
    } else appendFileSync(file, windows.map((w) => JSON.stringify(w)).join('\n') + '\n');
    return all.length;
  }
}
