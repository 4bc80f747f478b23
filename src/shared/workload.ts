// Workload identity: the stable name a pod's energy profile is filed under, so that profiles survive pod churn.
// Derived from the owner chain using only what the pod itself carries (owner references and labels). Shared because
// the agent files measurements under it and the extender looks a pending pod's history up under the same name.
import { ANNOTATIONS } from './names.js';
import type { Workload } from './wire/agent.js';

export interface OwnerRef {
  kind: string;
  name: string;
  controller?: boolean | undefined;
}

/** What identity needs of a pod's metadata. */
export interface WorkloadMeta {
  uid?: string | undefined;
  name?: string | undefined;
  namespace?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  ownerReferences?: OwnerRef[] | undefined;
}

// CronJob controllers name their Jobs "<cronjob>-<scheduled time in Unix minutes>"; the suffix has 8+ digits.
const CRONJOB_JOB = /^(.+)-(\d{8,})$/;

export function workloadOf(pod: { metadata?: WorkloadMeta | undefined }): Workload {
  const md = pod.metadata ?? {};
  const namespace = md.namespace ?? 'default';
  const refs = md.ownerReferences ?? [];
  const owner = refs.find((r) => r.controller === true) ?? refs[0];
  let kind: Workload['kind'];
  let name: string;
  if (owner === undefined) {
    kind = 'Pod';
    name = md.name ?? md.uid ?? 'unknown';
  } else if (owner.kind === 'ReplicaSet') {
    const hash = md.labels?.['pod-template-hash'];
    if (hash !== undefined && owner.name.endsWith(`-${hash}`)) {
      kind = 'Deployment';
      name = owner.name.slice(0, -(hash.length + 1));
    } else {
      kind = 'ReplicaSet';
      name = owner.name;
    }
  } else if (owner.kind === 'Job') {
    const m = CRONJOB_JOB.exec(owner.name);
    kind = m ? 'CronJob' : 'Job';
    name = m ? (m[1] as string) : owner.name;
  } else if (owner.kind === 'StatefulSet' || owner.kind === 'DaemonSet') {
    kind = owner.kind;
    name = owner.name;
  } else {
    kind = 'Other';
    name = `${owner.kind}/${owner.name}`;
  }
  const override = md.annotations?.[ANNOTATIONS.workload];
  const id = override !== undefined && override.length > 0 ? override : `${namespace}/${kind}/${name}`;
  return { kind, namespace, name, id };
}
