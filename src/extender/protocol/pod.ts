// What the extender needs to know about the pod being scheduled, computed once per request.
import { cpuMillicores } from '../../shared/quantity.js';
import type { Pod } from '../../shared/wire/extender.js';
import type { Workload } from '../../shared/wire/agent.js';
import { workloadOf } from '../../shared/workload.js';

/** kube-scheduler's DefaultMilliCPURequest: scoring treats a container without a CPU request as asking for 0.1 core. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;

export interface PodDemand {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** Effective CPU request in millicores, as kube-scheduler's scoring computes it. */
  readonly cpuMilli: number;
  // The fields below come from the Pod object; callers that only know a request (the simulator, power budgets)
  // leave them out, and prediction then treats cpuMilli as the pod's stated request.
  /** The owner chain's identity, the same the agent files measurements under. */
  readonly workload?: Workload;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Whether any container states a CPU request (cpuMilli is otherwise kube-scheduler's default). */
  readonly explicitCpuRequest?: boolean;
  /** Sum of app containers' CPU limits when every one of them has a limit; null otherwise. */
  readonly cpuLimitMilli?: number | null;
}

const NO_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({});

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

function limitsMilli(pod: Pod): number | null {
  const cs = pod.spec?.containers ?? [];
  let sum = 0;
  for (const c of cs) {
    const q = c.resources?.limits?.cpu;
    const v = q !== undefined ? cpuMillicores(q) : undefined;
    if (v === undefined) return null;
    sum += v;
  }
  return cs.length > 0 ? sum : null;
}

export function podDemand(pod: Pod): PodDemand {
  const meta = pod.metadata ?? {};
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    cpuMilli: podCpuRequestMilli(pod),
    // References without a kind or name cannot name an owner; the API server never sends them, a test client might.
    workload: workloadOf({ metadata: { ...meta, ownerReferences: (meta.ownerReferences ?? []).filter((r): r is { kind: string; name: string } => typeof r.kind === 'string' && typeof r.name === 'string') } }),
    annotations: meta.annotations ?? NO_ANNOTATIONS,
    explicitCpuRequest: all.some((c) => c.resources?.requests?.cpu !== undefined),
    cpuLimitMilli: limitsMilli(pod),
  };
}
