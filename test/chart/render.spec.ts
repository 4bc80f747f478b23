// The chart rendered by a real Helm: lint and template for the defaults and every switch, the policy checks on
// each output, the values schema rejecting unknown keys, ConfigMaps that the components' own loaders accept, and
// the KubeSchedulerConfiguration being the harness's file with only the documented substitutions.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config/load.js';
import { AgentConfigSchema } from '../../src/shared/config/agent.js';
import { ExtenderConfigSchema, extenderConfigProblems } from '../../src/shared/config/extender.js';
import { ModelServerConfigSchema } from '../../src/shared/config/model-server.js';
import { METRICS } from '../../src/shared/names.js';
import { resolveAuth } from '../../src/model/server/auth.js';
import { CASES } from './cases.js';
import { CHART, NAMESPACE, REPO, find, helmBinary, helmTemplate, parsePromql, render, run, valuesFile } from './helm.js';
import { type Manifest, policyViolations } from './policy.js';

const AGENT_CAPS = ['BPF', 'PERFMON', 'SYS_RESOURCE'];
const POLICY = {
  rootWithCapabilities: { 'DaemonSet/wattsched-agent/agent': AGENT_CAPS },
  writableHostPaths: ['/var/lib/wattsched'],
};
const EXPORTED_METRICS = Object.values(METRICS).flatMap((group) => Object.values(group));

const SCHEDULER_FILE = join(REPO, 'charts/wattsched/files/kube-scheduler-config.yaml');
const scratch = mkdtempSync(join(tmpdir(), 'wattsched-chart-cfg-'));

function podSpec(m: Manifest): Manifest {
  return m.spec.template.spec;
}

describe('helm lint and helm template, per case', () => {
  it.each(CASES.map((c) => [c.name, c.values] as const))('%s: lints, renders and passes the policy checks', (_name, values) => {
    const lint = run(helmBinary(), ['lint', '--strict', CHART, '--namespace', NAMESPACE, '-f', valuesFile(values)]);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    const ms = render(values);
    expect(ms.length).toBeGreaterThan(5);
    expect(policyViolations(ms, POLICY)).toEqual([]);
    for (const m of ms) expect(m.metadata.labels?.['app.kubernetes.io/instance'], `${m.kind}/${m.metadata.name}`).toBe('wattsched');
  });
});

