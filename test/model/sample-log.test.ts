// The sample log on its own: record framing, torn and corrupt records written by hand, segment rotation and the caps
// (oldest segments unlinked, survivors never rewritten), idempotency keys across a restart, and the legacy file.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { encodeRecord, IdempotencyConflict, parseSegment, SampleLog, type LogLimits, type SkipReason } from '../../src/model/server/sample-log.js';
import type { SampleWindow } from '../../src/shared/wire/model.js';

const win = (i: number): SampleWindow => ({ start: i, end: i + 1, counters: { cpu_seconds_per_s: i % 7 }, watts: 100 + i });
const wins = (from: number, n: number): SampleWindow[] => Array.from({ length: n }, (_, k) => win(from + k));

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wattsched-log-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function openLog(limits: Partial<LogLimits> = {}) {
  const skips: { file: string; reason: SkipReason; detail: string }[] = [];
  let bytes = 0;
  const log = new SampleLog(join(dir, 'fp', 'samples'), { maxBytes: 1 << 30, maxWindows: 1_000_000, segmentBytes: 1 << 20, ...limits }, (file, reason, _o, detail) => skips.push({ file, reason, detail }), (d) => (bytes += d));
  return { log, skips, bytes: () => bytes };
}

const noRoom = (): void => undefined;

describe('record framing', () => {
  test('a record is "<crc32 of the JSON, 8 hex> <JSON>\\n" and parses back', () => {
    const buf = encodeRecord({ key: 'k1', hash: 'h', windows: [win(1)] });
    const text = buf.toString('utf8');
    const json = '{"k":"k1","h":"h","w":[{"start":1,"end":2,"counters":{"cpu_seconds_per_s":1},"watts":101}]}';
    expect(text).toBe(`${crc32(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}\n`);
    expect(parseSegment(buf)).toEqual({ records: [{ key: 'k1', hash: 'h', windows: [win(1)] }], bytes: buf.length, skipped: [] });
  });

  test.for([
    { name: 'flipped byte in the JSON', make: (b: Buffer) => Buffer.from(b.toString('utf8').replace('"watts":101', '"watts":901')), detail: 'checksum mismatch' },
    { name: 'no header', make: () => Buffer.from('{"k":null}\n'), detail: 'no checksum header' },
    { name: 'checksum right, not our JSON', make: () => Buffer.from(`${crc32(Buffer.from('{"w":[1]}')).toString(16).padStart(8, '0')} {"w":[1]}\n`), detail: 'not a list of sample windows' },
    { name: 'checksum right, broken JSON', make: () => Buffer.from(`${crc32(Buffer.from('{"w":[')).toString(16).padStart(8, '0')} {"w":[\n`), detail: 'not JSON' },
  ])('$name → corrupt, the records around it survive', ({ make, detail }) => {
    const good1 = encodeRecord({ key: null, hash: null, windows: [win(0)] });
    const bad = make(encodeRecord({ key: null, hash: null, windows: [win(1)] }));
    const good2 = encodeRecord({ key: null, hash: null, windows: [win(2)] });
    const parsed = parseSegment(Buffer.concat([good1, bad, good2]));
    expect(parsed.records.map((r) => r.windows[0]?.start)).toEqual([0, 2]);
    expect(parsed.skipped).toEqual([{ reason: 'corrupt', offset: good1.length, detail }]);
  });

  test('a tail without its newline is torn', () => {
    const good = encodeRecord({ key: null, hash: null, windows: [win(0)] });
    const half = encodeRecord({ key: null, hash: null, windows: [win(1)] }).subarray(0, 20);
    const parsed = parseSegment(Buffer.concat([good, half]));
    expect(parsed.records).toHaveLength(1);
    expect(parsed.skipped).toEqual([{ reason: 'torn', offset: good.length, detail: '20 bytes without a newline at the end' }]);
  });
});

