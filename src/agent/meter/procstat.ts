// Node CPU utilisation from /proc/stat: the model layer's input and the attribution's measure of all CPU work
// (kernel threads and interrupts included, which no cgroup is charged for).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture the agent runs on. */
export const USER_HZ = 100;

export interface CpuTicks {
  busy: number;
  total: number;
}

/** Pure: the aggregate "cpu " line. busy = everything but idle and iowait (guest time is already inside user). */
export function parseProcStat(text: string): CpuTicks {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('/proc/stat: no aggregate cpu line');
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (v.length < 4 || v.some((x) => !Number.isFinite(x))) throw new Error(`/proc/stat: bad cpu line '${line}'`);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

export interface NodeCpuInterval {
  /** Busy fraction of all CPUs, 0..1. */
  utilisation: number;
  /** Busy CPU seconds in the interval, all CPUs together. */
  busySeconds: number;
}

export class NodeCpu {
  private last: CpuTicks | null = null;

  constructor(private readonly procRoot: string) {}

  /** Utilisation since the previous call; zeros on the first. */
  read(): NodeCpuInterval {
    const cur = parseProcStat(readFileSync(join(this.procRoot, 'stat'), 'utf8'));
    const prev = this.last;
    this.last = cur;
    return intervalBetween(prev, cur);
  }
}

export function intervalBetween(prev: CpuTicks | null, cur: CpuTicks): NodeCpuInterval {
  if (prev === null) return { utilisation: 0, busySeconds: 0 };
  const dTotal = cur.total - prev.total;
  const dBusy = Math.max(0, cur.busy - prev.busy);
  return { utilisation: dTotal > 0 ? Math.min(1, dBusy / dTotal) : 0, busySeconds: dBusy / USER_HZ };
}
