// NVIDIA GPUs through `nvidia-smi --query-gpu=... --format=csv,noheader,nounits -lms N`: one long-lived child that
// prints a line per GPU every N ms. Each interval's watts is the mean of the power.draw samples that arrived in it,
// so a 100 ms sampler feeding a 1 s interval averages ten readings instead of taking one. The parser is pure and is
// what the tests replay recorded nvidia-smi output through.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Meter, MeterOpen, PowerReading, ZoneWatts } from './types.js';
import { sumTotal } from './types.js';

export const SMI_FIELDS = ['index', 'power.draw', 'utilization.gpu', 'utilization.memory', 'clocks.current.sm'] as const;

export type SmiRecord = Record<string, number | null>;

/**
 * One csv,noheader,nounits line into numbers by field name. nvidia-smi writes "[N/A]" or "[Not Supported]" for a
 * field the GPU lacks: that is null, never 0. Returns null for a line that does not have one value per field.
 */
export function parseSmiLine(fields: readonly string[], line: string): SmiRecord | null {
  const parts = line.split(',').map((s) => s.trim());
  if (parts.length !== fields.length || parts.every((p) => p === '')) return null;
  const out: SmiRecord = {};
  fields.forEach((f, i) => {
    const p = parts[i] as string;
    const v = p === '' || p.startsWith('[') ? NaN : Number(p);
    out[f] = Number.isFinite(v) ? v : null;
  });
  return out;
}

/** Header "power.draw [W]" → "power.draw": the field names of a csv file written with a header. */
export function smiHeaderFields(header: string): string[] {
  return header.split(',').map((h) => h.trim().replace(/\s*\[.*\]$/, ''));
}

export interface PmonRecord {
  gpu: number;
  pid: number;
  /** SM utilisation, %; null when nvidia-smi prints "-" (no sample for the process this period). */
  sm: number | null;
}

/**
 * One line of `nvidia-smi pmon -s um`: "gpu pid type sm mem enc dec jpg ofa fb ccpm command". Header lines start
 * with '#'; a GPU without processes prints "-" for the pid. Null for anything that is not a process row.
 */
export function parsePmonLine(line: string): PmonRecord | null {
  if (line.trimStart().startsWith('#')) return null;
  const f = line.trim().split(/\s+/);
  if (f.length < 4) return null;
  const gpu = Number(f[0]);
  const pid = Number(f[1]);
  if (!Number.isInteger(gpu) || !Number.isInteger(pid) || pid <= 0) return null;
  const sm = Number(f[3]);
  return { gpu, pid, sm: f[3] === '-' || !Number.isFinite(sm) ? null : sm };
}

/** Per GPU, each process's summed SM % since the last take: the weights that split that GPU's watts. */
export class PmonAccumulator {
  private readonly weights = new Map<number, Map<number, number>>();

  add(r: PmonRecord): void {
    if (r.sm === null || r.sm <= 0) return;
    let g = this.weights.get(r.gpu);
    if (g === undefined) {
      g = new Map();
      this.weights.set(r.gpu, g);
    }
    g.set(r.pid, (g.get(r.pid) ?? 0) + r.sm);
  }

  take(): { zone: string; pid: number; weight: number }[] {
    const out: { zone: string; pid: number; weight: number }[] = [];
    for (const [gpu, procs] of this.weights) for (const [pid, weight] of procs) out.push({ zone: `gpu-${gpu}`, pid, weight });
    this.weights.clear();
    return out;
  }
}

interface GpuWindow {
  sum: number;
  n: number;
  last: number | null;
}

/** Running per-GPU means of power.draw between reads. Pure state, fed line by line. */
export class SmiAccumulator {
  private readonly gpus = new Map<number, GpuWindow>();

  add(r: SmiRecord): void {
    const idx = r.index;
    const w = r['power.draw'];
    if (idx === null || idx === undefined) return;
    let g = this.gpus.get(idx);
    if (g === undefined) {
      g = { sum: 0, n: 0, last: null };
      this.gpus.set(idx, g);
    }
    if (w === null || w === undefined) return;
    g.sum += w;
    g.n += 1;
    g.last = w;
  }

  /** Mean watts per GPU since the previous take (the last sample when none arrived since); resets the windows. */
  take(): { index: number; watts: number | null; samples: number }[] {
    return [...this.gpus.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([index, g]) => {
        const watts = g.n > 0 ? g.sum / g.n : g.last;
        const samples = g.n;
        g.sum = 0;
        g.n = 0;
        return { index, watts, samples };
      });
  }
}

export interface NvidiaOptions {
  command: string;
  periodMs: number;
  /** How long open() waits for the first line before calling the GPUs unavailable. */
  startTimeoutMs: number;
}

export class NvidiaMeter implements Meter {
  readonly name = 'nvidia';
  readonly source = 'nvidia' as const;
  readonly platform = false;
  private exited: string | null = null;
  private lastLineAt = performance.now();

  private pmon: ChildProcess | null = null;
  private readonly procs = new PmonAccumulator();

  private constructor(private readonly child: ChildProcess, private readonly acc: SmiAccumulator, private readonly opts: NvidiaOptions) {}

  /**
   * Per-process SM use for attribution, from a second sampler; best effort: without it the GPUs' watts stay in the
   * `gpu` row, so nothing is lost, only not split.
   */
  private startPmon(): void {
    const child = spawn(this.opts.command, ['pmon', '-s', 'um', '-d', '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.on('error', () => {});
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const r = parsePmonLine(line);
      if (r !== null) this.procs.add(r);
    });
    this.pmon = child;
  }

  static async open(opts: NvidiaOptions): Promise<MeterOpen> {
    const args = [`--query-gpu=${SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits', `-lms`, String(opts.periodMs)];
    const child = spawn(opts.command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const acc = new SmiAccumulator();
    const meter = new NvidiaMeter(child, acc, opts);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 2000) stderr += d;
    });
    const first = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(`no output from ${opts.command} within ${opts.startTimeoutMs} ms`), opts.startTimeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        resolve(`${opts.command}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found (no NVIDIA driver)' : err.message}`);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        meter.exited = `${opts.command} exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim().slice(0, 300)}` : ''}`;
        resolve(meter.exited);
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const r = parseSmiLine(SMI_FIELDS, line);
        if (r === null) return;
        acc.add(r);
        meter.lastLineAt = performance.now();
        clearTimeout(timer);
        resolve(null);
      });
    });
    const problem = await first;
    if (problem !== null) {
      child.kill();
      return { unavailable: { name: 'nvidia', reason: problem } };
    }
    meter.startPmon();
    return { meter };
  }

  async read(): Promise<PowerReading> {
    if (this.exited !== null) throw new Error(this.exited);
    // A sampler that stopped printing is as dead as one that exited: its last value would be reported forever.
    const silentMs = performance.now() - this.lastLineAt;
    if (silentMs > Math.max(5000, 10 * this.opts.periodMs)) throw new Error(`nvidia-smi silent for ${Math.round(silentMs)} ms`);
    const zones: ZoneWatts[] = [];
    for (const g of this.acc.take()) {
      if (g.watts === null) throw new Error(`GPU ${g.index}: power.draw not reported`);
      zones.push({ zone: `gpu-${g.index}`, watts: g.watts, inTotal: true });
    }
    return { source: 'nvidia', watts: sumTotal(zones), zones, processes: this.procs.take() };
  }

  async close(): Promise<void> {
    if (this.exited === null) this.child.kill();
    if (this.pmon !== null && this.pmon.exitCode === null) this.pmon.kill();
  }
}
