// RAPL through the powercap class (/sys/class/powercap): intel-rapl:N (package-N, with core/uncore/dram
// sub-zones) and psys, the same tree on AMD (the kernel's RAPL driver names its zones the same way; some kernels
// use amd-rapl as the control type). The node total is psys when the platform has it (it already contains the
// packages), else every package plus every dram zone; core and uncore are inside their package and only exported.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Meter, type MeterInput, type MeterOpen, type PowerReading, type ZoneWatts, energyDelta, explainReadError, sumTotal } from './types.js';

const ZONE_DIR = /^(intel|amd)-rapl:(\d+)(?::(\d+))?$/;

interface Zone {
  dir: string;
  label: string;
  kind: 'package' | 'core' | 'uncore' | 'dram' | 'psys' | 'other';
  maxUj: number | null;
  lastUj: number;
}

function kindOf(name: string): Zone['kind'] {
  if (name.startsWith('package')) return 'package';
  if (name === 'core' || name === 'cores') return 'core';
  if (name === 'uncore') return 'uncore';
  if (name === 'dram') return 'dram';
  if (name === 'psys') return 'psys';
  return 'other';
}

function readNumber(path: string): number {
  const v = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isFinite(v)) throw new Error(`${path}: not a number`);
  return v;
}

export class RaplMeter implements Meter {
  readonly name = 'rapl';
  readonly source = 'rapl' as const;
  readonly platform = false;
  private lastNs: number;

  private constructor(private readonly zones: Zone[], nowNs: number, private readonly usePsys: boolean) {
    this.lastNs = nowNs;
  }

  /** Opens every readable zone under `root` (normally /sys/class/powercap) and takes the baseline reading. */
  static open(root: string, nowNs: number): MeterOpen {
    let entries: string[];
    try {
      entries = readdirSync(root).filter((d) => ZONE_DIR.test(d)).sort();
    } catch (err) {
      return { unavailable: { name: 'rapl', reason: explainReadError(root, err) } };
    }
    if (entries.length === 0) return { unavailable: { name: 'rapl', reason: `${root}: no intel-rapl/amd-rapl zones` } };
    const zones: Zone[] = [];
    const problems: string[] = [];
    for (const d of entries) {
      const dir = join(root, d);
      const m = ZONE_DIR.exec(d) as RegExpExecArray;
      try {
        const name = readFileSync(join(dir, 'name'), 'utf8').trim();
        const kind = kindOf(name);
        const lastUj = readNumber(join(dir, 'energy_uj'));
        let maxUj: number | null = null;
        try {
          maxUj = readNumber(join(dir, 'max_energy_range_uj'));
        } catch {
          maxUj = null;
        }
        // Sub-zones carry no package number in their name, so the parent's index keeps core-0 apart from core-1.
        const label = m[3] === undefined || /\d$/.test(name) ? name : `${name}-${m[2]}`;
        zones.push({ dir, label, kind, maxUj, lastUj });
      } catch (err) {
        problems.push(explainReadError(join(dir, 'energy_uj'), err));
      }
    }
    if (zones.length === 0) return { unavailable: { name: 'rapl', reason: problems.join('; ') } };
    const usePsys = zones.some((z) => z.kind === 'psys');
    if (!usePsys && !zones.some((z) => z.kind === 'package')) {
      return { unavailable: { name: 'rapl', reason: `no package or psys zone among ${zones.map((z) => z.label).join(', ')}` } };
    }
    return { meter: new RaplMeter(zones, nowNs, usePsys) };
  }

  async read(input: MeterInput): Promise<PowerReading> {
    const seconds = (input.monotonicNs - this.lastNs) / 1e9;
    if (!(seconds > 0)) throw new Error('rapl: no time has passed since the previous reading');
    const out: ZoneWatts[] = [];
    const now: number[] = [];
    // Read every zone before updating any, so a failure leaves the baseline intact for the next layer's retry.
    for (const z of this.zones) {
      const path = join(z.dir, 'energy_uj');
      try {
        now.push(readNumber(path));
      } catch (err) {
        throw new Error(explainReadError(path, err));
      }
    }
    this.zones.forEach((z, i) => {
      const uj = now[i] as number;
      const watts = energyDelta(z.lastUj, uj, z.maxUj) / 1e6 / seconds;
      z.lastUj = uj;
      const inTotal = this.usePsys ? z.kind === 'psys' : z.kind === 'package' || z.kind === 'dram';
      out.push({ zone: z.label, watts, inTotal });
    });
    this.lastNs = input.monotonicNs;
    return { source: 'rapl', watts: sumTotal(out), zones: out };
  }

  async close(): Promise<void> {}
}
