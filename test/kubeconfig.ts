// The kubeconfig the tests hand client-node for a fake API server on loopback: plain HTTP and a dummy token.
import { writeFileSync } from 'node:fs';

/** Writes to `path` a kubeconfig whose one context talks to `server` (e.g. http://127.0.0.1:PORT). */
export function writeKubeconfig(path: string, server: string): void {
  writeFileSync(path, `apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: fake, user: u}}]\ncurrent-context: c\n`);
}