describe('defaults', () => {
  const ms = render({});
  const kinds = (k: string) => ms.filter((m) => m.kind === k).map((m) => m.metadata.name).sort();

  it('the policy checks see the one exception: without its allowance the agent container is flagged', () => {
    expect(policyViolations(ms)).toEqual([
      'DaemonSet/wattsched-agent/agent: runAsNonRoot is not true',
      'DaemonSet/wattsched-agent/agent: runAsUser 0',
      'DaemonSet/wattsched-agent/agent: adds capabilities BPF,PERFMON,SYS_RESOURCE',
      'DaemonSet/wattsched-agent/agent: hostPath /var/lib/wattsched mounted writable',
    ]);
  });

  it('renders the three components, the second scheduler and the default-scheduler config, nothing that needs a CRD', () => {
    expect(kinds('DaemonSet')).toEqual(['wattsched-agent']);
    expect(kinds('Deployment')).toEqual(['wattsched-extender', 'wattsched-model-server', 'wattsched-scheduler']);
    expect(kinds('PersistentVolumeClaim')).toEqual(['wattsched-model-server']);
    expect(kinds('PodDisruptionBudget')).toEqual(['wattsched-extender']);
    expect(kinds('NetworkPolicy')).toEqual(['wattsched-agent', 'wattsched-extender', 'wattsched-model-server', 'wattsched-scheduler']);
    expect(ms.filter((m) => !m.apiVersion.match(/^(v1|apps\/v1|policy\/v1|rbac\.authorization\.k8s\.io\/v1|networking\.k8s\.io\/v1)$/))).toEqual([]);
  });

  it('agent: capabilities, not privileged; host cgroupfs, BTF and tracefs read-only, only the checkpoint directory writable; no host network or PID', () => {
    const ds = podSpec(find(ms, 'DaemonSet', 'wattsched-agent'));
    const c = ds.containers[0];
    expect(c.securityContext.privileged).toBe(false);
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: AGENT_CAPS });
    expect(ds.hostNetwork).toBe(false);
    expect(ds.hostPID).toBe(false);
    const hostPaths = Object.fromEntries(ds.volumes.filter((v: Manifest) => v.hostPath).map((v: Manifest) => [v.name, v.hostPath.path]));
    expect(hostPaths).toEqual({ cgroup: '/sys/fs/cgroup', btf: '/sys/kernel/btf', tracing: '/sys/kernel/tracing', state: '/var/lib/wattsched' });
    for (const vm of c.volumeMounts.filter((m: Manifest) => m.name in hostPaths)) expect(vm.readOnly === true, vm.name).toBe(vm.name !== 'state');
    expect(c.env.find((e: Manifest) => e.name === 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
  });

  it('extender: 2 replicas, a PDB over them, readiness on /readyz of the health port, spread across nodes', () => {
    const d = find(ms, 'Deployment', 'wattsched-extender');
    expect(d.spec.replicas).toBe(2);
    const c = podSpec(d).containers[0];
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'health', scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'health', scheme: 'HTTP' });
    expect(c.ports).toEqual([{ name: 'webhook', containerPort: 8888 }, { name: 'health', containerPort: 8889 }]);
    expect(c.env.find((e: Manifest) => e.name === 'WATTSCHED_EXTENDER_SERVING__HEALTH_PORT').value).toBe('8889');
    const anti = podSpec(d).affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    expect(anti.topologyKey).toBe('kubernetes.io/hostname');
    const pdb = find(ms, 'PodDisruptionBudget', 'wattsched-extender');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
    expect(anti.labelSelector.matchLabels).toEqual(d.spec.selector.matchLabels);
    expect(find(ms, 'Service', 'wattsched-extender').spec.ports[0]).toMatchObject({ port: 8888, targetPort: 'webhook' });
  });

  it('RBAC: exactly the reads each component makes, pod patches for the annotations, and the model server has no API access at all', () => {
    const patchPods = { apiGroups: [''], resources: ['pods'], verbs: ['patch'] };
    expect(find(ms, 'ClusterRole', 'wattsched-agent').rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }, patchPods]);
    expect(find(ms, 'ClusterRole', 'wattsched-extender').rules).toEqual([{ apiGroups: [''], resources: ['nodes', 'pods'], verbs: ['list', 'watch'] }, patchPods]);
    expect(find(ms, 'Role', 'wattsched-scheduler-lease').rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['wattsched-scheduler'], verbs: ['get', 'update'] },
    ]);
    const ms2 = podSpec(find(ms, 'Deployment', 'wattsched-model-server'));
    expect(ms2.automountServiceAccountToken).toBe(false);
    expect(ms.filter((m) => m.kind.endsWith('Binding') && m.subjects?.some((s: Manifest) => s.name === 'wattsched-model-server'))).toEqual([]);
    const bound = ms.filter((m) => m.kind === 'ClusterRoleBinding').map((m) => m.roleRef.name).sort();
    expect(bound).toEqual(['system:kube-scheduler', 'system:volume-scheduler', 'wattsched-agent', 'wattsched-extender']);
  });

  it('NetworkPolicies: only the scheduler (and scrapers) reach the extender; only agents and extenders the model server', () => {
    const ext = find(ms, 'NetworkPolicy', 'wattsched-extender').spec.ingress[0];
    expect(ext.ports).toEqual([{ protocol: 'TCP', port: 8888 }]);
    expect(ext.from).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'wattsched', 'app.kubernetes.io/instance': 'wattsched', 'app.kubernetes.io/component': 'scheduler' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
    const model = find(ms, 'NetworkPolicy', 'wattsched-model-server').spec.ingress[0];
    expect(model.from.map((p: Manifest) => p.podSelector?.matchLabels['app.kubernetes.io/component'] ?? 'scrapers')).toEqual(['agent', 'extender', 'scrapers']);
  });
});

