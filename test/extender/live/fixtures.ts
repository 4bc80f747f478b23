// Node reports as an agent serves them on GET /v1/node, reduced to what the extender reads; valid against
// NodeReportSchema (the feed refuses anything else).
import type { NodeReport, PodReport } from '../../../src/shared/wire/agent.js';

export interface PodUse {
  uid: string;
  namespace: string;
  name: string;
  /** Owner: Deployment name. */
  deployment: string;
  cores: number;
  watts: number;
}

const zero = { cpuSeconds: 0 };

export function podReport(p: PodUse): PodReport {
  return {
    uid: p.uid,
    namespace: p.namespace,
    name: p.name,
    qos: 'burstable',
    workload: { kind: 'Deployment', namespace: p.namespace, name: p.deployment, id: `${p.namespace}/Deployment/${p.deployment}` },
    containers: ['c0'],
    cumulative: zero,
    rates: { cpuSeconds: p.cores },
    energy: { watts: p.watts, joules: 0, cpuSecondsTotal: 0, contextSwitchesTotal: 0 },
  };
}

export function nodeReport(node: string, utilisation: number, watts: number, pods: PodUse[] = [], intervalSeconds = 5): NodeReport {
  return {
    node,
    at: new Date(0).toISOString(),
    intervalSeconds,
    layout: 'v2',
    collector: { name: 'fallback', variant: 'cgroupfs v2 cpu.stat', reason: 'test', attempts: [] },
    counters: {},
    droppedCgroups: 0,
    kubernetes: { mode: 'standalone', detail: 'test' },
    cgroups: [],
    pods: pods.map(podReport),
    power: {
      source: 'rapl',
      watts,
      idleWatts: 10,
      zones: [],
      model: { id: 'test-model', errorPercent: null, detail: 'test' },
      meters: [],
      cpuUtilisation: utilisation,
      busyCpuSeconds: 0,
      idlePolicy: 'even',
      residualRatio: 0,
      system: [],
    },
  };
}

/** A pod as kube-scheduler sends it: owned by Deployment `deployment` through its ReplicaSet. */
export function pendingPod(name: string, deployment: string, opts: { request?: string; limit?: string; annotations?: Record<string, string>; namespace?: string } = {}) {
  const hash = '5d8f7c9b4';
  return {
    metadata: {
      name,
      namespace: opts.namespace ?? 'shop',
      uid: `uid-${name}`,
      labels: { 'pod-template-hash': hash },
      ownerReferences: [{ kind: 'ReplicaSet', name: `${deployment}-${hash}`, controller: true }],
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    spec: {
      containers: [
        {
          name: 'c0',
          resources: { ...(opts.request ? { requests: { cpu: opts.request } } : {}), ...(opts.limit ? { limits: { cpu: opts.limit } } : {}) },
        },
      ],
    },
  };
}
