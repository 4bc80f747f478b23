// A fake kube-apiserver on loopback for the cluster-watch tests: nodes and pods listed and watched as kube-apiserver
// does (a JSON list, then a chunked stream of newline-delimited watch events), and a kubeconfig that points at it.
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { writeKubeconfig } from '../kubeconfig.js';

export type WatchedKind = 'nodes' | 'pods';

export interface FakeApiServer {
  kubeconfig: string;
  /** Open watch streams per kind; a client is watching once its kind has one. */
  watchers: Record<WatchedKind, ServerResponse[]>;
  /** Writes one watch event to every open watch of that kind. */
  send(kind: WatchedKind, type: string, object: unknown): void;
  /** Ends the watch streams, stops the server and removes the kubeconfig. */
  close(): Promise<void>;
}

/**
 * Starts the server. `items` is asked for each list request, so every list sees fresh objects. `routes` adds what a
 * test needs beyond list + watch before the server listens.
 */
export async function startFakeApiServer(opts: { items?: (kind: WatchedKind) => unknown[]; routes?: (api: FastifyInstance) => void } = {}): Promise<FakeApiServer> {
  const api = Fastify();
  const watchers: Record<WatchedKind, ServerResponse[]> = { nodes: [], pods: [] };
  for (const kind of ['nodes', 'pods'] as const) {
    api.get(`/api/v1/${kind}`, (req, reply) => {
      const q = req.query as Record<string, string>;
      if (q.watch === 'true' || q.watch === '1') {
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        reply.raw.flushHeaders();
        watchers[kind].push(reply.raw);
        return;
      }
      reply.send({ kind: kind === 'nodes' ? 'NodeList' : 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: opts.items?.(kind) ?? [] });
    });
  }
  opts.routes?.(api);
  const url = await api.listen({ port: 0, host: '127.0.0.1' });
  const dir = mkdtempSync(join(tmpdir(), 'wattsched-kube-'));
  const kubeconfig = join(dir, 'config');
  writeKubeconfig(kubeconfig, url);
  return {
    kubeconfig,
    watchers,
    send: (kind, type, object) => {
      for (const w of watchers[kind]) w.write(`${JSON.stringify({ type, object })}\n`);
    },
    close: async () => {
      for (const w of [...watchers.nodes, ...watchers.pods]) w.end();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
