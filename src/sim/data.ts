// Reads the two inputs of a simulation: a pod trace (the columns of the Alibaba openb pod list) and servers (the
// columns of the SPECpower tables). I/O and validation only; everything after this works on plain numbers.
import { readCsv, type CsvTable } from '../model/csv.js';
import { validateCurve, type PowerCurve } from '../model/curve.js';
import { WS_ERR_SIM_INPUT } from '../shared/errors.js';

export interface SimPod {
  readonly name: string;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  readonly createdS: number;
  readonly deletedS: number;
}

export interface SimServer {
  readonly id: string;
  readonly threads: number;
  readonly memoryMiB: number;
  /** Watts at 0 (active idle), 10, …, 100 % load. */
  readonly curve: PowerCurve;
}

/** One node of the simulated cluster: a server row, possibly one of several copies. */
export interface SimNode {
  readonly name: string;
  readonly server: number;
  /** Allocatable CPU = hardware threads, millicores. */
  readonly capacityMilli: number;
  readonly memoryMiB: number;
  readonly curve: PowerCurve;
}

/** kubelet's default maxPods: NodeResourcesFit also filters on the pod count. */
export const MAX_PODS_PER_NODE = 110;

const num = (row: Record<string, string>, col: string, source: string, line: number): number => {
  const text = row[col];
  const v = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(v)) throw new WS_ERR_SIM_INPUT(source, `row ${line}: column ${col} is not a number (${JSON.stringify(text)})`);
  return v;
};

const need = (t: CsvTable, cols: readonly string[]): void => {
  const missing = cols.filter((c) => !t.columns.includes(c));
  if (missing.length > 0) throw new WS_ERR_SIM_INPUT(t.source, `missing column(s) ${missing.join(', ')}`);
};

const POD_COLUMNS = ['name', 'cpu_milli', 'memory_mib', 'creation_time', 'deletion_time'] as const;

/**
 * Pods in trace order. GPU columns are ignored: the servers have no GPUs and CPU is what draws the measured power.
 * A pod that ends before it starts is an input error, not something to guess about.
 */
export function podsFromTable(t: CsvTable): SimPod[] {
  need(t, POD_COLUMNS);
  return t.rows.map((r, i) => {
    const pod = { name: r.name ?? `pod-${i}`, cpuMilli: num(r, 'cpu_milli', t.source, i + 1), memoryMiB: num(r, 'memory_mib', t.source, i + 1), createdS: num(r, 'creation_time', t.source, i + 1), deletedS: num(r, 'deletion_time', t.source, i + 1) };
    if (pod.cpuMilli < 0 || pod.memoryMiB < 0) throw new WS_ERR_SIM_INPUT(t.source, `row ${i + 1}: negative request`);
    if (!(pod.deletedS >= pod.createdS)) throw new WS_ERR_SIM_INPUT(t.source, `row ${i + 1}: deletion_time before creation_time`);
    return pod;
  });
}

const WATTS = ['watts_idle', 'watts_10', 'watts_20', 'watts_30', 'watts_40', 'watts_50', 'watts_60', 'watts_70', 'watts_80', 'watts_90', 'watts_100'] as const;

/** Multi-node SPECpower rows are divided by their node count, as the data README allows for a rough per-node figure. */
export function serversFromTable(t: CsvTable): SimServer[] {
  need(t, ['result_id', 'threads', 'memory_gb', 'nodes', ...WATTS]);
  return t.rows.map((r, i) => {
    const nodes = r.nodes === '' ? 1 : num(r, 'nodes', t.source, i + 1);
    const threads = num(r, 'threads', t.source, i + 1) / nodes;
    const memoryMiB = (num(r, 'memory_gb', t.source, i + 1) * 1024) / nodes;
    if (!(threads > 0) || !(memoryMiB > 0) || !(nodes >= 1)) throw new WS_ERR_SIM_INPUT(t.source, `row ${i + 1}: threads, memory_gb and nodes must be positive`);
    const curve = validateCurve(WATTS.map((c) => num(r, c, t.source, i + 1) / nodes), `${t.source} row ${i + 1}`);
    return { id: r.result_id ?? `server-${i}`, threads, memoryMiB, curve };
  });
}

export const readPods = (path: string): SimPod[] => podsFromTable(readCsv(path));
export const readServers = (path: string): SimServer[] => serversFromTable(readCsv(path));

/** One node per server, or `copies` of each, named so the copies of one row sort together. */
export function buildNodes(servers: readonly SimServer[], copies = 1): SimNode[] {
  const nodes: SimNode[] = [];
  servers.forEach((s, server) => {
    for (let c = 0; c < copies; c++) {
      nodes.push({ name: copies === 1 ? `node-${server}` : `node-${server}-${c}`, server, capacityMilli: Math.round(s.threads * 1000), memoryMiB: s.memoryMiB, curve: s.curve });
    }
  });
  return nodes;
}

/**
 * The pods as a CPU-only cluster sees them: node capacity is hardware threads and nothing else, so memory requests
 * are dropped. This is the default because the bound can only split CPU load: with a memory filter the "achievable"
 * saving would include savings no placement can reach, and every policy's share of it would mean little.
 */
export const withoutMemory = (pods: readonly SimPod[]): SimPod[] => pods.map((p) => ({ ...p, memoryMiB: 0 }));
