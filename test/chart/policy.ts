// Policy checks on rendered Kubernetes manifests: what the chart promises about privilege, written as a pure
// function from objects to violations so the same checks run on the chart's output and on hand-made bad manifests.

export type Manifest = Record<string, any>;

export interface PolicyOptions {
  /**
   * Containers allowed to run as uid 0, keyed "<kind>/<name>/<container>", with the only capabilities they may
   * add. Kubernetes grants added capabilities to uid 0 alone, so the agent (BPF) is the one such container.
   */
  rootWithCapabilities?: Record<string, readonly string[]>;
  /** hostPath paths that may be mounted writable (the agent's checkpoint directory). */
  writableHostPaths?: readonly string[];
}

const WORKLOADS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'ReplicaSet', 'Pod']);
const RBAC_RULE_KINDS = new Set(['Role', 'ClusterRole']);

function podSpecOf(m: Manifest): Manifest | undefined {
  if (!WORKLOADS.has(m.kind)) return undefined;
  return m.kind === 'Pod' ? m.spec : m.spec?.template?.spec;
}

const hasValue = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

export function policyViolations(manifests: readonly Manifest[], opts: PolicyOptions = {}): string[] {
  const out: string[] = [];
  const rootOk = opts.rootWithCapabilities ?? {};
  const writable = new Set(opts.writableHostPaths ?? []);
  for (const m of manifests) {
    const id = `${m.kind}/${m.metadata?.name}`;
    if (RBAC_RULE_KINDS.has(m.kind)) {
      for (const [i, r] of ((m.rules ?? []) as Manifest[]).entries()) {
        for (const field of ['verbs', 'resources', 'apiGroups', 'resourceNames', 'nonResourceURLs']) {
          if (((r[field] ?? []) as string[]).some((v) => v.includes('*'))) out.push(`${id}: rule ${i} has a wildcard in ${field}`);
        }
        if (((r.resources ?? []) as string[]).includes('secrets')) out.push(`${id}: rule ${i} grants access to secrets`);
        for (const v of ['escalate', 'bind', 'impersonate']) {
          if (((r.verbs ?? []) as string[]).includes(v)) out.push(`${id}: rule ${i} grants ${v}`);
        }
      }
    }
    if ((m.kind === 'ClusterRoleBinding' || m.kind === 'RoleBinding') && m.roleRef?.name === 'cluster-admin') {
      out.push(`${id}: binds cluster-admin`);
    }
    const pod = podSpecOf(m);
    if (!pod) continue;
    if (pod.hostNetwork === true) out.push(`${id}: hostNetwork`);
    if (pod.hostIPC === true) out.push(`${id}: hostIPC`);
    const podSc = pod.securityContext ?? {};
    const volumes = new Map<string, Manifest>(((pod.volumes ?? []) as Manifest[]).map((v) => [v.name, v]));
    const containers = [...((pod.initContainers ?? []) as Manifest[]), ...((pod.containers ?? []) as Manifest[])];
    if (containers.length === 0) out.push(`${id}: no containers`);
    for (const c of containers) {
      const cid = `${id}/${c.name}`;
      const sc = c.securityContext ?? {};
      if (sc.privileged === true) out.push(`${cid}: privileged`);
      if (sc.allowPrivilegeEscalation !== false) out.push(`${cid}: allowPrivilegeEscalation is not false`);
      if (sc.readOnlyRootFilesystem !== true) out.push(`${cid}: readOnlyRootFilesystem is not true`);
      const drop = (sc.capabilities?.drop ?? []) as string[];
      if (!drop.includes('ALL')) out.push(`${cid}: capabilities.drop lacks ALL`);
      const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${cid}: seccompProfile is not RuntimeDefault`);
      for (const part of ['requests', 'limits']) {
        for (const res of ['cpu', 'memory']) {
          if (!hasValue(c.resources?.[part]?.[res])) out.push(`${cid}: no ${part}.${res}`);
        }
      }
      const added = (sc.capabilities?.add ?? []) as string[];
      const allowedCaps = rootOk[cid];
      const runAsNonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
      const runAsUser = sc.runAsUser ?? podSc.runAsUser;
      if (allowedCaps === undefined) {
        if (runAsNonRoot !== true) out.push(`${cid}: runAsNonRoot is not true`);
        if (runAsUser === 0) out.push(`${cid}: runAsUser 0`);
        if (added.length > 0) out.push(`${cid}: adds capabilities ${added.join(',')}`);
      } else {
        for (const cap of added) if (!allowedCaps.includes(cap)) out.push(`${cid}: adds capability ${cap} beyond ${allowedCaps.join(',')}`);
      }
      for (const vm of (c.volumeMounts ?? []) as Manifest[]) {
        const hp = volumes.get(vm.name)?.hostPath;
        if (hp && vm.readOnly !== true && !writable.has(hp.path)) out.push(`${cid}: hostPath ${hp.path} mounted writable`);
      }
    }
  }
  return out;
}
