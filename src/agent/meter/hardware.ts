// The node's hardware description (the model's fingerprint and curve features) from /proc/cpuinfo, /proc/meminfo and
// /sys/class/dmi/id. Roots are parameters so tests point them at fake trees. What had to be assumed is said.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeHardware } from '../../shared/wire/model.js';

export interface HardwareRoots {
  procRoot: string;
  dmiRoot: string;
  /** Availability year when DMI has no BIOS date (VMs, containers without /sys/class/dmi). */
  defaultYear: number;
}

export interface HardwareInfo {
  hardware: NodeHardware;
  /** System vendor and product from DMI, when readable. */
  system: string | null;
  /** Every value that was assumed rather than read. */
  assumed: string[];
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Pure: the CPU part of the description from /proc/cpuinfo text. */
export function parseCpuinfo(text: string): { cpuModel: string | null; vendor: string | null; sockets: number; cores: number; threads: number; mhz: number | null } {
  let threads = 0;
  let cpuModel: string | null = null;
  let vendor: string | null = null;
  let mhz: number | null = null;
  // cores per physical package: "cpu cores" is the same on every processor line of one package.
  const coresBySocket = new Map<string, number>();
  for (const block of text.split(/\n\s*\n/)) {
    const kv = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    if (!kv.has('processor')) continue;
    threads += 1;
    cpuModel ??= kv.get('model name') ?? null;
    vendor ??= kv.get('vendor_id') ?? null;
    const m = Number(kv.get('cpu MHz'));
    if (mhz === null && Number.isFinite(m) && m > 0) mhz = m;
    const socket = kv.get('physical id') ?? '0';
    const cores = Number(kv.get('cpu cores'));
    if (Number.isFinite(cores) && cores > 0) coresBySocket.set(socket, cores);
  }
  const sockets = Math.max(1, coresBySocket.size);
  const cores = coresBySocket.size > 0 ? [...coresBySocket.values()].reduce((a, b) => a + b, 0) : threads;
  return { cpuModel, vendor, sockets, cores: Math.max(1, cores), threads: Math.max(1, threads), mhz };
}

function vendorName(vendorId: string | null): string | undefined {
  if (vendorId === 'GenuineIntel') return 'intel';
  if (vendorId === 'AuthenticAMD') return 'amd';
  return undefined;
}

export function readHardware(roots: HardwareRoots): HardwareInfo {
  const assumed: string[] = [];
  const cpu = parseCpuinfo(read(join(roots.procRoot, 'cpuinfo')) ?? '');
  if (cpu.cpuModel === null) assumed.push('cpu model unknown (no "model name" in cpuinfo)');
  // "@ 2.30GHz" in the model name is the base clock; cpuinfo's "cpu MHz" is the current one, the next best.
  const named = /@\s*([\d.]+)\s*GHz/i.exec(cpu.cpuModel ?? '');
  let cpuMhz = named ? Number(named[1]) * 1000 : cpu.mhz;
  if (cpuMhz === null || !(cpuMhz > 0)) {
    cpuMhz = 2000;
    assumed.push('cpu clock 2000 MHz');
  }
  const memKb = Number(/MemTotal:\s+(\d+)\s*kB/.exec(read(join(roots.procRoot, 'meminfo')) ?? '')?.[1]);
  let memoryGb = memKb / 1024 / 1024;
  if (!(memoryGb > 0)) {
    memoryGb = 4 * cpu.threads;
    assumed.push(`memory ${memoryGb} GB (4 GB per thread)`);
  }
  const biosYear = Number(/(\d{4})\s*$/.exec((read(join(roots.dmiRoot, 'bios_date')) ?? '').trim())?.[1]);
  let year = biosYear;
  if (!(biosYear >= 1990 && biosYear <= 2100)) {
    year = roots.defaultYear;
    assumed.push(`year ${year} (no DMI bios_date)`);
  }
  const vendorDmi = read(join(roots.dmiRoot, 'sys_vendor'))?.trim();
  const product = read(join(roots.dmiRoot, 'product_name'))?.trim();
  const cpuVendor = vendorName(cpu.vendor);
  const hardware: NodeHardware = {
    cpuModel: (cpu.cpuModel ?? 'unknown').slice(0, 200) || 'unknown',
    sockets: cpu.sockets,
    cores: cpu.cores,
    threads: cpu.threads,
    memoryGb: Math.round(memoryGb * 10) / 10,
    year,
    nodes: 1,
    cpuMhz: Math.round(cpuMhz),
    ...(cpuVendor === undefined ? {} : { cpuVendor }),
  };
  return { hardware, system: vendorDmi || product ? [vendorDmi, product].filter(Boolean).join(' ') : null, assumed };
}
