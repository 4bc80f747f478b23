// Pure feature functions: from what a node advertises (curve task), from two measured points (shape task) and from
// counter rates (counters task). The same functions serve training, evaluation, the extender and the agent, so a
// model is always fed exactly what it was trained on.
import type { NodeHardware } from '../shared/wire/model.js';

/** Load levels of a curve, in output order: active idle (0 %), 10 %, …, 100 %. */
export const CURVE_LEVELS = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100] as const;
/** SPECpower column names in output order. */
export const CURVE_COLUMNS = CURVE_LEVELS.map((l) => (l === 0 ? 'watts_idle' : `watts_${l}`));

export const CURVE_FEATURES = [
  'nodes',
  'ln_threads_per_node',
  'ln_cores_per_node',
  'ln_sockets_per_node',
  'ln_memory_gb_per_node',
  'year',
  'ln_cpu_mhz',
  'threads_per_core',
  'vendor_intel',
  'vendor_amd',
  'vendor_arm',
  'cpu_low_power',
  'cpu_desktop_class',
] as const;

export function cpuVendor(cpuModel: string, given?: string): 'intel' | 'amd' | 'arm' | 'other' {
  const g = (given ?? '').toLowerCase();
  if (g === 'intel' || g === 'amd' || g === 'arm') return g;
  const m = cpuModel.toLowerCase();
  if (/intel|xeon|pentium|celeron|core\s*(i\d|2|duo|ultra)|atom/.test(m)) return 'intel';
  if (/amd|opteron|epyc|ryzen|athlon|turion/.test(m)) return 'amd';
  if (/arm|ampere|altra|graviton|cavium|thunderx|kunpeng|neoverse/.test(m)) return 'arm';
  return 'other';
}

/** Low-voltage or micro-server parts draw far less per core than their core count suggests. */
const LOW_POWER = /\b(atom|xeon\s+d-?|l\d{4}|xeon\s+l|e5-?\d{4}l|\d{4}l\b|opteron\s+\d{4}\s*he|\bhe\b|ee\b)/i;
/** Desktop and entry single-socket parts (Core, Pentium, Celeron, Xeon E3/E-2xxx/3xxx, Ryzen, Opteron 1xxx). */
const DESKTOP = /\b(core|pentium|celeron|ryzen|athlon|xeon\s+e3|xeon\s+e-2\d{3}|xeon\s+[xwel]?3\d{3}|opteron\s+1\d{2,3})\b/i;

export function curveFeatures(hw: NodeHardware): number[] {
  const nodes = Math.max(1, hw.nodes ?? 1);
  const vendor = cpuVendor(hw.cpuModel, hw.cpuVendor);
  return [
    nodes,
    Math.log(hw.threads / nodes),
    Math.log(hw.cores / nodes),
    Math.log(hw.sockets / nodes),
    Math.log(hw.memoryGb / nodes),
    hw.year,
    Math.log(hw.cpuMhz),
    hw.threads / hw.cores,
    vendor === 'intel' ? 1 : 0,
    vendor === 'amd' ? 1 : 0,
    vendor === 'arm' ? 1 : 0,
    LOW_POWER.test(hw.cpuModel) ? 1 : 0,
    DESKTOP.test(hw.cpuModel) ? 1 : 0,
  ];
}

export const SHAPE_FEATURES = ['watts_idle', 'watts_100', 'idle_over_peak', 'ln_watts_100'] as const;

export function shapeFeatures(idleWatts: number, peakWatts: number): number[] {
  return [idleWatts, peakWatts, idleWatts / peakWatts, Math.log(peakWatts)];
}

/** Counter features are the rates themselves, in the model's order; a missing counter is an error, not a zero. */
export function counterFeatures(rates: Readonly<Record<string, number>>, featureNames: readonly string[]): number[] | { missing: string[] } {
  const missing = featureNames.filter((n) => typeof rates[n] !== 'number' || !Number.isFinite(rates[n]));
  if (missing.length > 0) return { missing };
  return featureNames.map((n) => rates[n] as number);
}

const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/\((r|tm)\)|®|™/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');

/**
 * CPU family/generation, e.g. "Intel Xeon Platinum 8380" → "xeon-platinum-83xx", "AMD EPYC 7763" → "epyc-77xx",
 * "Xeon E5-2660 v3" → "xeon-e5-26xx-v3". Models of one generation differ in the last digits, so those are masked;
 * used to group cross-validation folds and as the model server's second fallback.
 */
export function cpuFamily(cpuModel: string): string {
  const cleaned = slug(cpuModel.replace(/@.*$/, '').replace(/\b\d+(\.\d+)?\s*ghz\b/i, ''))
    .replace(/\b(intel|amd|cpu|processor|genuine)\b-?/g, '')
    .replace(/^-+|-+$/g, '');
  const tokens = cleaned.split('-').filter((t) => t !== '');
  const out: string[] = [];
  for (const t of tokens) {
    const m = /^([a-z]*)(\d+)([a-z]*)$/.exec(t);
    if (m && (m[2] as string).length >= 3) {
      out.push(`${m[1]}${(m[2] as string).slice(0, 2)}${'x'.repeat((m[2] as string).length - 2)}`);
      break;
    }
    out.push(t);
    if (out.length >= 4) break;
  }
  return out.join('-') || 'unknown';
}

/** Hardware fingerprint used by the model server: CPU model, sockets, cores and GPU model. */
export function fingerprint(hw: { cpuModel: string; sockets: number; cores: number; gpuModel?: string | undefined }): string {
  const gpu = hw.gpuModel ? `-gpu-${slug(hw.gpuModel)}` : '';
  return `${slug(hw.cpuModel) || 'unknown'}-s${Math.round(hw.sockets)}-c${Math.round(hw.cores)}${gpu}`;
}
