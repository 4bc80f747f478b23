// The chart against a real kube-apiserver (built from test/kube-scheduler's pinned module) with the CRDs the chart
// uses installed from their projects' published files: server-side dry-run of every case, then the documented
// `helm install`, read-back, upgrade and uninstall; then the KubeSchedulerConfigurations the chart renders, run by
// the real kube-scheduler against a real `wattsched extender` (plain HTTP for the second scheduler, HTTPS with the
// self-signed path for the default one), placing a pod on the node the extender prefers.
import { type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane, KUBE_BIN, freePort, waitFor } from './apiserver.js';
import { CASES } from './cases.js';
import { CHART, NAMESPACE, RELEASE, REPO, find, helmBinary, helmTemplate, parseManifests, render, run, valuesFile } from './helm.js';
import type { Manifest } from './policy.js';

const cp = new ControlPlane();
const INSTANCE = `app.kubernetes.io/instance=${RELEASE}`;
const EVERYTHING = CASES[1]!;
/** Every kind the chart can render, to prove uninstall leaves none of them behind. */
const KINDS =
  'daemonsets,deployments,services,configmaps,serviceaccounts,persistentvolumeclaims,poddisruptionbudgets,networkpolicies,roles,rolebindings,' +
  'clusterroles,clusterrolebindings,servicemonitors,podmonitors,prometheusrules,certificates,issuers,secrets';

function crdFiles(): string[] {
  const files = (process.env.WATTSCHED_CRD_FILES ?? '').split(':').filter(Boolean);
  if (files.length === 0) throw new Error('WATTSCHED_CRD_FILES is not set: scripts/test.d/60-chart.sh fetches the CRDs from the Go module proxy');
  return files;
}

/** Every field the chart set is on the live object with the same value (the server may add defaults). */
function subsetProblems(want: unknown, got: unknown, path = ''): string[] {
  // The API server drops zero values of omitempty fields (`ingress: []`, `hostNetwork: false`): absent means the same.
  if (got === undefined && (want === false || want === 0 || want === '' || (Array.isArray(want) && want.length === 0))) return [];
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return [`${path}: ${JSON.stringify(got)} is not ${want.length} items`];
    return want.flatMap((w, i) => subsetProblems(w, got[i], `${path}[${i}]`));
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') return [`${path}: missing`];
    return Object.entries(want).flatMap(([k, v]) => subsetProblems(v, (got as Record<string, unknown>)[k], `${path}.${k}`));
  }
  return want === got ? [] : [`${path}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`];
}