describe('SampleLog', () => {
  test('hand-written torn and corrupt records are skipped and reported; the next append goes to a new segment', async () => {
    const a = openLog();
    await a.log.append(wins(0, 3), 'a', 'h-a', noRoom);
    await a.log.append(wins(3, 2), 'b', 'h-b', noRoom);
    await a.log.close();
    const [seg] = readdirSync(join(dir, 'fp', 'samples'));
    const file = join(dir, 'fp', 'samples', seg as string);
    // A corrupt record (a bit flipped on disk) between the two, and half a record at the end (a crash mid-append).
    const lines = readFileSync(file, 'utf8').split('\n');
    const flipped = (lines[1] as string).replace('"watts":', '"watts":9');
    writeFileSync(file, `${lines[0]}\n${flipped}\n`);
    appendFileSync(file, encodeRecord({ key: 'c', hash: 'h-c', windows: wins(5, 4) }).subarray(0, 37));

    const b = openLog();
    await b.log.load();
    expect(b.log.windows).toBe(3);
    expect(b.skips.map((s) => [s.reason, s.detail])).toEqual([
      ['corrupt', 'checksum mismatch'],
      ['torn', '37 bytes without a newline at the end'],
    ]);
    expect(await b.log.readAll()).toEqual(wins(0, 3));
    // The reopened log never appends behind the torn tail: a new segment file takes the next record.
    const r = await b.log.append(wins(10, 2), 'd', 'h-d', noRoom);
    expect(r).toEqual({ duplicate: false, accepted: 2, total: 5 });
    expect(readdirSync(join(dir, 'fp', 'samples')).sort()).toEqual(['00000001.log', '00000002.log']);
    await b.log.close();
    const c = openLog();
    await c.log.load();
    expect(await c.log.readAll()).toEqual([...wins(0, 3), ...wins(10, 2)]);
    expect(c.skips).toHaveLength(2);
    await c.log.close();
  });

  test('an empty segment left by a crash right after creating it is skipped, and its number is not reused', async () => {
    const segDir = join(dir, 'fp', 'samples');
    mkdirSync(segDir, { recursive: true });
    writeFileSync(join(segDir, '00000001.log'), encodeRecord({ key: null, hash: null, windows: wins(0, 2) }));
    writeFileSync(join(segDir, '00000002.log'), '');
    const a = openLog();
    expect(await a.log.append(wins(2, 1), null, null, noRoom)).toEqual({ duplicate: false, accepted: 1, total: 3 });
    expect(readdirSync(segDir).sort()).toEqual(['00000001.log', '00000002.log', '00000003.log']);
    expect(a.skips).toEqual([]);
    await a.log.close();
  });

  test('a key already stored answers duplicate (also after a restart); the same key with other windows is refused', async () => {
    const a = openLog();
    expect(await a.log.append(wins(0, 4), 'k', 'h1', noRoom)).toEqual({ duplicate: false, accepted: 4, total: 4 });
    expect(await a.log.append(wins(0, 4), 'k', 'h1', noRoom)).toEqual({ duplicate: true, accepted: 4, total: 4 });
    await a.log.close();
    const b = openLog();
    expect(await b.log.append(wins(0, 4), 'k', 'h1', noRoom)).toEqual({ duplicate: true, accepted: 4, total: 4 });
    await expect(b.log.append(wins(9, 1), 'k', 'h2', noRoom)).rejects.toBeInstanceOf(IdempotencyConflict);
    // Concurrent retries of one key: one is stored, the other sees it.
    const [x, y] = await Promise.all([b.log.append(wins(20, 2), 'z', 'hz', noRoom), b.log.append(wins(20, 2), 'z', 'hz', noRoom)]);
    expect([x.duplicate, y.duplicate]).toEqual([false, true]);
    expect(b.log.windows).toBe(6);
    await b.log.close();
  });

  test('the caps unlink whole oldest segments and never rewrite the ones kept', async () => {
    // Windows 100..999 print with the same number of digits, so every record of 10 has the same size.
    const rec = (i: number) => wins(100 + i * 10, 10);
    const one = encodeRecord({ key: null, hash: null, windows: rec(0) }).length;
    // Segments of two records; the cap holds six records' worth.
    const a = openLog({ segmentBytes: 2 * one + 10, maxBytes: 6 * one + 30 });
    for (let i = 0; i < 6; i++) await a.log.append(rec(i), null, null, noRoom);
    const segDir = join(dir, 'fp', 'samples');
    const third = join(segDir, '00000003.log');
    const before = { ino: statSync(third).ino, mtime: statSync(third).mtimeMs, bytes: readFileSync(third) };
    for (let i = 6; i < 9; i++) await a.log.append(rec(i), null, null, noRoom);
    // 9 records in segments of two: [0,1] [2,3] [4,5] [6,7] [8]. Above six records' worth the oldest segment goes:
    // after record 6 (7 records) [0,1] is dropped, after record 8 (7 again) [2,3]; [4,5] [6,7] [8] remain.
    expect(readdirSync(segDir).sort()).toEqual(['00000003.log', '00000004.log', '00000005.log']);
    expect(a.log.windows).toBe(50);
    expect(a.bytes()).toBe(5 * one);
    expect((await a.log.readAll()).map((w) => w.start)).toEqual(wins(140, 50).map((w) => w.start));
    // The kept segment is the same file, untouched.
    expect({ ino: statSync(third).ino, mtime: statSync(third).mtimeMs, bytes: readFileSync(third) }).toEqual(before);
    await a.log.close();
  });

  test('a window cap drops the same way', async () => {
    const a = openLog({ maxWindows: 80 });
    // A new segment every 80 / 8 = 10 windows; 12 uploads of 10 → oldest dropped while more than 80 are kept.
    for (let i = 0; i < 12; i++) await a.log.append(wins(i * 10, 10), null, null, noRoom);
    expect(a.log.windows).toBe(80);
    expect((await a.log.readAll())[0]?.start).toBe(40);
    await a.log.close();
  });

  test('room() refusing leaves nothing on disk', async () => {
    const a = openLog();
    await expect(a.log.append(wins(0, 1), 'k', 'h', () => {
      throw new Error('full');
    })).rejects.toThrow('full');
    expect(a.log.windows).toBe(0);
    // The key was not taken by the refused upload.
    expect(await a.log.append(wins(0, 1), 'k', 'h', noRoom)).toMatchObject({ duplicate: false });
    await a.log.close();
  });

  test('the pre-checksum samples.jsonl is read as the oldest segment, its torn tail skipped', async () => {
    mkdirSync(join(dir, 'fp'), { recursive: true });
    writeFileSync(join(dir, 'fp', 'samples.jsonl'), `${JSON.stringify(win(0))}\n${JSON.stringify(win(1))}\n{"start":2,"en`);
    const a = openLog();
    await a.log.append(wins(5, 1), null, null, noRoom);
    expect(await a.log.readAll()).toEqual([win(0), win(1), win(5)]);
    expect(a.skips.map((s) => s.reason)).toEqual(['torn']);
    await a.log.close();
  });
});
