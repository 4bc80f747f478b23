// The optimum no online placement can beat: at every instant the cluster's load split fractionally over the nodes to
// minimise total power, ignoring pod granularity, memory, migration limits and the power-down delay.
//
// Each node's power is piecewise linear in its load with breakpoints at 0, 10, …, 100 % and need not be convex, so a
// greedy split is not exact. But fix a linear piece for every node and the problem is an LP whose optimal vertex has
// at most one node strictly inside its piece; so some optimum has every node but one ("free") at a breakpoint. A DP
// over breakpoint sums (integers on a grid that divides every node's 10 % step) gives the cheapest way for all nodes
// but the free one to carry exactly B; the free node carries the rest on its own curve. Minimising over the free
// node's type and B is exact. In power-down an empty node may be off (0 W), which is one more breakpoint value.
import type { PowerCurve } from '../model/curve.js';
import { WS_ERR_SIM_INPUT } from '../shared/errors.js';
import type { SimNode } from './data.js';
import { nodeWatts } from './energy.js';

export interface BoundNode {
  readonly curve: PowerCurve;
  readonly capacityMilli: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Grids bigger than this would make the DP slow; such clusters need integer thread counts. */
const MAX_GRID = 4_000_000;

export interface Bound {
  /** Minimum total watts for a cluster load of `loadMilli` (clamped to the cluster's capacity). */
  watts(loadMilli: number): number;
}

export function createBound(nodes: readonly BoundNode[], powerDown: boolean): Bound {
  // Group identical nodes: the free node only matters by type, so one DP per type.
  const types: { curve: PowerCurve; capacityMilli: number; count: number }[] = [];
  for (const n of nodes) {
    const t = types.find((x) => x.capacityMilli === n.capacityMilli && x.curve.every((w, k) => w === n.curve[k]));
    if (t) t.count++;
    else types.push({ curve: n.curve, capacityMilli: n.capacityMilli, count: 1 });
  }
  let unit = 0;
  for (const t of types) {
    const step = t.capacityMilli / 10;
    if (!Number.isInteger(step)) throw new WS_ERR_SIM_INPUT('servers', `node capacity ${t.capacityMilli} millicores is not a multiple of 10`);
    unit = gcd(step, unit);
  }
  const steps = types.map((t) => t.capacityMilli / 10 / unit);
  const grid = types.reduce((s, t, i) => s + t.count * 10 * (steps[i] as number), 0);
  if (grid > MAX_GRID) throw new WS_ERR_SIM_INPUT('servers', `the exact bound needs a ${grid}-point grid (limit ${MAX_GRID}); use whole thread counts`);
  const capacity = grid * unit;
  const value = (t: number, k: number): number => (k === 0 && powerDown ? 0 : ((types[t] as (typeof types)[number]).curve[k] as number));

  // without[t][B]: cheapest watts for every node except one of type t, all at breakpoints, summing to B grid units.
  const without = types.map((_, skip) => {
    let dp = new Float64Array(grid + 1).fill(Infinity);
    dp[0] = 0;
    let reach = 0;
    types.forEach((t, ti) => {
      const s = steps[ti] as number;
      for (let c = 0; c < t.count - (ti === skip ? 1 : 0); c++) {
        const next = new Float64Array(grid + 1).fill(Infinity);
        for (let b = 0; b <= reach; b++) {
          const base = dp[b] as number;
          if (base === Infinity) continue;
          for (let k = 0; k <= 10; k++) {
            const v = base + value(ti, k);
            const j = b + k * s;
            if (v < (next[j] as number)) next[j] = v;
          }
        }
        reach += 10 * s;
        dp = next;
      }
    });
    return { dp, reach };
  });

  const memo = new Map<number, number>();
  return {
    watts(loadMilli: number): number {
      const load = Math.min(capacity, Math.max(0, loadMilli));
      const hit = memo.get(load);
      if (hit !== undefined) return hit;
      const x = load / unit;
      let best = Infinity;
      types.forEach((t, ti) => {
        const { dp, reach } = without[ti] as { dp: Float64Array; reach: number };
        const span = 10 * (steps[ti] as number);
        const lo = Math.max(0, Math.ceil(x - span - 1e-9));
        const hi = Math.min(reach, Math.floor(x + 1e-9));
        for (let b = lo; b <= hi; b++) {
          const rest = dp[b] as number;
          if (rest === Infinity) continue;
          const freeMilli = Math.max(0, (x - b) * unit);
          const free = freeMilli <= 1e-9 && powerDown ? 0 : nodeWatts(t.curve, t.capacityMilli, freeMilli);
          if (rest + free < best) best = rest + free;
        }
      });
      memo.set(load, best);
      return best;
    },
  };
}

/**
 * Bound energy over the same horizon as the replay: between events the load is the usage of every live pod (all
 * pods, placed or not, so a policy that leaves pods unschedulable can come in under it), held constant.
 */
export function boundEnergyKWh(events: readonly { t: number; deltaMilli: number }[], nodes: readonly SimNode[], powerDown: boolean): number {
  const bound = createBound(nodes, powerDown);
  let load = 0;
  let joules = 0;
  for (let e = 0; e < events.length; ) {
    const t = (events[e] as { t: number }).t;
    for (; e < events.length && (events[e] as { t: number }).t === t; e++) load += (events[e] as { deltaMilli: number }).deltaMilli;
    const next = e < events.length ? (events[e] as { t: number }).t : t;
    // Float sums drift; rounding to 1e-6 millicores keeps the memo hitting.
    joules += bound.watts(Math.round(load * 1e6) / 1e6) * (next - t);
  }
  return joules / 3.6e6;
}
