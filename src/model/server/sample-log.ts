// One fingerprint's accepted sample windows as an append-only log of segment files:
//   <fingerprint>/samples/<seq>.log   one record per accepted upload: "<crc32 hex8> <json>\n"
// A record is acknowledged only after it is written and fdatasync'ed, so a crash (process, kernel or power) loses at
// most the record being written, which was never acknowledged. A torn tail (no newline) or a line whose checksum or
// JSON does not hold is skipped and reported, never fatal. Each process start and every `segmentBytes` opens a new
// segment, so no append ever lands behind a torn tail, and the caps drop whole oldest segments (one unlink) instead
// of rewriting the file. Only the index (sizes, counts, idempotency keys) lives in memory; windows are read from the
// files when a retrain needs them, by `readSegment`, which the retraining worker thread uses too.
import { crc32 } from 'node:zlib';
import { open, readdir, readFile, unlink, mkdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SampleWindow } from '../../shared/wire/model.js';

export type SkipReason = 'torn' | 'corrupt';

export interface StoredRecord {
  /** Idempotency key of the upload, or null. */
  key: string | null;
  /** sha256 of the upload's windows, to tell a retry from a different upload reusing a key. */
  hash: string | null;
  windows: SampleWindow[];
}

export interface ParsedSegment {
  records: StoredRecord[];
  /** Bytes of the segment file. */
  bytes: number;
  skipped: { reason: SkipReason; offset: number; detail: string }[];
}

/** Pre-checksum layout: one bare window per line (samples.jsonl); read as the oldest segment, never written. */
export const LEGACY_FILE = 'samples.jsonl';

export function encodeRecord(r: StoredRecord): Buffer {
  const json = JSON.stringify({ k: r.key, h: r.hash, w: r.windows });
  const body = Buffer.from(json, 'utf8');
  const head = Buffer.from(`${crc32(body).toString(16).padStart(8, '0')} `, 'ascii');
  return Buffer.concat([head, body, Buffer.from('\n')]);
}

function isWindow(w: unknown): w is SampleWindow {
  if (typeof w !== 'object' || w === null) return false;
  const o = w as Record<string, unknown>;
  if (typeof o.start !== 'number' || typeof o.end !== 'number' || typeof o.watts !== 'number' || typeof o.counters !== 'object' || o.counters === null) return false;
  return Object.values(o.counters as Record<string, unknown>).every((v) => typeof v === 'number' && Number.isFinite(v));
}

function decodeLine(line: Buffer, legacy: boolean): StoredRecord | string {
  if (legacy) {
    let w: unknown;
    try {
      w = JSON.parse(line.toString('utf8'));
    } catch {
      return 'not JSON';
    }
    return isWindow(w) ? { key: null, hash: null, windows: [w] } : 'not a sample window';
  }
  if (line.length < 10 || line[8] !== 0x20) return 'no checksum header';
  const want = Number.parseInt(line.subarray(0, 8).toString('ascii'), 16);
  const body = line.subarray(9);
  if (!Number.isInteger(want) || crc32(body) !== want) return 'checksum mismatch';
  let o: { k?: unknown; h?: unknown; w?: unknown };
  try {
    o = JSON.parse(body.toString('utf8')) as typeof o;
  } catch {
    return 'not JSON';
  }
  if (!Array.isArray(o.w) || !o.w.every(isWindow)) return 'not a list of sample windows';
  return { key: typeof o.k === 'string' ? o.k : null, hash: typeof o.h === 'string' ? o.h : null, windows: o.w };
}

/** Every intact record of one segment file, and what was skipped where. A missing file is an empty segment. */
export async function readSegment(file: string): Promise<ParsedSegment> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], bytes: 0, skipped: [] };
    throw err;
  }
  return parseSegment(buf, file.endsWith(LEGACY_FILE));
}

type Item = { record: StoredRecord; offset: number } | { skip: SkipReason; offset: number; detail: string };

/** The records and skips of a segment in file order; one line at a time, so a caller can pause between them. */
function* items(buf: Buffer, legacy: boolean): Generator<Item> {
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(0x0a, at);
    if (nl < 0) {
      // The append that was in flight when the writer died: never acknowledged.
      yield { skip: 'torn', offset: at, detail: `${buf.length - at} bytes without a newline at the end` };
      return;
    }
    if (nl > at) {
      const r = decodeLine(buf.subarray(at, nl), legacy);
      yield typeof r === 'string' ? { skip: 'corrupt', offset: at, detail: r } : { record: r, offset: at };
    }
    at = nl + 1;
  }
}

export function parseSegment(buf: Buffer, legacy = false): ParsedSegment {
  const out: ParsedSegment = { records: [], bytes: buf.length, skipped: [] };
  for (const it of items(buf, legacy)) {
    if ('record' in it) out.records.push(it.record);
    else out.skipped.push({ reason: it.skip, offset: it.offset, detail: it.detail });
  }
  return out;
}

interface Segment {
  file: string;
  bytes: number;
  windows: number;
  keys: string[];
}

export interface AppendResult {
  duplicate: boolean;
  accepted: number;
  total: number;
}

export interface LogLimits {
  maxBytes: number;
  maxWindows: number;
  /** A new segment starts beyond this size, so the caps drop at most this much at a time. */
  segmentBytes: number;
}

export class IdempotencyConflict extends Error {}

const SEQ_DIGITS = 8;

export class SampleLog {
  private segments: Segment[] = [];
  private readonly keys = new Map<string, { hash: string | null; accepted: number }>();
  private active: { handle: FileHandle; segment: Segment } | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private loaded: Promise<void> | null = null;
  /** Highest segment number on disk, empty files included (a crash right after creating one leaves it empty). */
  private lastSeq = 0;
  /** Newest window end seen, so a pull of an overlapping Prometheus range adds nothing twice. */
  newestEnd = -Infinity;