describe('switches', () => {
  it('cert-manager: a CA chain of our own when no issuer is given, and the Secret the extender and scheduler mount', () => {
    const ms = render({ tls: { enabled: true, certManager: { enabled: true } } });
    const cert = find(ms, 'Certificate', 'wattsched-extender');
    expect(cert.spec.issuerRef).toEqual({ name: 'wattsched-ca', kind: 'Issuer', group: 'cert-manager.io' });
    expect(cert.spec.dnsNames).toContain('wattsched-extender.wattsched.svc');
    expect(find(ms, 'Certificate', 'wattsched-ca').spec.isCA).toBe(true);
    expect(find(ms, 'Issuer', 'wattsched-selfsigned').spec).toEqual({ selfSigned: {} });
    const ext = podSpec(find(ms, 'Deployment', 'wattsched-extender'));
    expect(ext.volumes.find((v: Manifest) => v.name === 'tls').secret.secretName).toBe(cert.spec.secretName);
    // The webhook port serves HTTPS; the probes go to the health thread's plain-HTTP port.
    expect(ext.containers[0].readinessProbe.httpGet).toMatchObject({ port: 'health', scheme: 'HTTP' });
    const sched = podSpec(find(ms, 'Deployment', 'wattsched-scheduler'));
    expect(sched.volumes.find((v: Manifest) => v.name === 'tls-ca').secret).toEqual({ secretName: cert.spec.secretName, items: [{ key: 'ca.crt', path: 'ca.crt' }] });
  });

  it('cert-manager with an issuer of yours: no CA objects, your issuerRef', () => {
    const ref = { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' };
    const ms = render({ tls: { enabled: true, certManager: { enabled: true, issuerRef: ref } } });
    expect(ms.filter((m) => m.kind === 'Issuer')).toEqual([]);
    expect(find(ms, 'Certificate', 'wattsched-extender').spec.issuerRef).toEqual(ref);
  });

  it('monitoring: ServiceMonitors, the agent PodMonitor, the five alerts and the dashboard, on metrics that the components export', () => {
    const ms = render({ monitoring: { serviceMonitor: { enabled: true }, podMonitor: { enabled: true }, prometheusRules: { enabled: true }, grafanaDashboard: { enabled: true } } });
    expect(ms.filter((m) => m.kind === 'ServiceMonitor').map((m) => m.metadata.name).sort()).toEqual(['wattsched-extender', 'wattsched-model-server']);
    expect(find(ms, 'PodMonitor', 'wattsched-agent').spec.podMetricsEndpoints[0].port).toBe('http');
    const rules = find(ms, 'PrometheusRule', 'wattsched').spec.groups[0].rules as Manifest[];
    expect(rules.map((r) => r.alert)).toEqual(['WattschedAgentDown', 'WattschedAttributionResidualHigh', 'WattschedPredictionErrorHigh', 'WattschedExtenderFailingOpen', 'WattschedExtenderSlow']);
    const dash = find(ms, 'ConfigMap', 'wattsched-dashboard');
    expect(dash.metadata.labels.grafana_dashboard).toBe('1');
    const panels = JSON.parse(dash.data['wattsched.json']).panels as Manifest[];
    const exprs = [...rules.map((r) => r.expr as string), ...panels.flatMap((p) => p.targets.map((t: Manifest) => t.expr as string))];
    const parsed = parsePromql(exprs);
    parsed.forEach((p, i) => expect(p, exprs[i]).toMatchObject({ ok: true }));
    // Histograms are exported under their base name; PromQL selects its _bucket/_sum/_count series.
    const used = new Set(parsed.flatMap((p) => p.metrics ?? []).map((m) => m.replace(/_(bucket|sum|count)$/, '')));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) {
      if (name === 'up') continue;
      expect(EXPORTED_METRICS, name).toContain(name);
    }
  });

  it('the PromQL check rejects what Prometheus would: a broken expression and a bad duration', () => {
    const [unclosed, duration] = parsePromql(['sum(rate(wattsched_extender_fail_open_total[5m])', 'rate(wattsched_extender_fail_open_total[5 minutes])']);
    expect(unclosed?.ok).toBe(false);
    expect(duration?.ok).toBe(false);
  });

  it('an empty NetworkPolicy peer list admits nothing instead of everything', () => {
    const ms = render({ scheduler: { second: { enabled: false } }, networkPolicy: { metricsFrom: [] } });
    expect(find(ms, 'NetworkPolicy', 'wattsched-extender').spec.ingress).toEqual([]);
    // The agents still admit the extenders, which poll their /v1/node ...
    expect(find(ms, 'NetworkPolicy', 'wattsched-agent').spec.ingress).toEqual([
      { ports: [{ protocol: 'TCP', port: 9102 }], from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'wattsched', 'app.kubernetes.io/instance': 'wattsched', 'app.kubernetes.io/component': 'extender' } } }] },
    ]);
    // ... and without an extender nothing.
    const noExtender = render({ extender: { enabled: false }, scheduler: { second: { enabled: false }, defaultScheduler: { renderConfig: false } }, networkPolicy: { metricsFrom: [] } });
    expect(find(noExtender, 'NetworkPolicy', 'wattsched-agent').spec.ingress).toEqual([]);
  });

  it('the checkpoint hostPath is mounted by default and the agent writes its checkpoint there; empty turns both off', () => {
    const env = (spec: Manifest) => Object.fromEntries(spec.containers[0].env.map((e: Manifest) => [e.name, e.value]));
    const on = podSpec(find(render({}), 'DaemonSet', 'wattsched-agent'));
    expect(on.volumes.find((v: Manifest) => v.name === 'state').hostPath).toEqual({ path: '/var/lib/wattsched', type: 'DirectoryOrCreate' });
    expect(on.containers[0].volumeMounts.find((m: Manifest) => m.name === 'state').mountPath).toBe('/var/lib/wattsched');
    expect(env(on).WATTSCHED_AGENT_POWER__CHECKPOINT_PATH).toBe('/var/lib/wattsched/agent-energy.json');
    const off = podSpec(find(render({ agent: { checkpointHostPath: '' } }), 'DaemonSet', 'wattsched-agent'));
    expect(off.volumes.map((v: Manifest) => v.name)).not.toContain('state');
    expect(env(off).WATTSCHED_AGENT_POWER__CHECKPOINT_PATH).toBe('');
  });

  it('a config change changes the pod template (checksum annotation), so helm upgrade rolls exactly those pods', () => {
    const sum = (v: object, kind: string, name: string) => find(render(v), kind, name).spec.template.metadata.annotations['checksum/config'];
    const ext = { extender: { config: { logLevel: 'debug' } } };
    expect(sum(ext, 'Deployment', 'wattsched-extender')).not.toBe(sum({}, 'Deployment', 'wattsched-extender'));
    expect(sum(ext, 'DaemonSet', 'wattsched-agent')).toBe(sum({}, 'DaemonSet', 'wattsched-agent'));
    expect(sum(ext, 'Deployment', 'wattsched-model-server')).toBe(sum({}, 'Deployment', 'wattsched-model-server'));
  });

  it('the second scheduler runs the upstream image at the cluster version unless pinned', () => {
    const image = (v: object) => podSpec(find(render(v), 'Deployment', 'wattsched-scheduler')).containers[0].image;
    expect(image({})).toBe('registry.k8s.io/kube-scheduler:v1.35.4');
    expect(image({ scheduler: { second: { image: { tag: 'v1.34.2' } } } })).toBe('registry.k8s.io/kube-scheduler:v1.34.2');
  });
});

