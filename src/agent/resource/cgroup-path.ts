// From a cgroup path to who owns it. Kubelet lays pods out in one of two drivers (systemd slices or plain cgroupfs
// directories) and each runtime names its container scopes differently; all of them reduce to pod UID, container ID
// and QoS class. Anything that is not a pod is still named (a system service, a user session, a group), never dropped.
import type { CgroupOwner, Qos } from '../../shared/wire/agent.js';

// Pod UIDs are RFC 4122 (dashes become underscores under systemd) or, for static pods, a 32-hex-digit hash.
const UID = String.raw`([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})`;
const POD_SYSTEMD = new RegExp(String.raw`^(?:[a-z0-9_.]+-)?kubepods(?:-(burstable|besteffort))?-pod${UID}\.slice$`);
const POD_CGROUPFS = new RegExp(`^pod${UID}$`);
const QOS_SYSTEMD = /^(?:[a-z0-9_.]+-)?kubepods-(burstable|besteffort)\.slice$/;
const KUBEPODS = /^(?:[a-z0-9_.]+-)?kubepods(?:\.slice)?$/;

// "<runtime>-<64 hex>.scope" (systemd driver), "<runtime>:<name>:<id>" (containerd's own systemd naming in nested
// setups such as kind), or a bare 64-hex directory (cgroupfs driver).
const CONTAINER_SCOPE = /^(cri-containerd|crio|crio-conmon|docker|libpod|containerd)-([0-9a-f]{64})\.scope$/;
const CONTAINER_COLON = /^(?:.*\.slice:)?(cri-containerd|crio|docker):([0-9a-f]{64})$/;
const CONTAINER_BARE = /^(?:(crio|docker)-)?([0-9a-f]{64})$/;

const RUNTIME: Record<string, string> = {
  'cri-containerd': 'containerd',
  containerd: 'containerd',
  crio: 'cri-o',
  'crio-conmon': 'cri-o-conmon',
  docker: 'docker',
  libpod: 'podman',
};

function qosOf(token: string | undefined): Qos {
  return token === 'burstable' ? 'burstable' : token === 'besteffort' ? 'besteffort' : 'guaranteed';
}

function container(segment: string): { runtime: string; id: string } | null {
  const m = CONTAINER_SCOPE.exec(segment) ?? CONTAINER_COLON.exec(segment);
  if (m) return { runtime: RUNTIME[m[1] as string] ?? (m[1] as string), id: m[2] as string };
  const bare = CONTAINER_BARE.exec(segment);
  if (bare) return { runtime: bare[1] ? (RUNTIME[bare[1]] ?? bare[1]) : 'unknown', id: bare[2] as string };
  return null;
}

/** Classifies a cgroup path relative to its hierarchy root ("/" is the root cgroup). */
export function parseCgroupPath(path: string): CgroupOwner {
  const segs = path.split('/').filter((s) => s.length > 0);
  for (let i = 0; i < segs.length; i++) {
    // containerd's own systemd naming folds pod slice and container into one segment: "<pod>.slice:<rt>:<id>".
    const seg = (segs[i] as string).split(':')[0] as string;
    let uid: string | undefined;
    let qos: Qos | undefined;
    const sd = POD_SYSTEMD.exec(seg);
    if (sd) {
      uid = sd[2];
      qos = qosOf(sd[1]);
    } else {
      const fs = POD_CGROUPFS.exec(seg);
      // The cgroupfs driver puts the QoS class in the parent directory ("/kubepods/besteffort/pod<uid>").
      if (fs && i > 0 && (KUBEPODS.test(segs[i - 1] as string) || /^(burstable|besteffort)$/.test(segs[i - 1] as string))) {
        uid = fs[1];
        qos = qosOf(segs[i - 1]);
      }
    }
    if (uid === undefined || qos === undefined) continue;
    const podUid = normaliseUid(uid);
    const owner: CgroupOwner = { kind: 'pod', podUid, qos, name: podUid };
    const next = (segs[i] as string).includes(':') ? segs[i] : segs[i + 1];
    const c = next === undefined ? null : container(next);
    if (c) {
      owner.containerId = c.id;
      owner.runtime = c.runtime;
      owner.name = `${podUid}/${c.id.slice(0, 12)}`;
    }
    return owner;
  }
  return nonPod(segs);
}

function normaliseUid(uid: string): string {
  return uid.replaceAll('_', '-');
}

function nonPod(segs: string[]): CgroupOwner {
  if (segs.length === 0) return { kind: 'system', name: 'root' };
  const last = segs[segs.length - 1] as string;
  const top = segs[0] as string;
  const c = container(last);
  if (c) return { kind: 'group', containerId: c.id, runtime: c.runtime, name: `${c.runtime}:${c.id.slice(0, 12)}` };
  if (QOS_SYSTEMD.test(last) || KUBEPODS.test(last) || (segs.length === 2 && KUBEPODS.test(top))) return { kind: 'system', name: last };
  if (top === 'system.slice' || top === 'init.scope' || top === 'kube.slice' || top === 'system') return { kind: 'system', name: last };
  return { kind: 'group', name: last };
}
