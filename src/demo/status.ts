// The live status `npm start` prints: what the agent measures on this machine and what the extender would answer
// for a sample pod. Pure: a snapshot in, text out, so the layout is tested without processes.
import type { NodeReport } from '../shared/wire/agent.js';

export interface ExplainRow {
  name: string;
  marginalWatts: number | null;
  powerWithPodWatts: number | null;
  score: number | null;
  basis: string;
  reason?: string;
}

export interface StatusSnapshot {
  at: Date;
  urls: { agent: string; extender: string; modelServer: string };
  logDir: string;
  report: NodeReport | { error: string };
  modelServer: { models: number } | { error: string };
  sample: {
    pod: string;
    demand: { cores: number; source: string; detail: string } | null;
    nodes: ExplainRow[];
    failOpen: string | null;
  } | { error: string };
}

const w = (x: number | null | undefined): string => (typeof x === 'number' && Number.isFinite(x) ? `${x.toFixed(1)} W` : 'n/a');
const pad = (s: string, n: number): string => (s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length));

export function renderStatus(s: StatusSnapshot): string {
  const out: string[] = [];
  out.push(`wattsched on this machine, ${s.at.toISOString()}  (Ctrl-C stops everything; logs in ${s.logDir})`);
  out.push(`  agent ${s.urls.agent}   extender ${s.urls.extender}   model server ${s.urls.modelServer}`);
  out.push('');
  const r = s.report;
  if ('error' in r) {
    out.push(`agent: unreachable: ${r.error}`);
  } else {
    const c = r.collector;
    out.push(`node ${r.node}: collector ${c.name} (${c.variant})${c.reason ? `, fallback because: ${c.reason}` : ''}`);
    const p = r.power;
    if (!p) out.push('  power accounting is off');
    else if (r.intervalSeconds === 0) out.push('  waiting for the second reading');
    else {
      const model = p.model ? `, model ${p.model.id}` : '';
      out.push(`  node power ${w(p.watts)} (source ${p.source}${model}), idle ${w(p.idleWatts)}, CPU ${(p.cpuUtilisation * 100).toFixed(1)}% busy`);
    }
    const pods = [...r.pods].filter((x) => x.energy).sort((a, b) => (b.energy?.watts ?? 0) - (a.energy?.watts ?? 0)).slice(0, 5);
    if (pods.length > 0) {
      out.push('  top pods by watts:');
      // A pod the agent has no Pod object for (no kubelet API to ask) is known by its cgroup's UID only.
      for (const x of pods) out.push(`    ${pad(x.namespace && x.name ? `${x.namespace}/${x.name}` : `pod ${x.uid}`, 48)} ${pad(w(x.energy?.watts), 10)} ${x.rates.cpuSeconds.toFixed(2)} cores`);
    } else {
      out.push(`  no pods on this node (${r.kubernetes.mode}: ${r.kubernetes.detail}); top other consumers:`);
      const rows = [...(p?.system ?? [])].sort((a, b) => b.watts - a.watts).slice(0, 5);
      for (const x of rows) out.push(`    ${pad(x.name, 48)} ${w(x.watts)}`);
    }
  }
  out.push('');
  out.push(`model server: ${'error' in s.modelServer ? `unreachable: ${s.modelServer.error}` : `${s.modelServer.models} models loaded`}`);
  out.push('');
  const sm = s.sample;
  if ('error' in sm) {
    out.push(`sample pod: extender unreachable: ${sm.error}`);
  } else {
    out.push(`sample pod ${sm.pod}: ${sm.demand ? `predicted ${sm.demand.cores.toFixed(2)} cores from ${sm.demand.source} (${sm.demand.detail})` : 'no prediction'}`);
    if (sm.failOpen) out.push(`  extender fails open: ${sm.failOpen}`);
    for (const n of sm.nodes) {
      out.push(`  on ${pad(n.name, 24)} +${pad(w(n.marginalWatts), 10)} → ${pad(w(n.powerWithPodWatts), 10)} score ${n.score ?? 'n/a'}`);
      out.push(`     ${n.basis}${n.reason ? ` (${n.reason})` : ''}`);
    }
  }
  return out.join('\n');
}