describe('values schema (generated from src/shared/config) makes helm template fail', () => {
  it.each<[string, object, RegExp]>([
    ['an unknown agent config key', { agent: { config: { bogus: 1 } } }, /bogus/],
    ['an unknown extender config key, nested', { extender: { config: { tls: { certfile: '/x' } } } }, /certfile/],
    ['a power curve of 2 points', { extender: { config: { powerCurves: { byLabelValue: { x: [1, 2] } } } } }, /byLabelValue/],
    ['a model-server bound', { modelServer: { config: { retrain: { holdOutFraction: 2 } } } }, /holdOutFraction/],
    ['an unknown top-level key', { bogus: true }, /bogus/],
    // null deletes a default in Helm's merge: the only way a user can drop the limits values.yaml sets.
    ['a container without limits', { extender: { resources: { limits: null } } }, /limits/],
    ['a container without a memory request', { modelServer: { resources: { requests: { memory: null } } } }, /memory/],
    ['an Unconfined agent seccomp profile', { agent: { seccompProfile: { type: 'Unconfined' } } }, /seccompProfile/],
    ['the second scheduler named default-scheduler', { scheduler: { second: { schedulerName: 'default-scheduler' } } }, /schedulerName/],
  ])('%s', (_what, values, reason) => {
    const r = helmTemplate(values);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(reason);
  });
});

