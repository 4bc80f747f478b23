// hwmon sensors (/sys/class/hwmon/hwmonN): power*_input / power*_average in microwatts and cumulative
// energy*_input in microjoules. The ACPI power meter (ACPI000D, driver power_meter) is an hwmon device too, but it
// measures the whole platform, so it is its own meter and ranks first. Some drivers keep their attributes in the
// device/ subdirectory instead of the hwmon directory itself; both are looked at.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Meter, type MeterInput, type MeterOpen, type PowerReading, type ZoneWatts, energyDelta, explainReadError, sumTotal } from './types.js';

const ACPI_NAME = 'power_meter';

interface Sensor {
  path: string;
  zone: string;
  kind: 'power' | 'energy';
  lastUj: number;
}

function readNumber(path: string): number {
  const v = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isFinite(v)) throw new Error(`${path}: not a number`);
  return v;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The sensors of one hwmon device: power (µW) preferred over energy (µJ) for the same index, as it needs no state. */
function sensorsOf(dev: string, name: string): { sensors: Sensor[]; problems: string[] } {
  const dirs = [dev, join(dev, 'device')].filter((d) => existsSync(d));
  const sensors: Sensor[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const d of dirs) {
    let files: string[];
    try {
      files = readdirSync(d).sort();
    } catch {
      continue;
    }
    for (const f of files) {
      const m = /^(power|energy)(\d+)_(input|average)$/.exec(f);
      if (!m || (m[1] === 'energy' && m[3] !== 'input')) continue;
      const idx = `${m[1]}${m[2]}`;
      if (seen.has(idx)) continue;
      const label = readText(join(d, `${idx}_label`));
      const path = join(d, f);
      try {
        const v = readNumber(path);
        seen.add(idx);
        sensors.push({ path, zone: `${name}/${label ?? idx}`, kind: m[1] as 'power' | 'energy', lastUj: m[1] === 'energy' ? v : 0 });
      } catch (err) {
        problems.push(explainReadError(path, err));
      }
    }
  }
  // A device with both powerN and energyN for the same quantity would count twice: keep the power sensors then.
  const power = sensors.filter((s) => s.kind === 'power');
  return { sensors: power.length > 0 ? power : sensors, problems };
}

export class HwmonMeter implements Meter {
  readonly source: 'hwmon' | 'acpi';
  private lastNs: number;

  private constructor(readonly name: string, readonly platform: boolean, private readonly sensors: Sensor[], nowNs: number) {
    this.source = platform ? 'acpi' : 'hwmon';
    this.lastNs = nowNs;
  }

  /**
   * `acpi`: only the ACPI power_meter device(s); otherwise every other hwmon device with power or energy sensors.
   * Takes the baseline reading of energy sensors.
   */
  static open(root: string, which: 'acpi' | 'hwmon', nowNs: number): MeterOpen {
    let devs: string[];
    try {
      devs = readdirSync(root).filter((d) => d.startsWith('hwmon')).sort();
    } catch (err) {
      return { unavailable: { name: which, reason: explainReadError(root, err) } };
    }
    const sensors: Sensor[] = [];
    const problems: string[] = [];
    for (const d of devs) {
      const dev = join(root, d);
      const name = readText(join(dev, 'name')) ?? readText(join(dev, 'device', 'name')) ?? d;
      if ((name === ACPI_NAME) !== (which === 'acpi')) continue;
      const found = sensorsOf(dev, name === ACPI_NAME ? `acpi-${d}` : name);
      sensors.push(...found.sensors);
      problems.push(...found.problems);
    }
    if (sensors.length === 0) {
      const what = which === 'acpi' ? 'no ACPI power_meter device' : 'no hwmon power or energy sensor';
      return { unavailable: { name: which, reason: `${root}: ${what}${problems.length ? ` (${problems.join('; ')})` : ''}` } };
    }
    return { meter: new HwmonMeter(which, which === 'acpi', sensors, nowNs) };
  }

  async read(input: MeterInput): Promise<PowerReading> {
    const seconds = (input.monotonicNs - this.lastNs) / 1e9;
    const values: number[] = [];
    for (const s of this.sensors) {
      try {
        values.push(readNumber(s.path));
      } catch (err) {
        throw new Error(explainReadError(s.path, err));
      }
    }
    if (this.sensors.some((s) => s.kind === 'energy') && !(seconds > 0)) throw new Error(`${this.name}: no time has passed since the previous reading`);
    const zones: ZoneWatts[] = this.sensors.map((s, i) => {
      const v = values[i] as number;
      if (s.kind === 'power') return { zone: s.zone, watts: v / 1e6, inTotal: true };
      const watts = energyDelta(s.lastUj, v, null) / 1e6 / seconds;
      s.lastUj = v;
      return { zone: s.zone, watts, inTotal: true };
    });
    this.lastNs = input.monotonicNs;
    return { source: this.source, watts: sumTotal(zones), zones };
  }

  async close(): Promise<void> {}
}
