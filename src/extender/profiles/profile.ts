// A workload's measured history, summarised with exponential decay: a sample `age` old weighs 2^(−age / halfLife),
// so a workload that changed its behaviour is re-learned within a few half-lives while a steady one keeps its whole
// history. Pure maths on plain arrays; the store owns the bounds.

export interface Sample {
  /** Epoch milliseconds when the agent's interval ended (as received by the extender). */
  readonly at: number;
  /** CPU cores used over the interval (the agent's rates.cpuSeconds). */
  readonly cores: number;
  /** Watts attributed to the pod over the interval; null when the agent has no power accounting. */
  readonly watts: number | null;
}

export interface ProfileSummary {
  readonly workload: string;
  readonly namespace: string;
  readonly name: string;
  /** Decay-weighted CPU cores per pod: mean and weighted quantiles. */
  readonly cores: { readonly mean: number; readonly p50: number; readonly p95: number };
  /** Decay-weighted mean attributed watts per pod; null when no sample carried watts. */
  readonly watts: number | null;
  readonly samples: number;
  /** Sum of the decay weights: how many fresh samples the history is worth. */
  readonly effectiveSamples: number;
  /** Seconds since the newest sample. */
  readonly ageSeconds: number;
  /** Where the history was read: Prometheus, or (unset) the agents' feed kept in this extender's memory. */
  readonly origin?: 'prometheus';
}

export const decayWeight = (ageMs: number, halfLifeMs: number): number => 0.5 ** (Math.max(0, ageMs) / halfLifeMs);

/**
 * Smallest value whose cumulative weight (values in ascending order) reaches q of the total weight. With equal
 * weights this is the nearest-rank percentile.
 */
export function weightedQuantile(values: readonly number[], weights: readonly number[], q: number): number {
  const order = values.map((_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const total = weights.reduce((s, w) => s + w, 0);
  let acc = 0;
  for (const i of order) {
    acc += weights[i] as number;
    // The relative tolerance keeps a boundary that floating point sums land a hair under from skipping a rank.
    if (acc >= q * total * (1 - 1e-12)) return values[i] as number;
  }
  return values[order[order.length - 1] as number] as number;
}

export function summarise(id: { workload: string; namespace: string; name: string }, samples: readonly Sample[], now: number, halfLifeMs: number): ProfileSummary | undefined {
  if (samples.length === 0) return undefined;
  const weights = samples.map((s) => decayWeight(now - s.at, halfLifeMs));
  const total = weights.reduce((s, w) => s + w, 0);
  if (!(total > 0)) return undefined;
  let cores = 0;
  let watts = 0;
  let wattWeight = 0;
  let newest = -Infinity;
  samples.forEach((s, i) => {
    const w = weights[i] as number;
    cores += w * s.cores;
    if (s.watts !== null) (watts += w * s.watts), (wattWeight += w);
    if (s.at > newest) newest = s.at;
  });
  const values = samples.map((s) => s.cores);
  return {
    ...id,
    cores: { mean: cores / total, p50: weightedQuantile(values, weights, 0.5), p95: weightedQuantile(values, weights, 0.95) },
    watts: wattWeight > 0 ? watts / wattWeight : null,
    samples: samples.length,
    effectiveSamples: total,
    ageSeconds: Math.max(0, (now - newest) / 1000),
  };
}