describe('ConfigMaps are the component config files, key for key, and the components accept them', () => {
  const values = {
    agent: { config: { intervalMs: 2000, ebpf: { pmuCounters: ['cycles'] }, fallback: { procSwitches: false } } },
    extender: { config: { urlPrefix: '/ws', logLevel: 'debug', powerCurves: { byLabelValue: { 'm5.large': [100, 120, 140, 160, 180, 200, 220, 240, 260, 280, 300] } } } },
    modelServer: { config: { retrain: { intervalSeconds: 0 }, prometheus: { url: 'http://prometheus.monitoring:9090' } } },
  };
  const ms = render(values);
  it.each([
    ['wattsched-agent', 'agent.yaml', values.agent.config, AgentConfigSchema],
    ['wattsched-extender', 'extender.yaml', values.extender.config, ExtenderConfigSchema],
    ['wattsched-model-server', 'model-server.yaml', values.modelServer.config, ModelServerConfigSchema],
  ] as const)('%s', (name, key, given, schema) => {
    const text = find(ms, 'ConfigMap', name).data[key] as string;
    expect(parseYaml(text)).toEqual(given);
    const file = join(scratch, key);
    writeFileSync(file, text);
    const loaded = loadConfig(schema, { file }) as Record<string, unknown>;
    expect(loaded).toMatchObject(given);
  });

  it('the empty default config loads as the component defaults', () => {
    const text = find(render({}), 'ConfigMap', 'wattsched-extender').data['extender.yaml'] as string;
    const file = join(scratch, 'empty.yaml');
    writeFileSync(file, text);
    expect(loadConfig(ExtenderConfigSchema, { file }).port).toBe(8888);
  });
});

