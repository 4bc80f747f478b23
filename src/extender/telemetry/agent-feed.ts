// Polls each configured agent's GET /v1/node: the node's live state goes to the TelemetryStore, and every pod's
// measured cores and attributed watts become a sample of its workload's profile. The embedded history source: no
// other component is needed.
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import { type Registry } from 'prom-client';
import { METRICS } from '../../shared/names.js';
import { Compile } from 'typebox/compile';
import { NodeReportSchema, type NodeReport } from '../../shared/wire/agent.js';
import type { ProfileStore } from '../profiles/store.js';
import { telemetryFromReport, type TelemetryStore } from './node-telemetry.js';
import type { PredictionLedger } from './predictions.js';
import { totalsCounter } from '../../shared/totals-counter.js';

export interface AgentFeedOptions {
  /**
   * Agent base URLs, e.g. http://10.0.0.5:9102; or dns+http://NAME:PORT, where NAME (a headless Service over the
   * agent DaemonSet) is resolved every round and each address is polled.
   */
  agents: readonly string[];
  pollIntervalMs: number;
  requestTimeoutMs: number;
}

export interface PollOutcome {
  agent: string;
  ok: boolean;
  error?: string;
}

const checkReport = Compile(NodeReportSchema);

/** Files one report: the node's state, and one profile sample per pod with a workload and measured rates. */
export function ingest(report: NodeReport, receivedAt: number, origin: string, telemetry: TelemetryStore, profiles: ProfileStore, predictions?: PredictionLedger): boolean {
  const t = telemetryFromReport(report, receivedAt, origin);
  if (!t) return false;
  telemetry.update(t);
  for (const pod of report.pods) {
    if (pod.energy) predictions?.observe(pod.uid, report.node, pod.energy.watts);
    if (!pod.workload) continue;
    profiles.record(pod.workload, { at: receivedAt, cores: pod.rates.cpuSeconds, watts: pod.energy?.watts ?? null });
  }
  return true;
}

export async function pollAgent(url: string, timeoutMs: number): Promise<NodeReport> {
  const res = await fetch(new URL('/v1/node', url), { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const body: unknown = await res.json();
  if (!checkReport.Check(body)) {
    const first = [...checkReport.Errors(body)][0];
    throw new Error(`not a node report: ${first ? `${first.instancePath} ${first.message}` : 'schema mismatch'}`);
  }
  return body as NodeReport;
}

export class AgentFeed {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  readonly polls = { ok: 0, failed: 0 };
  private readonly lastError = new Map<string, string>();

  constructor(
    private readonly opts: AgentFeedOptions,
    private readonly telemetry: TelemetryStore,
    private readonly profiles: ProfileStore,
    private readonly log: Logger | undefined,
    private readonly now: () => number = Date.now,
    private readonly predictions?: PredictionLedger,
  ) {}

  /** The URLs to poll this round: dns+ entries expanded to one URL per address (an unresolvable name is a failure). */
  private async targets(): Promise<{ urls: string[]; failures: PollOutcome[] }> {
    const urls: string[] = [];
    const failures: PollOutcome[] = [];
    await Promise.all(
      this.opts.agents.map(async (agent) => {
        if (!agent.startsWith('dns+')) return void urls.push(agent);
        const u = new URL(agent.slice(4));
        try {
          for (const a of await lookup(u.hostname, { all: true })) {
            const one = new URL(u);
            one.hostname = a.family === 6 ? `[${a.address}]` : a.address;
            urls.push(one.origin);
          }
        } catch (err) {
          this.polls.failed++;
          failures.push({ agent, ok: false, error: `cannot resolve ${u.hostname}: ${(err as Error).message}` });
        }
      }),
    );
    return { urls, failures };
  }

  /** One round over every agent, in parallel; failures are logged once per change of reason and counted. */
  async pollOnce(): Promise<PollOutcome[]> {
    // Nodes whose agents left the list (or were never answered again) are forgotten even when no report arrives.
    this.telemetry.evict(this.now());
    const { urls, failures } = await this.targets();
    // Remembered reasons only for what this round polls: addresses behind a dns+ name come and go with the pods.
    const current = new Set([...urls, ...failures.map((f) => f.agent)]);
    for (const agent of this.lastError.keys()) if (!current.has(agent)) this.lastError.delete(agent);
    for (const f of failures) {
      if (this.lastError.get(f.agent) !== f.error) this.log?.warn({ agent: f.agent, error: f.error }, 'agent discovery failed');
      this.lastError.set(f.agent, f.error as string);
    }
    return Promise.all(
      urls.map(async (agent): Promise<PollOutcome> => {
        try {
          const report = await pollAgent(agent, this.opts.requestTimeoutMs);
          ingest(report, this.now(), agent, this.telemetry, this.profiles, this.predictions);
          this.polls.ok++;
          if (this.lastError.delete(agent)) this.log?.info({ agent }, 'agent reachable again');
          return { agent, ok: true };
        } catch (err) {
          const error = (err as Error).message;
          this.polls.failed++;
          if (this.lastError.get(agent) !== error) this.log?.warn({ agent, error }, 'agent poll failed; its node goes stale if this persists');
          this.lastError.set(agent, error);
          return { agent, ok: false, error };
        }
      }),
    ).then((polled) => [...failures, ...polled]);
  }

  start(): void {
    if (this.running || this.opts.agents.length === 0) return;
    this.running = true;
    const tick = (): void => {
      void this.pollOnce().finally(() => {
        if (this.running) this.timer = setTimeout(tick, this.opts.pollIntervalMs).unref();
      });
    };
    tick();
  }

  registerMetrics(registry: Registry): void {
    totalsCounter({
      name: METRICS.extender.agentPolls,
      help: 'Polls of agent GET /v1/node, by outcome (ok or failed).',
      registry,
      labelName: 'outcome',
      read: () => this.polls,
    });
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }
}
