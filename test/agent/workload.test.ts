import { describe, expect, test } from 'vitest';
import { PodIndex } from '../../src/agent/resource/pods.js';
import { type PodLike, qosOf, workloadOf } from '../../src/agent/resource/workload.js';

function pod(owner: { kind: string; name: string } | null, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): PodLike {
  return {
    metadata: {
      uid: 'u1',
      name: 'web-7d9f8b6c5d-x2x4q',
      namespace: 'shop',
      labels,
      annotations,
      ownerReferences: owner ? [{ ...owner, controller: true }] : [],
    },
    status: { qosClass: 'Burstable' },
  };
}

describe('workloadOf', () => {
  test.for([
    { why: 'Deployment via ReplicaSet + pod-template-hash', owner: { kind: 'ReplicaSet', name: 'web-7d9f8b6c5d' }, labels: { 'pod-template-hash': '7d9f8b6c5d' }, kind: 'Deployment', name: 'web' },
    { why: 'bare ReplicaSet (hash label missing)', owner: { kind: 'ReplicaSet', name: 'legacy-rs' }, labels: {}, kind: 'ReplicaSet', name: 'legacy-rs' },
    { why: 'ReplicaSet whose name does not end in the hash', owner: { kind: 'ReplicaSet', name: 'web-abc' }, labels: { 'pod-template-hash': 'zzz' }, kind: 'ReplicaSet', name: 'web-abc' },
    { why: 'StatefulSet', owner: { kind: 'StatefulSet', name: 'db' }, labels: {}, kind: 'StatefulSet', name: 'db' },
    { why: 'DaemonSet', owner: { kind: 'DaemonSet', name: 'node-exporter' }, labels: {}, kind: 'DaemonSet', name: 'node-exporter' },
    { why: 'Job', owner: { kind: 'Job', name: 'migrate-v2' }, labels: {}, kind: 'Job', name: 'migrate-v2' },
    { why: 'CronJob via Job <name>-<unix minutes>', owner: { kind: 'Job', name: 'nightly-report-29123456' }, labels: {}, kind: 'CronJob', name: 'nightly-report' },
    { why: 'custom controller', owner: { kind: 'Rollout', name: 'canary' }, labels: {}, kind: 'Other', name: 'Rollout/canary' },
    { why: 'bare pod', owner: null, labels: {}, kind: 'Pod', name: 'web-7d9f8b6c5d-x2x4q' },
  ] as { why: string; owner: { kind: string; name: string } | null; labels: Record<string, string>; kind: string; name: string }[])('$why', ({ owner, labels, kind, name }) => {
    const w = workloadOf(pod(owner, labels));
    expect(w).toEqual({ kind, name, namespace: 'shop', id: `shop/${kind}/${name}` });
  });

  test('the wattsched.io/workload annotation overrides the id, not the kind', () => {
    const w = workloadOf(pod({ kind: 'StatefulSet', name: 'db' }, {}, { 'wattsched.io/workload': 'team-a/postgres' }));
    expect(w.id).toBe('team-a/postgres');
    expect(w.kind).toBe('StatefulSet');
  });

  test('controller reference wins over the first reference', () => {
    const p = pod(null);
    p.metadata!.ownerReferences = [
      { kind: 'ConfigMap', name: 'x', controller: false },
      { kind: 'StatefulSet', name: 'db', controller: true },
    ];
    expect(workloadOf(p).kind).toBe('StatefulSet');
  });

  test.for([
    ['Guaranteed', 'guaranteed'],
    ['Burstable', 'burstable'],
    ['BestEffort', 'besteffort'],
    [undefined, null],
  ] as const)('qosClass %s -> %s', ([cls, want]) => {
    expect(qosOf({ status: { qosClass: cls } })).toBe(want);
  });
});

describe('PodIndex', () => {
  test('follows add, update and delete events by UID', () => {
    const idx = new PodIndex();
    idx.apply('add', pod({ kind: 'DaemonSet', name: 'ds' }));
    expect(idx.get('u1')?.workload.id).toBe('shop/DaemonSet/ds');
    idx.apply('update', pod({ kind: 'StatefulSet', name: 'ss' }));
    expect(idx.get('u1')?.workload.kind).toBe('StatefulSet');
    expect(idx.get('u1')?.qos).toBe('burstable');
    idx.apply('delete', pod(null));
    expect(idx.get('u1')).toBeUndefined();
    idx.apply('add', { metadata: {} });
    expect(idx.size).toBe(0);
  });
});
