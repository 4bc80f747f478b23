// Picks the collector: eBPF when the kernel, the build and our privileges allow it, otherwise the cgroupfs fallback
// with every reason eBPF did not load, joined, so the operator sees exactly what to fix.
import { existsSync } from 'node:fs';
import type { AgentConfig } from '../../shared/config/agent.js';
import { WS_ERR_AGENT_EBPF_UNAVAILABLE, WS_ERR_AGENT_NO_CGROUPS } from '../../shared/errors.js';
import type { CollectorStatus } from '../../shared/wire/agent.js';
import { type CgroupLayout, detectLayout } from '../resource/cgroupfs.js';
import { defaultAddonPath, loadAddon } from './addon.js';
import { EbpfCollector } from './ebpf.js';
import { FallbackCollector } from './fallback.js';
import type { Collector } from './types.js';

export interface Selection {
  collector: Collector;
  layout: CgroupLayout;
}

export interface SelectOptions {
  /** Where the kernel's BTF lives; tests point it elsewhere to simulate a kernel without BTF. */
  btfPath?: string;
  pmuStandIn?: boolean;
  procRoot?: string;
}

type Cfg = Pick<AgentConfig, 'collector' | 'cgroup' | 'ebpf' | 'fallback'>;

function tryEbpf(cfg: Cfg, layout: CgroupLayout, opts: SelectOptions): { collector: EbpfCollector } | { attempts: CollectorStatus['attempts'] } {
  const fail = (error: string): { attempts: CollectorStatus['attempts'] } => ({ attempts: [{ name: 'ebpf', error }] });
  if (layout.v2Path === undefined) {
    return fail('no cgroup v2 hierarchy is mounted (pure v1): bpf_get_current_cgroup_id() would put every task in one cgroup');
  }
  const btf = opts.btfPath ?? '/sys/kernel/btf/vmlinux';
  if (!existsSync(btf)) return fail(`kernel has no BTF (${btf} missing): the CO-RE program cannot be relocated`);
  const loaded = loadAddon(cfg.ebpf.addonPath ?? defaultAddonPath());
  if ('error' in loaded) return fail(loaded.error);
  const opened = EbpfCollector.open({
    addon: loaded.addon,
    v2Path: layout.v2Path,
    maxCgroups: cfg.ebpf.maxCgroups,
    pmuCounters: [...cfg.ebpf.pmuCounters],
    flushHz: cfg.ebpf.flushHz,
    objectPath: cfg.ebpf.objectPath,
    pmuStandIn: opts.pmuStandIn ?? false,
  });
  if ('collector' in opened) return opened;
  const notRoot = typeof process.getuid === 'function' && process.getuid() !== 0;
  const hint = notRoot ? ' (not running as root: loading BPF needs root or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)' : '';
  return { attempts: opened.attempts.map((a) => ({ name: a.name, error: a.error + hint })) };
}

export function selectCollector(cfg: Cfg, opts: SelectOptions = {}): Selection {
  const layout = detectLayout(cfg.cgroup.root, cfg.cgroup.layout);
  if ('error' in layout) throw new WS_ERR_AGENT_NO_CGROUPS(layout.error);
  let attempts: CollectorStatus['attempts'] = [];
  if (cfg.collector !== 'fallback') {
    const ebpf = tryEbpf(cfg, layout, opts);
    if ('collector' in ebpf) return { collector: ebpf.collector, layout };
    attempts = ebpf.attempts;
    if (cfg.collector === 'ebpf') throw new WS_ERR_AGENT_EBPF_UNAVAILABLE(attempts.map((a) => `${a.name}: ${a.error}`).join('; '));
  }
  const reason =
    cfg.collector === 'fallback'
      ? 'configured (collector=fallback)'
      : `eBPF unavailable: ${attempts.map((a) => a.error.split('\n')[0]).filter((e, i, all) => all.indexOf(e) === i).join('; ')}`;
  const collector = new FallbackCollector({
    layout,
    source: cfg.fallback.source,
    procSwitches: cfg.fallback.procSwitches,
    reason,
    attempts,
    ...(opts.procRoot !== undefined ? { procRoot: opts.procRoot } : {}),
  });
  return { collector, layout };
}
