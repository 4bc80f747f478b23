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

/**
 * Splits `amount` over `weights[0..n)` (all ≥ 0) into `out`; false when they sum to 0, so the caller picks where it
 * goes instead. Typed arrays and index loops: this runs every interval over every row, and the agent's CPU at 200
 * pods was mostly the collection of the small arrays and maps the first version made here.
 */
function splitInto(amount: number, weights: Float64Array, n: number, out: Float64Array): boolean {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += weights[i] as number;
  if (!(sum > 0)) return false;
  for (let i = 0; i < n; i++) out[i] = (amount * (weights[i] as number)) / sum;
  return true;
}

export function attribute(input: AttributionInput): Attribution {
  const node = Math.max(0, input.nodeWatts);
  const gpu = Math.min(Math.max(0, input.gpuWatts), node);
  const base = node - gpu;
  const idle = Math.min(Math.max(0, input.idleWatts), base);
  const dynamic = base - idle;
  const cs = input.consumers;
  const n = cs.length;
  // CPU weights of the consumers, then the kernel's at index n.
  const cpuWeights = new Float64Array(n + 1);
  let charged = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.max(0, (cs[i] as Consumer).cpuSeconds);
    cpuWeights[i] = w;
    charged += w;
  }
  const kernelCpu = Math.max(0, input.nodeBusySeconds - charged);
  cpuWeights[n] = kernelCpu;

  // Nothing ran that we saw: the dynamic part (a meter can show some) is the kernel's, not dropped.
  const dyn = new Float64Array(n + 1);
  if (!splitInto(dynamic, cpuWeights, n + 1, dyn)) dyn[n] = dynamic;
  let kernelWatts = dyn[n] as number;

  const idleRows = new Float64Array(n);
  let idleUnassignedWatts = idle;
  // Pods in order of first appearance, each consumer's pod index (-1: a system row).
  const podIndex = new Map<string, number>();
  const podOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const pod = (cs[i] as Consumer).pod;
    if (pod === null) {
      podOf[i] = -1;
      continue;
    }
    let k = podIndex.get(pod);
    if (k === undefined) {
      k = podIndex.size;
      podIndex.set(pod, k);
    }
    podOf[i] = k;
  }
  const npods = podIndex.size;
  // Within one pod, its share goes to its containers by CPU time, or evenly when none ran.
  const spreadOverPods = (podShares: Float64Array): void => {
    const cpu = new Float64Array(npods);
    const count = new Int32Array(npods);
    for (let i = 0; i < n; i++) {
      const k = podOf[i] as number;
      if (k < 0) continue;
      cpu[k] = (cpu[k] as number) + (cpuWeights[i] as number);
      count[k] = (count[k] as number) + 1;
    }
    for (let i = 0; i < n; i++) {
      const k = podOf[i] as number;
      if (k < 0) continue;
      const share = podShares[k] as number;
      idleRows[i] = (cpu[k] as number) > 0 ? (share * (cpuWeights[i] as number)) / (cpu[k] as number) : share / (count[k] as number);
    }
    idleUnassignedWatts = 0;
  };
  if (input.policy === 'even' && npods > 0) {
    spreadOverPods(new Float64Array(npods).fill(idle / npods));
  } else if (input.policy === 'cpu-request') {
    const requests = new Float64Array(npods);
    for (const [pod, k] of podIndex) requests[k] = Math.max(0, input.podRequests.get(pod) ?? 0);
    const shares = new Float64Array(npods);
    if (splitInto(idle, requests, npods, shares)) spreadOverPods(shares);
  } else if (input.policy === 'cpu-time') {
    const shares = new Float64Array(n + 1);
    if (splitInto(idle, cpuWeights, n + 1, shares)) {
      idleRows.set(shares.subarray(0, n));
      kernelWatts += shares[n] as number;
      idleUnassignedWatts = 0;
    }
  }

  // GPU watts by per-process use, scaled down if the caller's split exceeds what was measured.
  const gpuByKey = input.gpuByKey;
  let gpuAssigned = 0;
  if (gpuByKey !== undefined) for (const c of cs) gpuAssigned += Math.max(0, gpuByKey.get(c.key) ?? 0);
  const gpuScale = gpuAssigned > gpu ? gpu / gpuAssigned : 1;
  const rows: AttributedRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const c = cs[i] as Consumer;
    const d = dyn[i] as number;
    const w = idleRows[i] as number;
    const g = gpuByKey === undefined ? 0 : Math.max(0, gpuByKey.get(c.key) ?? 0) * gpuScale;
    rows[i] = { key: c.key, dynamicWatts: d + g, idleWatts: w, watts: d + w + g };
  }
  const gpuLeft = gpu - gpuAssigned * gpuScale;
  let total = kernelWatts + idleUnassignedWatts + gpuLeft;
  for (const r of rows) total += r.watts;
  const residualWatts = total - node;
  return { rows, kernelWatts, idleUnassignedWatts, gpuWatts: gpuLeft, residualWatts, residualRatio: node > 0 ? Math.abs(residualWatts) / node : 0 };
}
