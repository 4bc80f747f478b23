// The policy checks must catch each violation they exist for: one compliant pod, then one broken copy per rule.
import { describe, expect, it } from 'vitest';
import { type Manifest, policyViolations } from './policy.js';

function goodDeployment(): Manifest {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      template: {
        spec: {
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'c',
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '1', memory: '64Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'logs', mountPath: '/var/log', readOnly: true }],
            },
          ],
          volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }],
        },
      },
    },
  };
}

const container = (m: Manifest): Manifest => m.spec.template.spec.containers[0];

function broken(edit: (m: Manifest) => void): Manifest {
  const m = goodDeployment();
  edit(m);
  return m;
}

describe('policyViolations', () => {
  it('passes a compliant Deployment and a read-only Role', () => {
    const role = { kind: 'ClusterRole', metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }] };
    expect(policyViolations([goodDeployment(), role])).toEqual([]);
  });

  it.each<[string, (m: Manifest) => void, string]>([
    ['privileged', (m) => { container(m).securityContext.privileged = true; }, 'Deployment/web/c: privileged'],
    ['writable root fs', (m) => { delete container(m).securityContext.readOnlyRootFilesystem; }, 'Deployment/web/c: readOnlyRootFilesystem is not true'],
    ['escalation', (m) => { container(m).securityContext.allowPrivilegeEscalation = true; }, 'Deployment/web/c: allowPrivilegeEscalation is not false'],
    ['no drop ALL', (m) => { container(m).securityContext.capabilities.drop = ['NET_RAW']; }, 'Deployment/web/c: capabilities.drop lacks ALL'],
    ['added capability', (m) => { container(m).securityContext.capabilities.add = ['NET_ADMIN']; }, 'Deployment/web/c: adds capabilities NET_ADMIN'],
    ['no limits', (m) => { delete container(m).resources.limits; }, 'Deployment/web/c: no limits.cpu'],
    ['no memory request', (m) => { delete container(m).resources.requests.memory; }, 'Deployment/web/c: no requests.memory'],
    ['root', (m) => { m.spec.template.spec.securityContext.runAsNonRoot = false; }, 'Deployment/web/c: runAsNonRoot is not true'],
    ['uid 0', (m) => { container(m).securityContext.runAsUser = 0; }, 'Deployment/web/c: runAsUser 0'],
    ['no seccomp', (m) => { delete m.spec.template.spec.securityContext.seccompProfile; }, 'Deployment/web/c: seccompProfile is not RuntimeDefault'],
    ['host network', (m) => { m.spec.template.spec.hostNetwork = true; }, 'Deployment/web: hostNetwork'],
    ['writable hostPath', (m) => { container(m).volumeMounts[0].readOnly = false; }, 'Deployment/web/c: hostPath /var/log mounted writable'],
    [
      'init container unchecked',
      (m) => { m.spec.template.spec.initContainers = [{ name: 'init', securityContext: {} }]; },
      'Deployment/web/init: readOnlyRootFilesystem is not true',
    ],
  ])('catches %s', (_what, edit, expected) => {
    expect(policyViolations([broken(edit)])).toContain(expected);
  });

  it('catches wildcard RBAC, secrets and cluster-admin', () => {
    const found = policyViolations([
      { kind: 'ClusterRole', metadata: { name: 'w' }, rules: [{ apiGroups: ['*'], resources: ['pods'], verbs: ['get'] }, { apiGroups: [''], resources: ['pods'], verbs: ['*'] }] },
      { kind: 'Role', metadata: { name: 's' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] },
      { kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
    ]);
    expect(found).toEqual([
      'ClusterRole/w: rule 0 has a wildcard in apiGroups',
      'ClusterRole/w: rule 1 has a wildcard in verbs',
      'Role/s: rule 0 grants access to secrets',
      'ClusterRoleBinding/b: binds cluster-admin',
    ]);
  });

  it('lets an allow-listed container run as root with its listed capabilities only', () => {
    const agent = broken((m) => {
      m.spec.template.spec.securityContext.runAsNonRoot = false;
      container(m).securityContext.runAsUser = 0;
      container(m).securityContext.capabilities.add = ['BPF', 'SYS_ADMIN'];
    });
    expect(policyViolations([agent], { rootWithCapabilities: { 'Deployment/web/c': ['BPF', 'PERFMON'] } })).toEqual([
      'Deployment/web/c: adds capability SYS_ADMIN beyond BPF,PERFMON',
    ]);
  });
});
