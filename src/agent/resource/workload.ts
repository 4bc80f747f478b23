// Workload identity: the stable name a pod's energy profile is filed under, so that profiles survive pod churn.
// Derived from the owner chain using only what the pod itself carries (owner references and labels), which keeps
// the agent's API access to one node-scoped pod watch.
import type { WorkloadMeta } from '../../shared/workload.js';
import type { Qos } from '../../shared/wire/agent.js';

export { workloadOf, type OwnerRef } from '../../shared/workload.js';

/** The subset of a v1.Pod the agent reads. */
export interface PodLike {
  metadata?: WorkloadMeta | undefined;
  spec?: { containers?: { name: string; resources?: { requests?: Record<string, string | number> | undefined } | undefined }[] | undefined } | undefined;
  status?: {
    qosClass?: string | undefined;
    containerStatuses?: { name: string; containerID?: string | undefined }[] | undefined;
    initContainerStatuses?: { name: string; containerID?: string | undefined }[] | undefined;
  } | undefined;
}

export function qosOf(pod: PodLike): Qos | null {
  switch (pod.status?.qosClass) {
    case 'Guaranteed':
      return 'guaranteed';
    case 'Burstable':
      return 'burstable';
    case 'BestEffort':
      return 'besteffort';
    default:
      return null;
  }
}
