import { describe, expect, test } from 'vitest';
import { parseCgroupPath } from '../../src/agent/resource/cgroup-path.js';

const UID = '0f5b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const UID_SD = UID.replaceAll('-', '_');
const STATIC_UID = '6e8b5c2d9c8f4a3f1b2c3d4e5f6a7b8c';
const CID = 'a3f1c2d4e5b60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

// Paths as kubelet and the runtimes write them (cgroup v2 relative paths; v1 paths below a controller look the same).
describe('parseCgroupPath', () => {
  test.for([
    { why: 'systemd + containerd, burstable', path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_SD}.slice/cri-containerd-${CID}.scope`, kind: 'pod', uid: UID, cid: CID, qos: 'burstable', runtime: 'containerd' },
    { why: 'systemd + containerd, besteffort', path: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_SD}.slice/cri-containerd-${CID}.scope`, kind: 'pod', uid: UID, cid: CID, qos: 'besteffort', runtime: 'containerd' },
    { why: 'systemd, guaranteed (no QoS slice)', path: `/kubepods.slice/kubepods-pod${UID_SD}.slice/cri-containerd-${CID}.scope`, kind: 'pod', uid: UID, cid: CID, qos: 'guaranteed', runtime: 'containerd' },
    { why: 'systemd + CRI-O', path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_SD}.slice/crio-${CID}.scope`, kind: 'pod', uid: UID, cid: CID, qos: 'burstable', runtime: 'cri-o' },
    { why: 'CRI-O conmon scope', path: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_SD}.slice/crio-conmon-${CID}.scope`, kind: 'pod', uid: UID, cid: CID, qos: 'besteffort', runtime: 'cri-o-conmon' },
    { why: 'systemd + cri-dockerd', path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_SD}.slice/docker-${CID}.scope`, kind: 'pod', uid: UID, cid: CID, qos: 'burstable', runtime: 'docker' },
    { why: 'cgroupfs driver, besteffort', path: `/kubepods/besteffort/pod${UID}/${CID}`, kind: 'pod', uid: UID, cid: CID, qos: 'besteffort', runtime: 'unknown' },
    { why: 'cgroupfs driver, burstable', path: `/kubepods/burstable/pod${UID}/${CID}`, kind: 'pod', uid: UID, cid: CID, qos: 'burstable', runtime: 'unknown' },
    { why: 'cgroupfs driver, guaranteed', path: `/kubepods/pod${UID}/${CID}`, kind: 'pod', uid: UID, cid: CID, qos: 'guaranteed', runtime: 'unknown' },
    { why: 'cgroupfs driver with crio prefix', path: `/kubepods/burstable/pod${UID}/crio-${CID}`, kind: 'pod', uid: UID, cid: CID, qos: 'burstable', runtime: 'cri-o' },
    { why: 'static pod (hash UID)', path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC_UID}.slice/cri-containerd-${CID}.scope`, kind: 'pod', uid: STATIC_UID, cid: CID, qos: 'burstable', runtime: 'containerd' },
    { why: 'kind node (kubelet.slice prefix)', path: `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_SD}.slice/cri-containerd-${CID}.scope`, kind: 'pod', uid: UID, cid: CID, qos: 'besteffort', runtime: 'containerd' },
    { why: 'containerd colon naming (nested)', path: `/system.slice/containerd.service/kubepods-burstable-pod${UID_SD}.slice:cri-containerd:${CID}`, kind: 'pod', uid: UID, cid: CID, qos: 'burstable', runtime: 'containerd' },
    { why: 'pod-level cgroup, no container', path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_SD}.slice`, kind: 'pod', uid: UID, cid: undefined, qos: 'burstable', runtime: undefined },
    { why: 'cgroupfs pod-level', path: `/kubepods/besteffort/pod${UID}`, kind: 'pod', uid: UID, cid: undefined, qos: 'besteffort', runtime: undefined },
  ])('$why', ({ path, kind, uid, cid, qos, runtime }) => {
    const o = parseCgroupPath(path);
    expect(o.kind).toBe(kind);
    expect(o.podUid).toBe(uid);
    expect(o.containerId).toBe(cid);
    expect(o.qos).toBe(qos);
    expect(o.runtime).toBe(runtime);
  });

  test.for([
    { path: '/', kind: 'system', name: 'root' },
    { path: '/system.slice/ssh.service', kind: 'system', name: 'ssh.service' },
    { path: '/system.slice/containerd.service', kind: 'system', name: 'containerd.service' },
    { path: '/init.scope', kind: 'system', name: 'init.scope' },
    { path: '/kubepods.slice', kind: 'system', name: 'kubepods.slice' },
    { path: '/kubepods.slice/kubepods-burstable.slice', kind: 'system', name: 'kubepods-burstable.slice' },
    { path: '/kubepods/besteffort', kind: 'system', name: 'besteffort' },
    { path: '/user.slice/user-1000.slice/session-3.scope', kind: 'group', name: 'session-3.scope' },
    { path: '/batch/render-farm', kind: 'group', name: 'render-farm' },
    // A pod-looking directory outside kubepods is someone's own group, not a pod.
    { path: `/mystuff/pod${UID}`, kind: 'group', name: `pod${UID}` },
    { path: `/system.slice/docker-${CID}.scope`, kind: 'group', name: `docker:${CID.slice(0, 12)}` },
  ])('non-pod $path is $kind $name', ({ path, kind, name }) => {
    const o = parseCgroupPath(path);
    expect(o.kind).toBe(kind);
    expect(o.name).toBe(name);
    expect(o.podUid).toBeUndefined();
  });
});
