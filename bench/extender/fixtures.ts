// Request bodies shaped like the ones kube-scheduler sends, for tests and the benchmark. A Node here is about 5 KB
// of JSON (labels, annotations, managedFields, conditions, addresses, nodeInfo, images), matching the ~2.6 MB that
// a real 500-node full-object ExtenderArgs weighs.
import type { ExtenderArgs, Node, Pod } from '../../src/shared/wire/extender.js';

/** Curves of three servers from shared/data/specpower/servers_20.csv (watts at 0,10,…,100 %). */
export const CURVES = {
  // power_ssj2008-20071128-00004, Fujitsu PRIMERGY TX120 (2007, 1 socket)
  old: [66.8, 69.9, 73.2, 77.2, 82.2, 87.3, 92.7, 97.6, 102, 106, 109],
  // power_ssj2008-20081212-00104, Dell PowerEdge 2970 (2007, 2 sockets)
  opteron: [139, 164, 185, 205, 223, 236, 249, 263, 277, 292, 302],
} as const;

export function realisticNode(i: number, opts: { cpu?: string; annotations?: Record<string, string>; instanceType?: string } = {}): Node {
  const name = `node-${String(i).padStart(5, '0')}`;
  const zone = `zone-${i % 3}`;
  return {
    metadata: {
      name,
      uid: `6d3c0a9e-${String(i).padStart(4, '0')}-4f7b-9c1e-5a8b2d7f${String(i).padStart(4, '0')}`,
      resourceVersion: String(100000 + i),
      creationTimestamp: '2026-11-01T10:00:00Z',
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': opts.instanceType ?? 'm6i.4xlarge',
        'topology.kubernetes.io/region': 'eu-west-1',
        'topology.kubernetes.io/zone': zone,
        'failure-domain.beta.kubernetes.io/zone': zone,
        'node-role.kubernetes.io/worker': '',
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
        ...opts.annotations,
      },
      managedFields: [
        { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: '2026-11-01T10:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:node.alpha.kubernetes.io/ttl': {} }, 'f:labels': { '.': {}, 'f:kubernetes.io/hostname': {} } }, 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { 'f:lastHeartbeatTime': {}, 'f:status': {} } }, 'f:images': {} } } },
      ],
    } as Node['metadata'],
    spec: { podCIDR: `10.${i >> 8 & 255}.${i & 255}.0/24`, providerID: `aws:///eu-west-1a/i-0${i.toString(16).padStart(16, '0')}` },
    status: {
      capacity: { cpu: opts.cpu ?? '16', memory: '65023412Ki', pods: '110', 'ephemeral-storage': '104845292Ki' },
      allocatable: { cpu: opts.cpu ?? '16', memory: '64008628Ki', pods: '110', 'ephemeral-storage': '96625420409' },
      conditions: ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({
        type,
        status: type === 'Ready' ? 'True' : 'False',
        lastHeartbeatTime: '2026-12-01T10:00:00Z',
        lastTransitionTime: '2026-11-01T10:00:00Z',
        reason: type === 'Ready' ? 'KubeletReady' : `KubeletHasNo${type}`,
        message: type === 'Ready' ? 'kubelet is posting ready status' : `kubelet has no ${type.toLowerCase()}`,
      })),
      addresses: [
        { type: 'InternalIP', address: `10.0.${i >> 8 & 255}.${i & 255}` },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: 'ec2a9d6f2b1c4e3a8f7d6c5b4a392817', systemUUID: 'ec2a9d6f-2b1c-4e3a-8f7d-6c5b4a392817', bootID: '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0',
        kernelVersion: '6.1.0-27-cloud-amd64', osImage: 'Debian GNU/Linux 12 (bookworm)', containerRuntimeVersion: 'containerd://1.7.24',
        kubeletVersion: 'v1.35.4', kubeProxyVersion: 'v1.35.4', operatingSystem: 'linux', architecture: 'amd64',
      },
      images: Array.from({ length: 16 }, (_, k) => ({
        names: [`registry.example.com/team-${k}/service-${k}@sha256:${'a1b2c3d4e5f6'.repeat(5).slice(0, 64)}`, `registry.example.com/team-${k}/service-${k}:v1.${k}.0`],
        sizeBytes: 50_000_000 + k * 1_000_003,
      })),
    },
  } as Node;
}

export function realisticPod(name = 'web-7d4b9c6f5-x2x9q', cpu = '500m'): Pod {
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid: '3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b',
      labels: { app: 'web', 'pod-template-hash': '7d4b9c6f5' },
      annotations: {},
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d4b9c6f5', controller: true }],
    },
    spec: {
      containers: [
        { name: 'web', resources: { requests: { cpu, memory: '256Mi' }, limits: { memory: '512Mi' } } },
        { name: 'log-shipper', resources: { requests: { cpu: '50m', memory: '64Mi' } } },
      ],
    },
  };
}

/** ExtenderArgs as kube-scheduler marshals it: names mode sends `"Nodes":null`, full mode `"NodeNames":null`. */
export function extenderArgs(mode: 'names' | 'full', nodes: Node[], pod: Pod = realisticPod()): ExtenderArgs {
  return mode === 'names'
    ? { Pod: pod, Nodes: null, NodeNames: nodes.map((n) => n.metadata?.name as string) }
    : { Pod: pod, Nodes: { items: nodes }, NodeNames: null };
}
