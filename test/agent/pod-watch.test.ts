// The pod informer against a minimal fake API server: every request it makes must carry the node's field selector
// (a node-scoped list and watch, never a cluster-wide list), and pods it learns about must come out by UID with
// their workload identity, following later watch events.
import { type ServerResponse, createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeKubeconfig } from '../kubeconfig.js';
import { KubePodDirectory } from '../../src/agent/resource/pods.js';

const pod = (uid: string, name: string, owner: { kind: string; name: string }, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { uid, name, namespace: 'shop', resourceVersion: '5', labels, ownerReferences: [{ apiVersion: 'apps/v1', ...owner, uid: 'o', controller: true }] },
  spec: { nodeName: 'n1', containers: [] },
  status: { qosClass: 'Burstable' },
});

const requests: URL[] = [];
let watchRes: ServerResponse | null = null;
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  requests.push(url);
  if (url.pathname !== '/api/v1/pods') {
    res.writeHead(404).end();
    return;
  }
  if (url.searchParams.get('watch') === 'true') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    watchRes = res;
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '10' }, items: [pod('uid-a', 'web-5f7d8c9b4-abcde', { kind: 'ReplicaSet', name: 'web-5f7d8c9b4' }, { 'pod-template-hash': '5f7d8c9b4' })] }));
});

let dir: string;
let kubeconfig: string;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  dir = mkdtempSync(join(tmpdir(), 'wattsched-kube-'));
  kubeconfig = join(dir, 'config');
  writeKubeconfig(kubeconfig, `http://127.0.0.1:${port}`);
});
afterAll(async () => {
  watchRes?.end();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('KubePodDirectory', () => {
  test('lists and watches only this node’s pods and indexes them by UID', async () => {
    const pods = await KubePodDirectory.create(kubeconfig, 'n1', pino({ level: 'silent' }));
    try {
      expect(pods.lookup('uid-a')).toMatchObject({ name: 'web-5f7d8c9b4-abcde', namespace: 'shop', qos: 'burstable', workload: { kind: 'Deployment', name: 'web', id: 'shop/Deployment/web' } });
      for (let i = 0; i < 100 && watchRes === null; i++) await new Promise((r) => setTimeout(r, 10));
      expect(watchRes).not.toBeNull();
      watchRes!.write(JSON.stringify({ type: 'ADDED', object: pod('uid-b', 'db-0', { kind: 'StatefulSet', name: 'db' }) }) + '\n');
      watchRes!.write(JSON.stringify({ type: 'DELETED', object: pod('uid-a', 'web-5f7d8c9b4-abcde', { kind: 'ReplicaSet', name: 'web-5f7d8c9b4' }) }) + '\n');
      for (let i = 0; i < 100 && pods.lookup('uid-b') === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      expect(pods.lookup('uid-b')?.workload.id).toBe('shop/StatefulSet/db');
      expect(pods.lookup('uid-a')).toBeUndefined();
      expect(pods.status()).toMatchObject({ mode: 'watch', detail: expect.stringContaining('spec.nodeName=n1') });
    } finally {
      await pods.close();
    }
    const podRequests = requests.filter((u) => u.pathname === '/api/v1/pods');
    expect(podRequests.length).toBeGreaterThanOrEqual(2);
    for (const u of podRequests) expect(u.searchParams.get('fieldSelector')).toBe('spec.nodeName=n1');
  });

  test('an unreachable API server is reported in the status, and the agent keeps going', async () => {
    const bad = join(dir, 'bad');
    writeFileSync(bad, readFileSync(kubeconfig, 'utf8').replace(/127\.0\.0\.1:\d+/, '127.0.0.1:1'));
    const pods = await KubePodDirectory.create(bad, 'n1', pino({ level: 'silent' }));
    try {
      expect(pods.status().detail).toContain('pod watch failed');
      expect(pods.lookup('uid-a')).toBeUndefined();
    } finally {
      await pods.close();
    }
  });
});
