// The latest word from each node's agent: measured CPU utilisation, node power and its source, the power model's
// id. Freshness is judged by when the extender received the report (its own clock), so agent clock skew cannot
// make old data look fresh. Nodes that fall silent are forgotten after a bounded time, and the map is bounded.
import { Counter, type Registry } from 'prom-client';
import { METRICS } from '../../shared/names.js';
import type { NodeHardwareReport, NodeReport, PodReport } from '../../shared/wire/agent.js';

export interface NodeTelemetry {
  readonly node: string;
  /** Epoch ms the report was received. */
  readonly receivedAt: number;
  /** Busy fraction of all the node's CPUs over the agent's interval, 0..1. */
  readonly utilisation: number;
  readonly watts: number | null;
  readonly powerSource: string | null;
  readonly modelId: string | null;
  readonly pods: readonly PodReport[];
  /** Where the report came from (the agent's URL). */
  readonly origin: string;
  /** The node's hardware description and fingerprint, when its agent reports them (node power models key on it). */
  readonly hardware?: NodeHardwareReport;
}

export type TelemetryState =
  | { readonly kind: 'fresh'; readonly t: NodeTelemetry; readonly ageMs: number }
  | { readonly kind: 'stale'; readonly t: NodeTelemetry; readonly ageMs: number }
  | { readonly kind: 'none' };

const NONE: TelemetryState = Object.freeze({ kind: 'none' });

/** Live state from a report; undefined when it has none to give (no interval yet, or power accounting off). */
export function telemetryFromReport(report: NodeReport, receivedAt: number, origin: string): NodeTelemetry | undefined {
  // Before its second reading an agent has no interval, so no rates and no utilisation to offer.
  if (!(report.intervalSeconds > 0) || !report.power) return undefined;
  const p = report.power;
  return {
    node: report.node,
    receivedAt,
    utilisation: p.cpuUtilisation,
    watts: p.watts,
    powerSource: p.source,
    modelId: p.model?.id ?? null,
    pods: report.pods,
    origin,
    ...(p.hardware === undefined ? {} : { hardware: p.hardware }),
  };
}

export interface TelemetryLimits {
  /** A node not heard from for this long is forgotten: its agent left the list, or the Node was deleted. */
  forgetAfterMs: number;
  /** Nodes kept at most; past it the longest-silent node is forgotten first. */
  maxNodes: number;
}

/** The config defaults (telemetry.forgetAfterSeconds, telemetry.maxNodes). */
export const DEFAULT_TELEMETRY_LIMITS: TelemetryLimits = Object.freeze({ forgetAfterMs: 900_000, maxNodes: 20_000 });

export class TelemetryStore {
  // Kept in order of receipt (re-inserted on each update), so the longest-silent node is always first and eviction
  // never scans the whole map.
  private readonly byNode = new Map<string, NodeTelemetry>();
  /** Nodes forgotten since start (silent too long, or over maxNodes). */
  forgotten = 0;

  constructor(
    private readonly staleAfterMs: number,
    private readonly limits: TelemetryLimits = DEFAULT_TELEMETRY_LIMITS,
  ) {}

  update(t: NodeTelemetry): void {
    this.byNode.delete(t.node);
    this.byNode.set(t.node, t);
    this.evict(t.receivedAt);
  }

  /** Forgets nodes silent for longer than forgetAfterMs at `now`, then the longest-silent past maxNodes. */
  evict(now: number): void {
    for (const [node, t] of this.byNode) {
      if (now - t.receivedAt <= this.limits.forgetAfterMs && this.byNode.size <= this.limits.maxNodes) break;
      this.byNode.delete(node);
      this.forgotten++;
    }
  }

  state(node: string, now: number): TelemetryState {
    const t = this.byNode.get(node);
    if (!t) return NONE;
    const ageMs = Math.max(0, now - t.receivedAt);
    if (ageMs > this.limits.forgetAfterMs) return NONE;
    return { kind: ageMs <= this.staleAfterMs ? 'fresh' : 'stale', t, ageMs };
  }

  list(): NodeTelemetry[] {
    return [...this.byNode.values()];
  }

  size(): number {
    return this.byNode.size;
  }

  registerMetrics(registry: Registry): void {
    const store = this;
    let seen = 0;
    new Counter({
      name: METRICS.extender.telemetryForgotten,
      help: 'Nodes whose live state was forgotten: not heard from for telemetry.forgetAfterSeconds, or over telemetry.maxNodes.',
      registers: [registry],
      collect() {
        this.inc(store.forgotten - seen);
        seen = store.forgotten;
      },
    });
  }
}
