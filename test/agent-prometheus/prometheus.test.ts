// End to end through a real Prometheus (Debian package `prometheus`, started here on loopback with a generated
// config, 1 s scrapes): the built agent runs while pod-shaped cgroups start, burn CPU, have a container replaced
// and exit; the agent is restarted once on the same port. PromQL then checks, at every evaluation step, that pods
// + system rows (idle, kernel and gpu included) add up to node power within 0.1 %, and that no pod's joules or CPU
// seconds counter ever went down (resets() == 0), the restart included.
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { CgroupSet, burnHalfDuty } from '../agent/real-cgroups.js';
import { agentUnderPrometheus, freePort, sleep, startAgent, startPrometheus } from '../profiles-prometheus/prom.js';

const { v2, why } = agentUnderPrometheus();

const children: ChildProcess[] = [];
const cgroups = new CgroupSet();
const tmp = mkdtempSync(join(tmpdir(), 'wattsched-t9-prom-'));
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  cgroups.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

/** The agent on `port`, killed after the tests if still running. */
async function agentOn(port: number, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const { child, ready } = startAgent(port, env);
  children.push(child);
  await ready;
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}


/** A pod-shaped cgroup (systemd driver naming) under a top-level slice with this run's unique prefix. */
function pod(prefix: string, uid: string): { container: () => string } {
  const podDir = `${prefix}.slice/${prefix}-kubepods-besteffort-pod${uid.replaceAll('-', '_')}.slice`;
  return { container: () => cgroups.make(v2 as string, `${podDir}/cri-containerd-${randomBytes(32).toString('hex')}.scope`) };
}

describe.skipIf(why !== null)(`agent scraped by a real Prometheus${why ? ` (skipped: ${why})` : ''}`, () => {
  test('pods + system = node within 0.1 % at every step; no pod counter resets across churn and a restart', { timeout: 180_000 }, async () => {
    const prefix = `wsat9${randomBytes(4).toString('hex')}`;
    const agentPort = await freePort();
    const env = {
      ...process.env,
      WATTSCHED_AGENT_KUBERNETES__MODE: 'off',
      WATTSCHED_AGENT_POWER__CHECKPOINT_PATH: join(tmp, 'agent-energy.json'),
      WATTSCHED_AGENT_POWER__IDLE_POLICY: 'even',
    };
    let agent = await agentOn(agentPort, env);
    // startPrometheus returns once Prometheus's /-/ready says its TSDB is open (before that it answers 503).
    const prom = await startPrometheus(tmp, join(tmp, 'data'), [`127.0.0.1:${agentPort}`]);
    children.push(prom.child);
    const api = async (path: string): Promise<{ resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] }> => {
      const r = await fetch(`${prom.url}/api/v1/${path}`);
      const body = (await r.json()) as { status: string; data: never; error?: string };
      if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
      return body.data;
    };
    const t0 = Date.now() / 1000;
    await api('query?query=up');

    const uids = [randomUUID(), randomUUID(), randomUUID()];
    const [a, b, c] = uids.map((u) => pod(prefix, u)) as [ReturnType<typeof pod>, ReturnType<typeof pod>, ReturnType<typeof pod>];
    const aFirst = a.container();
    const work: Promise<void>[] = [burnHalfDuty(aFirst, 6000), burnHalfDuty(b.container(), 9000)];
    await sleep(6500);
    cgroups.remove(aFirst); // the container is replaced: its cgroup is freed, a new one takes over
    work.push(burnHalfDuty(a.container(), 12_000));
    await sleep(4000);
    // Restart the agent while pods run: the totals must come back from the checkpoint.
    await stop(agent);
    // Down for more than two scrape intervals, so Prometheus certainly records the outage (up == 0).
    await sleep(2500);
    agent = await agentOn(agentPort, env);
    work.push(burnHalfDuty(c.container(), 5000));
    await Promise.all(work);
    await sleep(4000);
    await stop(agent);
    const t1 = Date.now() / 1000;

    const window = `${Math.ceil(t1 - t0) + 5}s`;
    const at = `&time=${t1}`;
    // Every scrape: the raw samples of one scrape share its timestamp, so group them by it.
    const raw = async (m: string) => (await api(`query?query=${encodeURIComponent(`${m}[${window}]`)}${at}`)).result;
    const perScrape = new Map<number, { node: number; rows: number }>();
    for (const s of await raw('wattsched_node_watts')) for (const [t, v] of s.values ?? []) perScrape.set(t, { node: (perScrape.get(t)?.node ?? 0) + Number(v), rows: 0 });
    for (const m of ['wattsched_pod_watts', 'wattsched_system_watts']) {
      for (const s of await raw(m)) for (const [t, v] of s.values ?? []) (perScrape.get(t) as { rows: number }).rows += Number(v);
    }
    const scrapes = Number((await api(`query?query=${encodeURIComponent(`sum_over_time(up[${window}])`)}${at}`)).result[0]?.value?.[1]);
    expect(perScrape.size).toBe(scrapes); // one node sample per successful scrape
    expect(scrapes).toBeGreaterThanOrEqual(8); // a loaded machine misses some 1 s scrapes; each one that happened is checked
    for (const [t, x] of perScrape) expect({ t, off: Math.abs(x.rows - x.node) / x.node < 0.001 }).toEqual({ t, off: true });
    // The same through PromQL evaluation, and the agent's own residual gauge.
    const range = (q: string) => api(`query_range?query=${encodeURIComponent(q)}&start=${t0}&end=${t1}&step=0.5`);
    const ratio = await range('abs(sum(wattsched_pod_watts) + sum(wattsched_system_watts) - sum(wattsched_node_watts)) / sum(wattsched_node_watts)');
    expect(ratio.result[0]?.values?.length ?? 0).toBeGreaterThanOrEqual(8);
    for (const [, v] of ratio.result[0]?.values ?? []) expect(Number(v)).toBeLessThan(0.001);
    const exported = await range('max(wattsched_attribution_residual_ratio)');
    for (const [, v] of exported.result[0]?.values ?? []) expect(Number(v)).toBeLessThan(0.001);

    // Standalone, a pod is named by its UID: each of ours used energy and CPU.
    const ours = `pod=~"${uids.join('|')}"`;
    for (const m of ['wattsched_pod_joules_total', 'wattsched_pod_cpu_seconds_total']) {
      const inc = await api(`query?query=${encodeURIComponent(`max_over_time(${m}{${ours}}[${window}])`)}${at}`);
      expect(inc.result.map((r) => r.metric.pod).sort()).toEqual([...uids].sort());
      for (const r of inc.result) expect(Number(r.value?.[1])).toBeGreaterThan(0);
    }
    for (const m of ['wattsched_pod_joules_total', 'wattsched_pod_cpu_seconds_total', 'wattsched_container_joules_total', 'wattsched_node_joules_total', 'wattsched_system_joules_total']) {
      const resets = await api(`query?query=${encodeURIComponent(`sum(resets(${m}[${window}]))`)}${at}`);
      expect({ m, resets: Number(resets.result[0]?.value?.[1]) }).toEqual({ m, resets: 0 });
    }
    // The agent really was down once, and the source is the model on this machine.
    const up = await api(`query?query=${encodeURIComponent(`min_over_time(up[${window}])`)}${at}`);
    expect(Number(up.result[0]?.value?.[1])).toBe(0);
    const src = await api(`query?query=${encodeURIComponent(`count_over_time(wattsched_node_watts{source="model"}[${window}])`)}${at}`);
    expect(Number(src.result[0]?.value?.[1])).toBeGreaterThanOrEqual(8);
    await prom.stop();
  });
});
