// Error measures over watts, by row and by validation group. Pure.

export interface ErrorSummary {
  n: number;
  mape_percent: number;
  rmse_watts: number;
  worst_group: { group: string; n: number; mape_percent: number } | null;
  per_output: Record<string, { mape_percent: number; rmse_watts: number }>;
}

/**
 * MAPE averages |pred − y|/y over every scored cell (row × scored output), RMSE over the same cells.
 * `scored` holds the output indexes that count.
 */
export function summarise(pred: readonly (readonly number[])[], truth: readonly (readonly number[])[], groups: readonly string[], outputNames: readonly string[], scored: readonly number[]): ErrorSummary {
  let ape = 0;
  let se = 0;
  let cells = 0;
  const byGroup = new Map<string, { ape: number; cells: number; rows: number }>();
  const byOut = scored.map(() => ({ ape: 0, se: 0, cells: 0 }));
  for (let i = 0; i < pred.length; i++) {
    const g = groups[i] ?? '';
    const acc = byGroup.get(g) ?? { ape: 0, cells: 0, rows: 0 };
    acc.rows++;
    scored.forEach((k, j) => {
      const y = (truth[i] as number[])[k] as number;
      const p = (pred[i] as number[])[k] as number;
      const a = Math.abs(p - y) / Math.abs(y);
      ape += a;
      se += (p - y) ** 2;
      cells++;
      acc.ape += a;
      acc.cells++;
      const o = byOut[j] as { ape: number; se: number; cells: number };
      o.ape += a;
      o.se += (p - y) ** 2;
      o.cells++;
    });
    byGroup.set(g, acc);
  }
  let worst: ErrorSummary['worst_group'] = null;
  for (const [group, acc] of byGroup) {
    const m = (100 * acc.ape) / Math.max(1, acc.cells);
    if (worst === null || m > worst.mape_percent) worst = { group, n: acc.rows, mape_percent: m };
  }
  const perOutput: ErrorSummary['per_output'] = {};
  scored.forEach((k, j) => {
    const o = byOut[j] as { ape: number; se: number; cells: number };
    perOutput[outputNames[k] ?? String(k)] = { mape_percent: (100 * o.ape) / Math.max(1, o.cells), rmse_watts: Math.sqrt(o.se / Math.max(1, o.cells)) };
  });
  return { n: pred.length, mape_percent: (100 * ape) / Math.max(1, cells), rmse_watts: Math.sqrt(se / Math.max(1, cells)), worst_group: worst, per_output: perOutput };
}

/**
 * Group k-fold as scikit-learn's GroupKFold does it: largest groups first, each to the fold with the fewest rows,
 * so every group is wholly in one validation fold. Ties break on the group name, making folds reproducible.
 */
export function groupFolds(groups: readonly string[], folds: number): number[] {
  const sizes = new Map<string, number>();
  for (const g of groups) sizes.set(g, (sizes.get(g) ?? 0) + 1);
  const k = Math.max(2, Math.min(folds, sizes.size));
  const load = new Array<number>(k).fill(0);
  const foldOf = new Map<string, number>();
  for (const [g, size] of [...sizes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    let best = 0;
    for (let f = 1; f < k; f++) if ((load[f] as number) < (load[best] as number)) best = f;
    foldOf.set(g, best);
    load[best] = (load[best] as number) + size;
  }
  return groups.map((g) => foldOf.get(g) as number);
}
