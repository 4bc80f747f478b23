// One interval's node watts split across consumers. Pure: numbers in, rows out, nothing dropped.
//   node = gpu + idle + dynamic;  dynamic is shared by CPU time (the consumers' and the kernel's, the latter being
//   the node's busy time from /proc/stat that no cgroup was charged for); idle follows the policy.
// Conservation is checked, not assumed: the residual of the rows against the node is returned for export.

export const IDLE_POLICIES = ['none', 'even', 'cpu-request', 'cpu-time'] as const;
export type IdlePolicy = (typeof IDLE_POLICIES)[number];

export interface Consumer {
  key: string;
  /** The pod it belongs to (for even / cpu-request idle); null for system rows. */
  pod: string | null;
  /** CPU seconds in the interval. */
  cpuSeconds: number;
}

export interface AttributionInput {
  nodeWatts: number;
  idleWatts: number;
  /** Measured GPU watts inside nodeWatts. */
  gpuWatts: number;
  /** The part of gpuWatts attributed by per-process GPU use, by consumer key; the rest is the `gpu` row. */
  gpuByKey?: ReadonlyMap<string, number>;
  /** Busy CPU seconds of the whole node in the interval (/proc/stat); less than the consumers' sum is read as 0 kernel. */
  nodeBusySeconds: number;
  consumers: readonly Consumer[];
  /** Pod -> CPU request in cores, for cpu-request. */
  podRequests: ReadonlyMap<string, number>;
  policy: IdlePolicy;
}

export interface AttributedRow {
  key: string;
  dynamicWatts: number;
  idleWatts: number;
  watts: number;
}

export interface Attribution {
  rows: AttributedRow[];
  /** Dynamic (and, under cpu-time, idle) share of CPU time no cgroup was charged for. */
  kernelWatts: number;
  /** Idle left unassigned: all of it under `none`, or when the policy has nothing to weigh it by. */
  idleUnassignedWatts: number;
  /** GPU watts no consumer was charged for (no per-process use, or the process's row unknown). */
  gpuWatts: number;
  /** Σ rows + kernel + idle unassigned + gpu − node. */
  residualWatts: number;
  /** |residual| / node, 0 for a node at 0 W. */
  residualRatio: number;
}

/** Splits `amount` over `weights` (all ≥ 0); null when they sum to 0, so the caller picks where it goes instead. */
function split(amount: number, weights: readonly number[]): number[] | null {
  let sum = 0;
  for (const w of weights) sum += w;
  if (!(sum > 0)) return null;
  return weights.map((w) => (amount * w) / sum);
}

export function attribute(input: AttributionInput): Attribution {
  const node = Math.max(0, input.nodeWatts);
  const gpu = Math.min(Math.max(0, input.gpuWatts), node);
  const base = node - gpu;
  const idle = Math.min(Math.max(0, input.idleWatts), base);
  const dynamic = base - idle;
  const cs = input.consumers;
  let charged = 0;
  for (const c of cs) charged += Math.max(0, c.cpuSeconds);
  const kernelCpu = Math.max(0, input.nodeBusySeconds - charged);
  const cpuWeights = [...cs.map((c) => Math.max(0, c.cpuSeconds)), kernelCpu];

  // Nothing ran that we saw: the dynamic part (a meter can show some) is the kernel's, not dropped.
  const dyn = split(dynamic, cpuWeights) ?? [...cs.map(() => 0), dynamic];
  let kernelWatts = dyn[cs.length] as number;

  let idleRows: number[] = cs.map(() => 0);
  let idleUnassignedWatts = idle;
  // Within one pod, its share goes to its containers by CPU time, or evenly when none ran.
  const byPod = new Map<string, number[]>();
  cs.forEach((c, i) => {
    if (c.pod === null) return;
    const idx = byPod.get(c.pod);
    if (idx === undefined) byPod.set(c.pod, [i]);
    else idx.push(i);
  });
  const spreadOverPods = (podShares: Map<string, number>): void => {
    const rows = cs.map(() => 0);
    for (const [pod, share] of podShares) {
      const idx = byPod.get(pod) ?? [];
      const w = split(share, idx.map((i) => Math.max(0, (cs[i] as Consumer).cpuSeconds))) ?? idx.map(() => share / idx.length);
      idx.forEach((i, j) => (rows[i] = w[j] as number));
    }
    idleRows = rows;
    idleUnassignedWatts = 0;
  };
  const pods = [...byPod.keys()];
  if (input.policy === 'even' && pods.length > 0) {
    spreadOverPods(new Map(pods.map((p) => [p, idle / pods.length])));
  } else if (input.policy === 'cpu-request') {
    const shares = split(idle, pods.map((p) => Math.max(0, input.podRequests.get(p) ?? 0)));
    if (shares !== null) spreadOverPods(new Map(pods.map((p, i) => [p, shares[i] as number])));
  } else if (input.policy === 'cpu-time') {
    const shares = split(idle, cpuWeights);
    if (shares !== null) {
      idleRows = shares.slice(0, cs.length);
      kernelWatts += shares[cs.length] as number;
      idleUnassignedWatts = 0;
    }
  }

  // GPU watts by per-process use, scaled down if the caller's split exceeds what was measured.
  let gpuAssigned = 0;
  for (const c of cs) gpuAssigned += Math.max(0, input.gpuByKey?.get(c.key) ?? 0);
  const gpuScale = gpuAssigned > gpu ? gpu / gpuAssigned : 1;
  const rows = cs.map((c, i) => {
    const d = dyn[i] as number;
    const w = idleRows[i] as number;
    const g = Math.max(0, input.gpuByKey?.get(c.key) ?? 0) * gpuScale;
    return { key: c.key, dynamicWatts: d + g, idleWatts: w, watts: d + w + g };
  });
  const gpuLeft = gpu - gpuAssigned * gpuScale;
  let total = kernelWatts + idleUnassignedWatts + gpuLeft;
  for (const r of rows) total += r.watts;
  const residualWatts = total - node;
  return { rows, kernelWatts, idleUnassignedWatts, gpuWatts: gpuLeft, residualWatts, residualRatio: node > 0 ? Math.abs(residualWatts) / node : 0 };
}