beforeAll(async () => {
  const missing = ControlPlane.binariesMissing();
  if (missing) throw new Error(`cannot start the API server: ${missing} (scripts/test.d/60-chart.sh builds them)`);
  await cp.start();
  for (const f of crdFiles()) cp.k(['create', '-f', f]);
  cp.k(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  cp.k(['create', 'namespace', NAMESPACE]);
}, 240_000);

afterAll(async () => {
  await cp.stop();
});

describe('server-side validation', () => {
  it('installs the CRDs the chart uses from the published files', () => {
    const names = cp.k(['get', 'crd', '-o', 'jsonpath={.items[*].metadata.name}']).split(' ');
    for (const crd of ['servicemonitors.monitoring.coreos.com', 'podmonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com', 'certificates.cert-manager.io', 'issuers.cert-manager.io']) {
      expect(names).toContain(crd);
    }
  });

  it.each(CASES.map((c) => [c.name, c.values] as const))('kubectl apply --dry-run=server accepts every object: %s', (_name, values) => {
    const r = helmTemplate(values);
    expect(r.code, r.stderr).toBe(0);
    const objects = parseManifests(r.stdout);
    const applied = cp.kubectl(['apply', '--dry-run=server', '-f', '-', '-o', 'name'], r.stdout);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout.trim().split('\n').length).toBe(objects.length);
  });

  it('the API server rejects what it should: the dry-run is not a rubber stamp', () => {
    const bad = render({}).map((m) => (m.kind === 'PodDisruptionBudget' ? { ...m, spec: { ...m.spec, minAvailable: 'lots' } } : m));
    const r = cp.kubectl(['apply', '--dry-run=server', '-f', '-'], bad.map((m) => JSON.stringify(m)).join('\n'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/minAvailable/);
  });
});

describe('helm install, upgrade and uninstall (the documented commands) against the API server', () => {
  const helm = (args: string[]) => {
    const r = run(helmBinary(), [...args, '--kubeconfig', cp.kubeconfig]);
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')}:\n${r.stderr}`);
    return r.stdout;
  };

  it('helm install: every object reads back as rendered', () => {
    const notes = helm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '-f', valuesFile(EVERYTHING.values)]);
    expect(notes).toMatch(/schedulerName: wattsched/);
    expect(notes).toMatch(/wattsched-default-scheduler-config/);
    const manifests = parseManifests(helm(['get', 'manifest', RELEASE, '--namespace', NAMESPACE]));
    expect(manifests.length).toBe(render(EVERYTHING.values).length);
    for (const m of manifests) {
      const ns = m.metadata.namespace ? ['-n', m.metadata.namespace] : [];
      const live = JSON.parse(cp.k(['get', `${m.kind}.${m.apiVersion.split('/')[0]}`.replace(/\.v1$/, ''), m.metadata.name, ...ns, '-o', 'json']));
      expect(subsetProblems(m, live), `${m.kind}/${m.metadata.name}`).toEqual([]);
    }
  });

  it('helm upgrade changes what it should, and keeps the generated model server token (lookup)', () => {
    const token = () => cp.k(['-n', NAMESPACE, 'get', 'secret', `${RELEASE}-model-server-token`, '-o', 'jsonpath={.data.token}']);
    const before = token();
    expect(Buffer.from(before, 'base64').toString('utf8')).toMatch(/^[A-Za-z0-9]{48}$/);
    helm(['upgrade', RELEASE, CHART, '--namespace', NAMESPACE, '-f', valuesFile(EVERYTHING.values), '--set', 'extender.replicas=3']);
    expect(cp.k(['-n', NAMESPACE, 'get', 'deployment', `${RELEASE}-extender`, '-o', 'jsonpath={.spec.replicas}'])).toBe('3');
    // A new token would lock out every agent still holding the old one until it restarts.
    expect(token()).toBe(before);
    expect(helm(['status', RELEASE, '--namespace', NAMESPACE, '-o', 'json'])).toMatch(/"version":2/);
  });

  it('helm uninstall leaves nothing of the release behind', async () => {
    helm(['uninstall', RELEASE, '--namespace', NAMESPACE]);
    const left = () => cp.k(['get', KINDS, '-A', '-l', INSTANCE, '-o', 'json']);
    const items = JSON.parse(left()).items as Manifest[];
    // No controller manager runs here, so a PVC keeps the pvc-protection finalizer the API server's admission adds
    // (a real cluster's controller removes it once no pod uses the claim): deleted, waiting only for that.
    const remaining = items.filter(
      (m) => !(m.kind === 'PersistentVolumeClaim' && m.metadata.deletionTimestamp && m.metadata.finalizers?.join() === 'kubernetes.io/pvc-protection'),
    );
    expect(remaining.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([]);
    expect(cp.k(['get', 'secrets', '-n', NAMESPACE, '-l', `name=${RELEASE},owner=helm`, '-o', 'name'])).toBe('');
  });
});

