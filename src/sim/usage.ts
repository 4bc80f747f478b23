// How much of its request each pod uses. The trace has requests only; `--usage` says how to turn them into use:
// a fixed factor ("1", "0.6") or a per-pod draw ("uniform:0.2,1", "beta:2,3"), seeded so a run repeats.
import { WS_ERR_USAGE } from '../shared/errors.js';
import type { SimPod } from './data.js';
import { mulberry32 } from '../shared/random.js';

export type UsageSpec = { kind: 'factor'; factor: number } | { kind: 'uniform'; lo: number; hi: number } | { kind: 'beta'; a: number; b: number };

export const DEFAULT_USAGE = '1';

export function parseUsage(text: string): UsageSpec {
  const bad = (why: string): never => {
    throw new WS_ERR_USAGE(`--usage ${JSON.stringify(text)}: ${why} (a factor in (0, 1], uniform:LO,HI or beta:A,B)`);
  };
  const [kind, args] = text.includes(':') ? (text.split(':', 2) as [string, string]) : ['factor', text];
  const nums = args.split(',').map((s) => Number(s.trim()));
  if (nums.some((x) => !Number.isFinite(x)) || args.trim() === '') bad('not numbers');
  if (kind === 'factor') {
    if (nums.length !== 1 || !((nums[0] as number) > 0 && (nums[0] as number) <= 1)) bad('the factor must be one number in (0, 1]');
    return { kind, factor: nums[0] as number };
  }
  if (kind === 'uniform') {
    const [lo, hi] = nums as [number, number];
    if (nums.length !== 2 || !(lo >= 0 && hi <= 1 && lo <= hi)) bad('need 0 ≤ LO ≤ HI ≤ 1');
    return { kind, lo, hi };
  }
  if (kind === 'beta') {
    const [a, b] = nums as [number, number];
    if (nums.length !== 2 || !(a > 0 && b > 0)) bad('need A > 0 and B > 0');
    return { kind, a, b };
  }
  return bad(`unknown kind ${JSON.stringify(kind)}`);
}

/** A Gamma(shape, 1) draw (Marsaglia–Tsang), for Beta = X/(X+Y). */
function gamma(shape: number, rand: () => number): number {
  if (shape < 1) return gamma(shape + 1, rand) * Math.pow(rand() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      // Box–Muller normal.
      x = Math.sqrt(-2 * Math.log(rand() || Number.MIN_VALUE)) * Math.cos(2 * Math.PI * rand());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u || Number.MIN_VALUE) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Used millicores per pod. A draw is per pod, so every policy replays the same usage. */
export function podUsage(pods: readonly SimPod[], spec: UsageSpec, seed = 1): Float64Array {
  const rand = mulberry32(seed ^ 0x9e3779b9);
  return Float64Array.from(pods, (p) => {
    switch (spec.kind) {
      case 'factor':
        return p.cpuMilli * spec.factor;
      case 'uniform':
        return p.cpuMilli * (spec.lo + (spec.hi - spec.lo) * rand());
      case 'beta': {
        const x = gamma(spec.a, rand);
        return p.cpuMilli * (x / (x + gamma(spec.b, rand)));
      }
    }
  });
}
