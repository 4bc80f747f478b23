// How much CPU the pod being scheduled will use, in cores: its workload's measured history when there is enough
// of it, else the cold-start chain. /explain reports which link answered.
import { ANNOTATIONS } from '../../shared/names.js';
import type { PodDemand } from '../protocol/pod.js';
import type { ProfileSummary } from './profile.js';
import type { ProfileStore } from './store.js';

export type DemandSource = 'history' | 'annotation' | 'requests' | 'limits' | 'sibling' | 'default-request';

export interface PredictedDemand {
  /** Cores the pod is predicted to use (the decayed mean for history: energy follows the average, not the peak). */
  readonly cores: number;
  readonly source: DemandSource;
  readonly detail: string;
  /** The profile used (history or sibling). */
  readonly profile?: ProfileSummary;
  /** Set when a link was skipped because its input was invalid (e.g. a bad annotation). */
  readonly warning?: string;
}

/** Length of the common prefix of two names: the nearest sibling shares the longest one (web-api ~ web-worker). */
const commonPrefix = (a: string, b: string): number => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};

/**
 * history > `wattsched.io/expected-cpu` (cores) > explicit CPU requests > CPU limits > nearest sibling workload in
 * the namespace (longest common name prefix, ties to the one with more history) > kube-scheduler's default request.
 */
export function predictDemand(pod: PodDemand, store: ProfileStore, now: number): PredictedDemand {
  if (!pod.workload) return { cores: pod.cpuMilli / 1000, source: 'requests', detail: `CPU request ${pod.cpuMilli}m (no Pod object to look up)` };
  const workload = pod.workload;
  const history = store.profile(workload.id, now);
  if (history) {
    return { cores: history.cores.mean, source: 'history', profile: history, detail: `${history.workload}: ${history.samples} samples (${history.effectiveSamples.toFixed(1)} after decay), newest ${history.ageSeconds.toFixed(0)} s old, from ${history.origin === 'prometheus' ? 'Prometheus' : "the agents' feed"}` };
  }
  let warning: string | undefined;
  const hint = pod.annotations?.[ANNOTATIONS.expectedCpu];
  if (hint !== undefined) {
    const v = Number(hint.trim());
    if (hint.trim() !== '' && Number.isFinite(v) && v >= 0) return { cores: v, source: 'annotation', detail: `${ANNOTATIONS.expectedCpu}=${hint.trim()}` };
    warning = `ignored ${ANNOTATIONS.expectedCpu}: not a non-negative number of cores: ${JSON.stringify(hint.slice(0, 40))}`;
  }
  const extra = warning ? { warning } : {};
  if (pod.explicitCpuRequest) return { cores: pod.cpuMilli / 1000, source: 'requests', detail: `CPU request ${pod.cpuMilli}m`, ...extra };
  if (pod.cpuLimitMilli != null) return { cores: pod.cpuLimitMilli / 1000, source: 'limits', detail: `CPU limit ${pod.cpuLimitMilli}m (no request)`, ...extra };
  let best: ProfileSummary | undefined;
  let bestPrefix = -1;
  for (const s of store.inNamespace(pod.namespace, now)) {
    if (s.workload === workload.id) continue;
    const p = commonPrefix(s.name, workload.name);
    if (p > bestPrefix || (p === bestPrefix && best && s.effectiveSamples > best.effectiveSamples)) (best = s), (bestPrefix = p);
  }
  if (best) return { cores: best.cores.mean, source: 'sibling', profile: best, detail: `nearest workload in ${pod.namespace} with history: ${best.workload}`, ...extra };
  return { cores: pod.cpuMilli / 1000, source: 'default-request', detail: `no request, limit, hint or history: kube-scheduler's default ${pod.cpuMilli}m`, ...extra };
}