describe('the extender wired to the agents and, optionally, to Prometheus for workload history', () => {
  const extenderEnv = (ms: Manifest[]) => Object.fromEntries(podSpec(find(ms, 'Deployment', 'wattsched-extender')).containers[0].env.map((e: Manifest) => [e.name, e.value]));
  /** What the extender's own loader makes of its ConfigMap plus the environment the chart gives it. */
  const loaded = (ms: Manifest[]) => {
    const file = join(scratch, `extender-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, find(ms, 'ConfigMap', 'wattsched-extender').data['extender.yaml'] as string);
    return loadConfig(ExtenderConfigSchema, { file, env: extenderEnv(ms), envPrefix: 'WATTSCHED_EXTENDER_' }, extenderConfigProblems);
  };

  it('defaults: telemetry.agents is the agent headless Service as dns+http, and that Service selects the agent pods on their port', () => {
    const ms = render({});
    expect(loaded(ms).telemetry.agents).toEqual(['dns+http://wattsched-agent.wattsched.svc:9102']);
    expect(loaded(ms).profiles.source).toBe('agents');
    const svc = find(ms, 'Service', 'wattsched-agent');
    expect(svc.spec.clusterIP).toBe('None'); // headless: the name resolves to every agent pod, not one virtual IP
    expect(svc.spec.selector).toEqual(find(ms, 'DaemonSet', 'wattsched-agent').spec.selector.matchLabels);
    const agentPorts = podSpec(find(ms, 'DaemonSet', 'wattsched-agent')).containers[0].ports;
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 9102, targetPort: 'http' }]);
    expect(agentPorts.find((p: Manifest) => p.name === 'http').containerPort).toBe(9102);
  });

  it('the agent port follows agent.config.port; a telemetry.agents of yours (even []) is left alone; no agent, no URL', () => {
    expect(loaded(render({ agent: { config: { port: 9200 } } })).telemetry.agents).toEqual(['dns+http://wattsched-agent.wattsched.svc:9200']);
    const own = render({ extender: { config: { telemetry: { agents: ['http://10.0.0.5:9102'] } } } });
    expect(extenderEnv(own)).not.toHaveProperty('WATTSCHED_EXTENDER_TELEMETRY__AGENTS');
    expect(loaded(own).telemetry.agents).toEqual(['http://10.0.0.5:9102']);
    expect(loaded(render({ extender: { config: { telemetry: { agents: [] } } } })).telemetry.agents).toEqual([]);
    expect(loaded(render({ agent: { enabled: false } })).telemetry.agents).toEqual([]);
  });

  it('prometheusProfiles: source, URL and a bearer token from your Secret, mounted read-only; the loader takes them', () => {
    const ms = render({ extender: { prometheusProfiles: { enabled: true, url: 'http://prometheus-operated.monitoring.svc:9090', bearerTokenSecret: 'prom-reader' } } });
    const cfg = loaded(ms);
    expect(cfg.profiles.source).toBe('prometheus');
    expect(cfg.profiles.prometheus).toMatchObject({ url: 'http://prometheus-operated.monitoring.svc:9090', bearerTokenFile: '/etc/wattsched/prometheus/token', queryIntervalSeconds: 60 });
    const spec = podSpec(find(ms, 'Deployment', 'wattsched-extender'));
    expect(spec.volumes.find((v: Manifest) => v.name === 'prometheus-token')).toEqual({ name: 'prometheus-token', secret: { secretName: 'prom-reader', items: [{ key: 'token', path: 'token' }] } });
    expect(spec.containers[0].volumeMounts).toContainEqual({ name: 'prometheus-token', mountPath: '/etc/wattsched/prometheus', readOnly: true });
    // The agents' feed stays wired: it answers while Prometheus fails.
    expect(cfg.telemetry.agents).toEqual(['dns+http://wattsched-agent.wattsched.svc:9102']);
  });

  it('prometheusProfiles without a URL fails the render; a URL in config.profiles.prometheus is enough; off renders no token mount', () => {
    const r = helmTemplate({ extender: { prometheusProfiles: { enabled: true } } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/extender.prometheusProfiles.enabled needs extender.prometheusProfiles.url/);
    const viaConfig = render({ extender: { prometheusProfiles: { enabled: true }, config: { profiles: { prometheus: { url: 'http://prom:9090', stepSeconds: 60 } } } } });
    expect(loaded(viaConfig).profiles).toMatchObject({ source: 'prometheus', prometheus: { url: 'http://prom:9090', stepSeconds: 60 } });
    expect(extenderEnv(viaConfig)).not.toHaveProperty('WATTSCHED_EXTENDER_PROFILES__PROMETHEUS__URL');
    expect(podSpec(find(render({}), 'Deployment', 'wattsched-extender')).volumes.map((v: Manifest) => v.name)).not.toContain('prometheus-token');
    expect(helmTemplate({ extender: { prometheusProfiles: { enabled: true, url: 'prometheus:9090' } } }).code).not.toBe(0); // the schema wants a scheme
  });
});

describe('one KubeSchedulerConfiguration: the harness file with only the documented substitutions', () => {
  const shipped = () => parseYaml(readFileSync(SCHEDULER_FILE, 'utf8')) as Manifest;

  it('second scheduler: URL from the extender Service, verbs from extender.config, its own profile name and lease', () => {
    const ms = render({ extender: { config: { urlPrefix: '/ws', prioritizeVerb: 'score' } } });
    const rendered = parseYaml(find(ms, 'ConfigMap', 'wattsched-scheduler').data['kube-scheduler-config.yaml']);
    const expected = shipped();
    expected.extenders[0].urlPrefix = 'http://wattsched-extender.wattsched.svc:8888/ws';
    expected.extenders[0].prioritizeVerb = 'score';
    expected.profiles[0].schedulerName = 'wattsched';
    expected.leaderElection.resourceName = 'wattsched-scheduler';
    expected.leaderElection.resourceNamespace = 'wattsched';
    expect(rendered).toEqual(expected);
  });

  it('default scheduler with TLS: HTTPS, the CA and kubeconfig paths on the control plane, the default profile and lease', () => {
    const ms = render({ tls: { enabled: true, secretName: 'mine' } });
    const rendered = parseYaml(find(ms, 'ConfigMap', 'wattsched-default-scheduler-config').data['kube-scheduler-config.yaml']);
    const expected = shipped();
    Object.assign(expected.extenders[0], {
      urlPrefix: 'https://wattsched-extender.wattsched.svc:8888',
      enableHTTPS: true,
      tlsConfig: { caFile: '/etc/kubernetes/wattsched/ca.crt' },
    });
    expected.profiles[0].schedulerName = 'default-scheduler';
    expected.leaderElection.resourceName = 'kube-scheduler';
    expected.leaderElection.resourceNamespace = 'kube-system';
    // kube-scheduler ignores --kubeconfig when --config is given (options.ApplyTo), so the file must carry it.
    expected.clientConnection = { ...expected.clientConnection, kubeconfig: '/etc/kubernetes/scheduler.conf' };
    expect(rendered).toEqual(expected);
  });
});

describe('the model server token (issue 10: the server refuses to start without a credential)', () => {
  const envOf = (c: Manifest): Record<string, string> => Object.fromEntries((c.env as Manifest[]).filter((e) => 'value' in e).map((e) => [e.name, e.value]));
  const mountOf = (spec: Manifest, secret: string): string => {
    const vol = spec.volumes.find((v: Manifest) => v.secret?.secretName === secret);
    expect(vol, `a volume of Secret ${secret}`).toBeDefined();
    expect(vol.secret.items).toEqual([{ key: 'token', path: 'token' }]);
    const vm = spec.containers[0].volumeMounts.find((m: Manifest) => m.name === vol.name);
    expect(vm.readOnly).toBe(true);
    return `${vm.mountPath}/token`;
  };

  it('defaults: a generated token Secret, mounted into the model server as auth.tokenFile, which then starts; agents do not push', () => {
    const ms = render({});
    const secret = find(ms, 'Secret', 'wattsched-model-server-token');
    const token = Buffer.from(secret.data.token, 'base64').toString('utf8');
    expect(token).toMatch(/^[A-Za-z0-9]{48}$/);
    const spec = podSpec(find(ms, 'Deployment', 'wattsched-model-server'));
    const env = envOf(spec.containers[0]);
    expect(env.WATTSCHED_MODEL_SERVER_AUTH__TOKEN_FILE).toBe(mountOf(spec, 'wattsched-model-server-token'));
    // The server's own loader and auth check accept what the chart gives it (the mount path stands in for a file here).
    const cm = join(scratch, 'ms-token.yaml');
    writeFileSync(cm, find(ms, 'ConfigMap', 'wattsched-model-server').data['model-server.yaml']);
    const tokenFile = join(scratch, 'token');
    writeFileSync(tokenFile, token);
    const cfg = loadConfig(ModelServerConfigSchema, { file: cm, env: { ...env, WATTSCHED_MODEL_SERVER_AUTH__TOKEN_FILE: tokenFile }, envPrefix: 'WATTSCHED_MODEL_SERVER_' });
    expect(resolveAuth(cfg).tokenDigest).not.toBeNull();
    // Without the chart's variable the same file is refused: the token is what lets it start.
    expect(() => resolveAuth(loadConfig(ModelServerConfigSchema, { file: cm, env: {}, envPrefix: 'WATTSCHED_MODEL_SERVER_' }))).toThrow(/allowUnauthenticated|credential|auth/);
    const agent = podSpec(find(ms, 'DaemonSet', 'wattsched-agent'));
    expect(Object.keys(envOf(agent.containers[0])).filter((k) => k.startsWith('WATTSCHED_AGENT_PUSH'))).toEqual([]);
    expect(agent.volumes.filter((v: Manifest) => v.secret)).toEqual([]);
  });

  it('agent.push.enabled: agents get the release model server URL and the same token file; their loader takes both', () => {
    const ms = render({ agent: { push: { enabled: true } } });
    const agent = podSpec(find(ms, 'DaemonSet', 'wattsched-agent'));
    const env = envOf(agent.containers[0]);
    expect(env.WATTSCHED_AGENT_PUSH__URL).toBe('http://wattsched-model-server.wattsched.svc:8100');
    expect(env.WATTSCHED_AGENT_PUSH__TOKEN_FILE).toBe(mountOf(agent, 'wattsched-model-server-token'));
    const cm = join(scratch, 'agent-push.yaml');
    writeFileSync(cm, find(ms, 'ConfigMap', 'wattsched-agent').data['agent.yaml']);
    const cfg = loadConfig(AgentConfigSchema, { file: cm, env, envPrefix: 'WATTSCHED_AGENT_' });
    expect(cfg.push).toMatchObject({ url: 'http://wattsched-model-server.wattsched.svc:8100', tokenFile: '/etc/wattsched/model-server-token/token' });
    // No RBAC on Secrets: a mount needs none.
    expect(ms.filter((m) => m.kind.endsWith('Role')).flatMap((m) => m.rules).filter((r: Manifest) => r.resources.includes('secrets'))).toEqual([]);
    // A URL of yours wins; without a model server and without a URL the chart refuses.
    const own = podSpec(find(render({ agent: { push: { enabled: true }, config: { push: { url: 'http://models.example:8100' } } } }), 'DaemonSet', 'wattsched-agent'));
    expect(envOf(own.containers[0]).WATTSCHED_AGENT_PUSH__URL).toBe('http://models.example:8100');
    const r = helmTemplate({ agent: { push: { enabled: true } }, modelServer: { enabled: false } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/agent.push.enabled needs modelServer.enabled or agent.config.push.url/);
  });

  it('modelServer.auth.existingSecret: no generated Secret, both sides mount yours', () => {
    const ms = render({ agent: { push: { enabled: true } }, modelServer: { auth: { existingSecret: 'my-model-token' } } });
    expect(ms.filter((m) => m.kind === 'Secret')).toEqual([]);
    mountOf(podSpec(find(ms, 'Deployment', 'wattsched-model-server')), 'my-model-token');
    mountOf(podSpec(find(ms, 'DaemonSet', 'wattsched-agent')), 'my-model-token');
  });

  it('no model server and no push: no token Secret', () => {
    expect(render({ modelServer: { enabled: false } }).filter((m) => m.kind === 'Secret')).toEqual([]);
  });
});
