// Reading cgroupfs: which layout a node uses, the tree of cgroups with their ids, and the kernel's own CPU counters.
// Everything here is synchronous file I/O on pseudo-files that the kernel answers from memory; the agent reads them
// once per interval.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type CgroupLayoutName = 'v2' | 'hybrid' | 'v1';

export interface CgroupLayout {
  name: CgroupLayoutName;
  /** Mount point of the unified (v2) hierarchy; absent on pure v1. */
  v2Path?: string;
  /** Mount point of the v1 hierarchy carrying cpuacct; absent on pure v2. */
  cpuacctPath?: string;
}

const V1_CPUACCT_DIRS = ['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu'];

/**
 * Detects the layout from the directory tree under `root`, which works the same on a real /sys/fs/cgroup and on a
 * fake tree in a test: pure v2 has cgroup.controllers at the root; hybrid mounts v2 at root/unified next to v1
 * controller directories; v1 has only controller directories.
 */
export function detectLayout(root: string, forced?: CgroupLayoutName): CgroupLayout | { error: string } {
  const v2AtRoot = existsSync(join(root, 'cgroup.controllers'));
  const unified = join(root, 'unified');
  const v2Unified = existsSync(join(unified, 'cgroup.controllers'));
  const cpuacctDir = V1_CPUACCT_DIRS.map((d) => join(root, d)).find((d) => existsSync(join(d, 'cpuacct.usage')));
  const name: CgroupLayoutName | undefined = forced ?? (v2AtRoot ? 'v2' : v2Unified ? 'hybrid' : cpuacctDir ? 'v1' : undefined);
  if (name === undefined) return { error: `no cgroup hierarchy found under ${root} (neither cgroup.controllers nor a cpuacct controller)` };
  const layout: CgroupLayout = { name };
  if (name === 'v2') {
    if (!v2AtRoot) return { error: `layout v2 requested but ${root}/cgroup.controllers is missing` };
    layout.v2Path = root;
  } else if (name === 'hybrid') {
    if (!v2Unified) return { error: `layout hybrid requested but ${unified}/cgroup.controllers is missing` };
    layout.v2Path = unified;
    if (cpuacctDir) layout.cpuacctPath = cpuacctDir;
  } else {
    if (!cpuacctDir) return { error: `layout v1 requested but no cpuacct controller under ${root}` };
    layout.cpuacctPath = cpuacctDir;
  }
  return layout;
}

export interface CgroupNode {
  /** The directory's inode number: on 64-bit kernels this is the id bpf_get_current_cgroup_id() returns. */
  id: string;
  /** Relative to the hierarchy root, "/" for the root itself. */
  path: string;
  dir: string;
  parentId: string | null;
}

/**
 * Lists every cgroup below `mount`, children before their parent (post-order), so that a parent's hierarchical
 * counter, read after its children's, is never smaller than their sum.
 */
export function walkCgroups(mount: string): CgroupNode[] {
  const out: CgroupNode[] = [];
  const visit = (dir: string, path: string, parentId: string | null): void => {
    let id: string;
    let entries: string[];
    try {
      id = statSync(dir, { bigint: true }).ino.toString();
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return; // removed while we walked: it is simply not live any more
    }
    for (const name of entries) visit(join(dir, name), path === '/' ? `/${name}` : `${path}/${name}`, id);
    out.push({ id, path, dir, parentId });
  };
  visit(mount, '/', null);
  return out;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** usage_usec from a v2 cpu.stat, in nanoseconds; null when the cgroup is gone. */
export function readCpuStatUsageNs(dir: string): number | null {
  const text = readText(join(dir, 'cpu.stat'));
  if (text === null) return null;
  const m = /^usage_usec (\d+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : null;
}

/** The "some" total of cpu.pressure in nanoseconds; null when PSI is off or the cgroup is gone. */
export function readCpuPressureSomeNs(dir: string): number | null {
  const text = readText(join(dir, 'cpu.pressure'));
  if (text === null) return null;
  const m = /^some .*total=(\d+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : null;
}

/** v1 cpuacct.usage, already in nanoseconds. */
export function readCpuacctUsageNs(dir: string): number | null {
  const text = readText(join(dir, 'cpuacct.usage'));
  if (text === null) return null;
  const v = Number(text.trim());
  return Number.isFinite(v) ? v : null;
}

/**
 * The cgroup a process belongs to in one hierarchy, from /proc/<pid>/cgroup content: the "0::" line for v2, the
 * line whose controller list includes cpuacct for v1.
 */
export function procCgroupPath(content: string, hierarchy: 'v2' | 'cpuacct'): string | null {
  for (const line of content.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (hierarchy === 'v2' ? line.startsWith('0::') : controllers.split(',').includes('cpuacct')) return path;
  }
  return null;
}
