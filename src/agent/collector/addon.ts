// Loading the native addon. A missing or broken addon is an expected outcome on machines where the build could not
// run (no root, no clang/libbpf): it comes back as a reason string, never as a crash.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ProgramVariant = 'tp_btf' | 'raw_tp' | 'tp';

export interface SessionOptions {
  objectPath?: string;
  maxEntries: number;
  pmu: string[];
  /** Software cpu-clock in place of each PMU counter: tests the perf-event path where there is no PMU. */
  pmuStandIn?: boolean;
  /** Charge the exiting task's stint at sched_process_exit. */
  exitHook?: boolean;
  /** Charge running stints this many times a second per CPU; 0: only at switches. */
  flushHz?: number;
}

export interface NativeSession {
  read(): { ids: BigUint64Array; values: Float64Array; batched: boolean };
  remove(ids: BigUint64Array): number;
  dropped(): number;
  /** For each optional part, null when attached, else why not. */
  info(): {
    variant: ProgramVariant;
    pmu: Record<'cycles' | 'instructions' | 'cache_misses', string | null>;
    pmuStandIn: boolean;
    exitHook: string | null;
    flush: string | null;
    flushHz: number;
  };
  destroy(): void;
}

export interface NativeAddon {
  Session: new (variant: ProgramVariant, opts: SessionOptions) => NativeSession;
  /** From bpf/cgroup_counters.h: the per-cgroup value fields in order, and their byte size. */
  layout: { fields: string; valueBytes: number; nfields: number };
  libbpfVersion: string;
}

/** Field order of the values the addon returns; a test checks it against the C header via the addon. */
export const VALUE_FIELDS = ['cpu_ns', 'switches', 'cycles', 'instructions', 'cache_misses'] as const;

/** The package root, found from this file whether it runs from src/ (tests) or dist/src/ (built). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
}

export function defaultAddonPath(): string {
  return join(packageRoot(), 'native', 'build', 'Release', 'wattsched_bpf.node');
}

export function loadAddon(path: string = defaultAddonPath()): { addon: NativeAddon } | { error: string } {
  if (!existsSync(path)) return { error: `native addon not built (${path} missing; run bash scripts/setup.d/20-bpf-native.sh)` };
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    const fields = addon.layout.fields.split(',');
    if (fields.join(',') !== VALUE_FIELDS.join(',') || addon.layout.valueBytes !== 8 * VALUE_FIELDS.length) {
      return { error: `native addon ${path} was built from a different cgroup_counters.h (fields ${addon.layout.fields}); rebuild it` };
    }
    return { addon };
  } catch (err) {
    return { error: `cannot load native addon ${path}: ${(err as Error).message}` };
  }
}
