// The whole path on this machine: the built agent measures two pods of one Deployment (pod-shaped cgroups running
// real busy loops; their metadata from a minimal API server, so the agent labels them with their workload), a real
// Prometheus scrapes it every second, and the extender's Prometheus profile store reads the workload's profile back.
// The expected mean is the CPU the pods' cgroups really used (cpu.stat) over the queried window, per pod. Then the
// store is restarted and the same profile comes back from Prometheus.
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { writeKubeconfig } from '../kubeconfig.js';
import { PrometheusProfileStore } from '../../src/extender/profiles/prometheus.js';
import { MemoryProfileStore, type MemoryStoreLimits } from '../../src/extender/profiles/store.js';
import { CgroupSet, burnHalfDuty, usageNsV2 } from '../agent/real-cgroups.js';
import { agentUnderPrometheus, freePort, sleep, startAgent, startPrometheus, type RunningPrometheus } from './prom.js';

const { v2, why } = agentUnderPrometheus();

const children: ChildProcess[] = [];
const cgroups = new CgroupSet();
const tmp = mkdtempSync(join(tmpdir(), 'wattsched-prom-agent-'));
let prom: RunningPrometheus | undefined;
const watches: ServerResponse[] = [];
const api = createServer();
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await prom?.stop();
  for (const w of watches) w.end();
  api.closeAllConnections();
  api.close();
  cgroups.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const NODE = 'profile-test-node';
const HASH = '5f7d8c9b4';
const podObject = (uid: string, name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { uid, name, namespace: 'shop', resourceVersion: '5', labels: { 'pod-template-hash': HASH }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `web-${HASH}`, uid: 'rs', controller: true }] },
  spec: { nodeName: NODE, containers: [{ name: 'main' }] },
  status: { qosClass: 'BestEffort' },
});

describe.skipIf(why !== null)(`profiles from a real agent through a real Prometheus${why ? ` (skipped: ${why})` : ''}`, () => {
  test('the workload’s mean cores is the CPU its pods used; a restarted store reads the same profile', { timeout: 180_000 }, async () => {
    const prefix = `wsprof${randomBytes(4).toString('hex')}`;
    const uids = [randomUUID(), randomUUID()];
    const pods = uids.map((u, i) => podObject(u, `web-${HASH}-${'ab'[i]}xyz`));
    api.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/api/v1/pods') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.searchParams.get('watch') === 'true') {
        res.flushHeaders();
        watches.push(res);
        return;
      }
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '10' }, items: pods }));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const kubeconfig = join(tmp, 'kubeconfig');
    writeKubeconfig(kubeconfig, `http://127.0.0.1:${(api.address() as AddressInfo).port}`);

    const agentPort = await freePort();
    const agent = startAgent(agentPort, { ...process.env, WATTSCHED_AGENT_NODE: NODE, WATTSCHED_AGENT_KUBERNETES__MODE: 'required', WATTSCHED_AGENT_KUBERNETES__KUBECONFIG: kubeconfig, WATTSCHED_AGENT_POWER__CHECKPOINT_PATH: join(tmp, 'energy.json') });
    children.push(agent.child);
    await agent.ready;
    prom = await startPrometheus(tmp, join(tmp, 'data'), [`127.0.0.1:${agentPort}`]);

    const podDirs = uids.map((u) => cgroups.make(v2 as string, `${prefix}.slice/${prefix}-kubepods-besteffort-pod${u.replaceAll('-', '_')}.slice`));
    const work = podDirs.map((d) => burnHalfDuty(cgroups.make(d, `cri-containerd-${randomBytes(32).toString('hex')}.scope`), 30_000));
    // Let the agent see the pods and Prometheus collect a few scrapes before the measured window opens.
    await sleep(8000);
    const t0 = Date.now();
    const used0 = podDirs.map((d) => usageNsV2(d));
    await sleep(15_000);
    const t1 = Date.now();
    const used1 = podDirs.map((d) => usageNsV2(d));
    // Cores each pod really used over [t0, t1]; the pods ran through the whole window.
    const cores = used1.map((u, i) => (u - (used0[i] as number)) / 1e9 / ((t1 - t0) / 1000));
    const expected = cores.reduce((a, b) => a + b, 0) / cores.length;
    // Prometheus has ingested the scrape at t1 a moment later.
    await sleep(1500);

    const limits: MemoryStoreLimits = { halfLifeSeconds: 6 * 3600, maxWorkloads: 100, maxBytes: 1 << 20, maxSamplesPerWorkload: 100, minEffectiveSamples: 3 };
    // One-second steps over the measured window; a 2 s rate window (two scrapes) so each step sees the pods' recent use.
    const opts = { url: prom.url, queryIntervalSeconds: 60, timeoutMs: 10_000, lookbackSeconds: Math.floor((t1 - t0) / 1000) - 2, stepSeconds: 1, rateWindowSeconds: 2 };
    const store = () => new PrometheusProfileStore(opts, limits, new MemoryProfileStore(limits), undefined, () => t1);
    const first = store();
    expect(await first.refresh()).toBe(true);
    const profile = first.profile('shop/Deployment/web', t1);
    expect(profile, `no profile; agent log: ${agent.log().slice(-1500)}`).toBeDefined();
    expect(profile).toMatchObject({ namespace: 'shop', name: 'web', origin: 'prometheus' });
    // A 6 h half-life makes the window's weights equal to within 0.1 %, so the decayed mean is the plain mean of the
    // pods' per-step rates: their CPU over the window. Within 15 %: rate() windows straddle the window's edges and a
    // loaded machine makes the busy loops uneven.
    const collector = ((await (await fetch(`http://127.0.0.1:${agentPort}/v1/node`)).json()) as { collector: { name: string } }).collector.name;
    console.log(`collector ${collector}; cgroups: ${cores.map((c) => c.toFixed(3)).join(' + ')} cores -> mean ${expected.toFixed(3)}; Prometheus profile: mean ${profile!.cores.mean.toFixed(3)}, p50 ${profile!.cores.p50.toFixed(3)}, p95 ${profile!.cores.p95.toFixed(3)}, ${profile!.samples} samples, ${profile!.watts?.toFixed(2)} W`);
    expect(Math.abs(profile!.cores.mean - expected) / expected).toBeLessThan(0.15);
    expect(profile!.cores.p50).toBeGreaterThan(0);
    expect(profile!.cores.p50).toBeLessThanOrEqual(profile!.cores.p95);
    // Two pods, one sample per pod per step that had two scrapes in its rate window.
    expect(profile!.samples).toBeGreaterThanOrEqual(2 * Math.floor(opts.lookbackSeconds / 2));
    expect(profile!.watts).toBeGreaterThan(0);

    const restarted = store();
    expect(restarted.profile('shop/Deployment/web', t1)).toBeUndefined();
    expect(await restarted.refresh()).toBe(true);
    expect(restarted.profile('shop/Deployment/web', t1)).toEqual(profile);
    await Promise.all(work);
    agent.child.kill('SIGTERM');
  });
});
