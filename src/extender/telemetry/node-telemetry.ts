// The latest word from each node's agent: measured CPU utilisation, node power and its source, the power model's
// id. Freshness is judged by when the extender received the report (its own clock), so agent clock skew cannot
// make old data look fresh.
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

export class TelemetryStore {
  private readonly byNode = new Map<string, NodeTelemetry>();

  constructor(private readonly staleAfterMs: number) {}

  update(t: NodeTelemetry): void {
    this.byNode.set(t.node, t);
  }

  state(node: string, now: number): TelemetryState {
    const t = this.byNode.get(node);
    if (!t) return NONE;
    const ageMs = Math.max(0, now - t.receivedAt);
    return { kind: ageMs <= this.staleAfterMs ? 'fresh' : 'stale', t, ageMs };
  }

  list(): NodeTelemetry[] {
    return [...this.byNode.values()];
  }

  size(): number {
    return this.byNode.size;
  }
}