  constructor(
    readonly dir: string,
    private readonly limits: LogLimits,
    private readonly onSkip: (file: string, reason: SkipReason, offset: number, detail: string) => void,
    /** Called with the byte change whenever segments are added to or dropped, for the store-wide total. */
    private readonly onBytes: (delta: number) => void,
  ) {}

  /** Reads the index once (sizes, counts, keys); later calls share the same promise. */
  load(): Promise<void> {
    this.loaded ??= this.scan();
    return this.loaded;
  }

  private async scan(): Promise<void> {
    const files: string[] = [];
    const legacy = join(this.dir, '..', LEGACY_FILE);
    files.push(legacy);
    let names: string[] = [];
    try {
      names = (await readdir(this.dir)).filter((n) => /^\d+\.log$/.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    files.push(...names.map((n) => join(this.dir, n)));
    this.lastSeq = names.reduce((m, n) => Math.max(m, Number.parseInt(n, 10)), 0);
    for (const file of files) {
      let buf: Buffer;
      try {
        buf = await readFile(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (buf.length === 0) continue;
      const segment: Segment = { file, bytes: buf.length, windows: 0, keys: [] };
      let since = 0;
      for (const it of items(buf, file.endsWith(LEGACY_FILE))) {
        if ('skip' in it) {
          this.onSkip(file, it.skip, it.offset, it.detail);
          continue;
        }
        const r = it.record;
        segment.windows += r.windows.length;
        for (const w of r.windows) if (w.end > this.newestEnd) this.newestEnd = w.end;
        if (r.key !== null) {
          segment.keys.push(r.key);
          this.keys.set(r.key, { hash: r.hash, accepted: r.windows.length });
        }
        // Parsing is CPU work on the event loop: give requests a turn every 256 KiB or so.
        if (it.offset - since > 256 * 1024) {
          since = it.offset;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      this.segments.push(segment);
      this.onBytes(buf.length);
    }
  }

  get windows(): number {
    return this.segments.reduce((s, g) => s + g.windows, 0);
  }

  get bytes(): number {
    return this.segments.reduce((s, g) => s + g.bytes, 0);
  }

  /** Segment files, oldest first: what a retrain reads. */
  files(): string[] {
    return this.segments.map((s) => s.file);
  }

  async readAll(): Promise<SampleWindow[]> {
    await this.load();
    const out: SampleWindow[] = [];
    for (const f of this.files()) for (const r of (await readSegment(f)).records) out.push(...r.windows);
    return out;
  }

  /**
   * Appends one upload as one record and resolves once it is on disk. `room(bytes)` is asked first and throws to
   * refuse (store-wide cap). Appends to one fingerprint run one at a time, so a retried key is always seen.
   */
  append(windows: readonly SampleWindow[], key: string | null, hash: string | null, room: (bytes: number) => void): Promise<AppendResult> {
    const job = this.tail.then(async () => {
      await this.load();
      if (key !== null) {
        const prior = this.keys.get(key);
        if (prior) {
          if (prior.hash !== hash) throw new IdempotencyConflict(`idempotency key ${JSON.stringify(key)} was used for a different upload`);
          return { duplicate: true, accepted: prior.accepted, total: this.windows };
        }
      }
      const buf = encodeRecord({ key, hash, windows: [...windows] });
      room(buf.length);
      const seg = await this.writable(buf.length);
      try {
        await seg.handle.write(buf);
        await seg.handle.datasync();
      } catch (err) {
        // The file may now end in part of this record: start a fresh segment so nothing is appended behind it.
        await this.closeActive();
        throw err;
      }
      seg.segment.bytes += buf.length;
      seg.segment.windows += windows.length;
      this.onBytes(buf.length);
      for (const w of windows) if (w.end > this.newestEnd) this.newestEnd = w.end;
      if (key !== null) {
        seg.segment.keys.push(key);
        this.keys.set(key, { hash, accepted: windows.length });
      }
      await this.enforceCaps();
      return { duplicate: false, accepted: windows.length, total: this.windows };
    });
    this.tail = job.catch(() => undefined);
    return job;
  }

  private async writable(bytes: number): Promise<{ handle: FileHandle; segment: Segment }> {
    const a = this.active;
    if (a && a.segment.bytes + bytes <= this.limits.segmentBytes && a.segment.windows < this.limits.maxWindows / 8) return a;
    await this.closeActive();
    await mkdir(this.dir, { recursive: true });
    const seq = ++this.lastSeq;
    const file = join(this.dir, `${String(seq).padStart(SEQ_DIGITS, '0')}.log`);
    const handle = await open(file, 'wx');
    // The new name must survive a power loss too, or an acknowledged record could vanish with its directory entry.
    await syncDir(this.dir);
    const segment: Segment = { file, bytes: 0, windows: 0, keys: [] };
    this.segments.push(segment);
    this.active = { handle, segment };
    return this.active;
  }

  private async closeActive(): Promise<void> {
    const a = this.active;
    this.active = null;
    if (a) await a.handle.close();
  }

  /** Drops whole oldest segments (never the one being written) while a cap is exceeded. */
  private async enforceCaps(): Promise<void> {
    while (this.segments.length > 1 && (this.bytes > this.limits.maxBytes || this.windows > this.limits.maxWindows)) {
      const old = this.segments.shift() as Segment;
      for (const k of old.keys) this.keys.delete(k);
      try {
        await unlink(old.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      this.onBytes(-old.bytes);
    }
  }

  async close(): Promise<void> {
    await this.tail;
    await this.closeActive();
  }
}

export async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