describe('the rendered KubeSchedulerConfiguration runs in the real kube-scheduler with the real extender', () => {
  const procs: ChildProcess[] = [];
  const node = join(REPO, 'dist/src/cli/main.js');

  beforeAll(() => {
    if (!existsSync(join(KUBE_BIN, 'kube-scheduler'))) throw new Error(`no kube-scheduler in ${KUBE_BIN}`);
    if (!existsSync(node)) throw new Error('dist/ is not built (npx tsc -p tsconfig.build.json)');
    // Two schedulable fake nodes (no kubelet: Node objects with a Ready status), same size, different power curves.
    for (const [name, curve] of [['node-efficient', '100,110,120,130,140,150,160,170,180,190,200'], ['node-hungry', '200,240,280,320,360,400,440,480,520,560,600']] as const) {
      cp.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name }, annotations: { 'wattsched.io/power-curve': curve } } }));
      const status = { capacity: { cpu: '4', memory: '32Gi', pods: '110' }, allocatable: { cpu: '4', memory: '32Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True', reason: 'FakeKubelet', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] };
      cp.k(['patch', 'node', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
      cp.kubectl(['taint', 'node', name, 'node.kubernetes.io/not-ready:NoSchedule-']);
    }
  });

  afterAll(() => {
    for (const p of procs) p.kill('SIGTERM');
  });

  async function startExtender(tlsDir?: string): Promise<number> {
    const port = await freePort();
    const cfg = join(cp.dir, `extender-${port}.yaml`);
    const tls = tlsDir ? `tls: {certFile: ${tlsDir}/tls.crt, keyFile: ${tlsDir}/tls.key}\n` : '';
    writeFileSync(cfg, `kubernetes: {mode: required, kubeconfig: ${cp.kubeconfig}}\nlogLevel: warn\n${tls}`);
    procs.push(cp.spawn(`extender-${port}`, process.execPath, [node, 'extender', '--config', cfg, '--port', String(port), '--host', '127.0.0.1']));
    const scheme = tlsDir ? 'https' : 'http';
    await waitFor('extender', () => run('curl', ['-fsS', ...(tlsDir ? ['--cacert', `${tlsDir}/ca.crt`] : []), `${scheme}://127.0.0.1:${port}/readyz`]).code === 0);
    return port;
  }

  /** Starts kube-scheduler with a config as the chart rendered it. */
  async function startScheduler(configText: string): Promise<ChildProcess> {
    const port = await freePort();
    const file = join(cp.dir, `scheduler-${port}.yaml`);
    writeFileSync(file, configText);
    const p = cp.spawn(`kube-scheduler-${port}`, join(KUBE_BIN, 'kube-scheduler'), [
      '--config', file, '--bind-address', '127.0.0.1', '--secure-port', String(port),
      '--authentication-kubeconfig', cp.kubeconfig, '--authorization-kubeconfig', cp.kubeconfig,
    ]);
    procs.push(p);
    await waitFor('kube-scheduler', () => run('curl', ['-fsSk', `https://127.0.0.1:${port}/healthz`]).code === 0);
    return p;
  }

  async function placed(pod: string, schedulerName?: string): Promise<string> {
    const spec = { ...(schedulerName ? { schedulerName } : {}), containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '1' } } }] };
    cp.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default' }, spec }));
    let nodeName = '';
    await waitFor(`pod ${pod} bound`, () => (nodeName = cp.k(['-n', 'default', 'get', 'pod', pod, '-o', 'jsonpath={.spec.nodeName}'])) !== '', 90_000);
    return nodeName;
  }

  function extenderCalls(port: number, ca?: string): number {
    const metrics = run('curl', ['-fsS', ...(ca ? ['--cacert', ca] : []), `${ca ? 'https' : 'http'}://127.0.0.1:${port}/metrics`]).stdout;
    return [...metrics.matchAll(/^wattsched_extender_request_duration_seconds_count\{[^}]*verb="prioritize"[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
  }

  it('way (b): the second scheduler places a `schedulerName: wattsched` pod on the node the extender scores best', async () => {
    const port = await startExtender();
    const ms = render({ scheduler: { extenderURL: `http://127.0.0.1:${port}` } });
    const config = find(ms, 'ConfigMap', `${RELEASE}-scheduler`).data['kube-scheduler-config.yaml'] as string;
    expect(parseYaml(config).profiles[0].schedulerName).toBe('wattsched');
    // In the cluster it uses its ServiceAccount (in-cluster config); out here it needs a kubeconfig, added as
    // test/kube-scheduler/stack/up.sh does.
    const sched = await startScheduler(`${config}\nclientConnection:\n  kubeconfig: ${cp.kubeconfig}\n`);
    expect(await placed('pod-second', 'wattsched')).toBe('node-efficient');
    expect(extenderCalls(port)).toBeGreaterThan(0);
    sched.kill('SIGTERM');
    await new Promise((r) => sched.once('exit', r));
  }, 180_000);

  it('way (a): the default-scheduler config, with TLS from the self-signed path, places a plain pod the same way', async () => {
    const tlsDir = join(cp.dir, 'tls');
    const out = run('bash', [join(REPO, 'charts/self-signed-tls.sh'), tlsDir, RELEASE, NAMESPACE, 'IP:127.0.0.1']);
    expect(out.code, out.stderr).toBe(0);
    // The printed command stores the Secret the chart mounts; the API server accepts it as kubernetes.io/tls.
    const secretCmd = out.stdout.trim().split('\n').at(-1)!.split(' ');
    expect(secretCmd.slice(0, 2)).toEqual(['kubectl', '-n']);
    cp.k(secretCmd.slice(1));
    const keys = Object.keys(JSON.parse(cp.k(['-n', NAMESPACE, 'get', 'secret', `${RELEASE}-extender-tls`, '-o', 'json'])).data).sort();
    expect(keys).toEqual(['ca.crt', 'tls.crt', 'tls.key']);

    const port = await startExtender(tlsDir);
    const ms = render({ tls: { enabled: true }, scheduler: { extenderURL: `https://127.0.0.1:${port}`, defaultScheduler: { caFile: `${tlsDir}/ca.crt`, kubeconfig: cp.kubeconfig } } });
    const config = find(ms, 'ConfigMap', `${RELEASE}-default-scheduler-config`).data['kube-scheduler-config.yaml'] as string;
    expect(parseYaml(config).extenders[0].enableHTTPS).toBe(true);
    await startScheduler(config);
    expect(await placed('pod-default')).toBe('node-efficient');
    expect(extenderCalls(port, `${tlsDir}/ca.crt`)).toBeGreaterThan(0);
    expect(readFileSync(`${tlsDir}/ca.crt`, 'utf8')).toMatch(/BEGIN CERTIFICATE/);
  }, 180_000);
});
