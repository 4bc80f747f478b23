// Rendering the chart with the Helm binary the chart suite builds from the Go module proxy
// (scripts/test.d/60-chart.sh exports WATTSCHED_HELM), and parsing what it prints.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './policy.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(REPO, 'charts/wattsched');
export const RELEASE = 'wattsched';
export const NAMESPACE = 'wattsched';
/** The cluster version the harness pins (test/kube-scheduler/go.mod: k8s.io/kubernetes v1.35.4). */
export const KUBE_VERSION = 'v1.35.4';

export function helmBinary(): string {
  const bin = process.env.WATTSCHED_HELM;
  if (!bin) throw new Error('WATTSCHED_HELM is not set: run the chart suite through scripts/test.d/60-chart.sh, which builds Helm');
  return bin;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], input?: string): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const scratch = mkdtempSync(join(tmpdir(), 'wattsched-chart-'));
let n = 0;

export function valuesFile(values: object): string {
  const file = join(scratch, `values-${++n}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

/** `helm template` with these values; the raw result, so tests can check failures too. */
export function helmTemplate(values: object, extra: readonly string[] = []): Run {
  return run(helmBinary(), [
    'template', RELEASE, CHART, '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, '-f', valuesFile(values), ...extra,
  ]);
}

export interface PromqlResult {
  ok: boolean;
  error?: string;
  metrics?: string[];
}

/** Parses each expression with Prometheus's parser (test/chart/promql, built by the chart suite). */
export function parsePromql(exprs: readonly string[]): PromqlResult[] {
  const bin = process.env.WATTSCHED_PROMQL;
  if (!bin) throw new Error('WATTSCHED_PROMQL is not set: run the chart suite through scripts/test.d/60-chart.sh, which builds it');
  const r = run(bin, [], exprs.map((e) => JSON.stringify(e)).join('\n') + '\n');
  if (r.code !== 0) throw new Error(`promql checker failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as PromqlResult);
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML does not parse: ${d.errors[0]?.message}`);
      return d.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null && typeof m === 'object');
}

export function render(values: object): Manifest[] {
  const r = helmTemplate(values);
  if (r.code !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export function find(ms: readonly Manifest[], kind: string, name: string): Manifest {
  const m = ms.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!m) throw new Error(`${kind}/${name} not rendered (have: ${ms.map((x) => `${x.kind}/${x.metadata?.name}`).join(', ')})`);
  return m;
}
