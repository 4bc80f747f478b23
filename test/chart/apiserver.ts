// A throwaway control plane for the chart tests: etcd and kube-apiserver (built from test/kube-scheduler's pinned
// module by scripts/test.d/60-chart.sh) on loopback ports chosen at run time, a token for kubectl, and helpers to
// run kubectl and kube-scheduler against it. stop() kills what start() began and removes its directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Run, REPO, run } from './helm.js';

export const KUBE_BIN = process.env.WATTSCHED_KUBE_BIN ?? join(REPO, 'test/kube-scheduler/bin');

/** A port nothing listens on now: bound to 0, read, released. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export class ControlPlane {
  readonly dir = mkdtempSync(join(tmpdir(), 'wattsched-apiserver-'));
  readonly kubeconfig = join(this.dir, 'kubeconfig');
  private readonly procs: ChildProcess[] = [];
  apiPort = 0;

  static binariesMissing(): string | undefined {
    const missing = ['etcd', 'kube-apiserver', 'kubectl'].filter((b) => !existsSync(join(KUBE_BIN, b)));
    return missing.length > 0 ? `missing in ${KUBE_BIN}: ${missing.join(', ')}` : undefined;
  }

  spawn(name: string, cmd: string, args: readonly string[]): ChildProcess {
    const log = createWriteStream(join(this.dir, `${name}.log`));
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.pipe(log);
    p.stderr?.pipe(log);
    this.procs.push(p);
    return p;
  }

  async start(): Promise<void> {
    const [etcdClient, etcdPeer, api] = [await freePort(), await freePort(), await freePort()];
    this.apiPort = api;
    this.spawn('etcd', join(KUBE_BIN, 'etcd'), [
      '--data-dir', join(this.dir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `default=http://127.0.0.1:${etcdPeer}`,
      '--listen-metrics-urls', `http://127.0.0.1:${await freePort()}`,
    ]);
    await waitFor('etcd', async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok);

    const token = randomBytes(16).toString('hex');
    writeFileSync(join(this.dir, 'tokens.csv'), `${token},wattsched-admin,wattsched-admin,system:masters\n`);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(this.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(this.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    // Same flags as test/kube-scheduler/stack/up.sh: RBAC on, and no ServiceAccount admission, as no controller
    // manager runs here to create tokens.
    this.spawn('kube-apiserver', join(KUBE_BIN, 'kube-apiserver'), [
      '--etcd-servers', `http://127.0.0.1:${etcdClient}`, '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1',
      '--secure-port', String(api), '--cert-dir', join(this.dir, 'apiserver'), '--token-auth-file', join(this.dir, 'tokens.csv'),
      '--authorization-mode', 'Node,RBAC', '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
      '--service-account-key-file', join(this.dir, 'sa.pub'), '--service-account-signing-key-file', join(this.dir, 'sa.key'),
      '--service-cluster-ip-range', '10.96.0.0/24', '--disable-admission-plugins', 'ServiceAccount',
    ]);
    writeFileSync(this.kubeconfig, [
      'apiVersion: v1', 'kind: Config', 'clusters:', '- name: local', '  cluster:', `    server: https://127.0.0.1:${api}`,
      `    certificate-authority: ${join(this.dir, 'apiserver', 'apiserver.crt')}`, 'users:', '- name: admin', '  user:', `    token: ${token}`,
      'contexts:', '- name: local', '  context: {cluster: local, user: admin}', 'current-context: local', '',
    ].join('\n'));
    await waitFor('kube-apiserver', () => existsSync(join(this.dir, 'apiserver', 'apiserver.crt')) && this.kubectl(['get', '--raw', '/readyz']).code === 0);
  }

  kubectl(args: readonly string[], input?: string): Run {
    return run(join(KUBE_BIN, 'kubectl'), ['--kubeconfig', this.kubeconfig, ...args], input);
  }

  /** kubectl that must succeed; its stdout. */
  k(args: readonly string[], input?: string): string {
    const r = this.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  }

  async stop(): Promise<void> {
    for (const p of this.procs.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    if (!process.env.WATTSCHED_KEEP_APISERVER) rmSync(this.dir, { recursive: true, force: true });
  }
}
