// What the extender needs to know about the pod being scheduled, computed once per request.
import { cpuMillicores } from '../../shared/quantity.js';
import type { Pod } from '../../shared/wire/extender.js';

/** kube-scheduler's DefaultMilliCPURequest: scoring treats a container without a CPU request as asking for 0.1 core. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;

export interface PodDemand {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** Effective CPU request in millicores, as kube-scheduler's scoring computes it. */
  readonly cpuMilli: number;
}

type Container = NonNullable<NonNullable<Pod['spec']>['containers']>[number];

function containerCpu(c: Container): number {
  const q = c.resources?.requests?.cpu;
  if (q === undefined) return DEFAULT_MILLI_CPU_REQUEST;
  return cpuMillicores(q) ?? DEFAULT_MILLI_CPU_REQUEST;
}

/**
 * Effective pod CPU request (k8s.io/component-helpers/resource PodRequests with non-zero defaults): app containers
 * and restartable init containers (sidecars) run together and add up; each ordinary init container runs alone, next
 * to the sidecars started before it; the pod needs the larger of the two phases, plus its overhead.
 */
export function podCpuRequestMilli(pod: Pod): number {
  const spec = pod.spec ?? {};
  let sidecars = 0;
  let initPeak = 0;
  for (const c of spec.initContainers ?? []) {
    const cpu = containerCpu(c);
    if (c.restartPolicy === 'Always') sidecars += cpu;
    else initPeak = Math.max(initPeak, sidecars + cpu);
  }
  const running = (spec.containers ?? []).reduce((sum, c) => sum + containerCpu(c), 0) + sidecars;
  const overhead = spec.overhead?.cpu !== undefined ? (cpuMillicores(spec.overhead.cpu) ?? 0) : 0;
  return Math.max(running, initPeak) + overhead;
}

export function podDemand(pod: Pod): PodDemand {
  const meta = pod.metadata ?? {};
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    cpuMilli: podCpuRequestMilli(pod),
  };
}
