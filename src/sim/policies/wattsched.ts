// What the extender ships, called as a library: the same Scorer, evaluate(), cap filter and watts-to-priority
// mapping the webhooks use, fed the NodeStates the extender would see in names mode (each node's own curve as its
// power-curve annotation, allocatable = hardware threads, requested = the CPU requests bound to it). Its priority is
// then added to the default plugins' scores with the shipped extender weight, as kube-scheduler adds them.
import { capViolations, evaluate, priorities } from '../../extender/decisions/evaluate.js';
import type { NodeState } from '../../extender/nodes/state.js';
import type { PodDemand } from '../../extender/protocol/pod.js';
import * as live from '../../extender/live/scorer.js';
import { MemoryProfileStore } from '../../extender/profiles/store.js';
import { TelemetryStore, type NodeTelemetry } from '../../extender/telemetry/node-telemetry.js';
import { ExtenderConfigSchema } from '../../shared/config/extender.js';
import { loadConfig } from '../../shared/config/load.js';
import type { Scorer } from '../../extender/scoring/scorer.js';
import { ANNOTATIONS } from '../../shared/names.js';
import type { SimNode } from '../data.js';
import { nodeWatts } from '../energy.js';
import type { ClusterView, Policy } from '../policy.js';
import { defaultPluginScore } from './default.js';

/** charts/wattsched/files/kube-scheduler-config.yaml's extender weight (a test keeps the two equal). */
export const SHIPPED_EXTENDER_WEIGHT = 151;
/** kube-scheduler adds an extender's 0–10 priority as priority × weight × (MaxNodeScore / MaxExtenderPriority). */
const EXTENDER_SCALE = 100 / 10;

export function nodeState(node: SimNode, requestedMilli: number): NodeState {
  return {
    name: node.name,
    labels: {},
    annotations: { [ANNOTATIONS.powerCurve]: node.curve.join(',') },
    allocatableMilliCPU: node.capacityMilli,
    requestedMilliCPU: requestedMilli,
  };
}

export interface WattschedOptions {
  readonly scorer?: Scorer;
  readonly extenderWeight?: number;
  /** The cluster switches empty nodes off (cluster-autoscaler scale-down), so the scorer counts waking one. */
  readonly powerDown?: boolean;
  /**
   * The extender knows requested CPU only from its cluster watch; with a static config inventory (no API server,
   * as in test/kube-scheduler's harness) it sees every node as empty. True models that extender.
   */
  readonly staticInventory?: boolean;
  /**
   * Each node runs the wattsched agent, as the chart deploys it: the extender sees every node's measured CPU
   * utilisation (what its pods use, not what they request), fresh at every decision. Off models an extender without
   * agents, which can only go by requests. Default on; ignored with `staticInventory` or a caller's own scorer.
   */
  readonly agents?: boolean;
}

/**
 * The scorer `wattsched extender` builds (src/extender/command.ts), with its default configuration and no agents: the
 * simulated cluster has no measured history, so demand is the pod's request and load the CPU requested on each node.
 */
function shippedScorer(powerDown: boolean, telemetry: TelemetryStore): Scorer {
  const config = loadConfig(ExtenderConfigSchema, { flags: { kubernetes: { mode: 'off' }, powerCurves: { emptyNodes: powerDown ? 'off' : 'idle' } } });
  return live.create({
    curves: { nodeLabel: config.powerCurves.nodeLabel, byLabelValue: config.powerCurves.byLabelValue, emptyNodes: config.powerCurves.emptyNodes },
    telemetry,
    profiles: new MemoryProfileStore(config.profiles),
    // Simulated time is not wall time: every report the simulator hands over is received "now", hence fresh.
    now: () => 0,
  });
}

/** What a node's agent would report at this instant: the utilisation its pods' usage gives and the watts it draws. */
export function agentReport(node: SimNode, usageMilli: number): NodeTelemetry {
  return { node: node.name, receivedAt: 0, utilisation: usageMilli / node.capacityMilli, watts: nodeWatts(node.curve, node.capacityMilli, usageMilli), powerSource: 'sim', modelId: null, pods: [], origin: 'sim' };
}

export function createWattsched(opts: WattschedOptions = {}): Policy {
  const telemetry = new TelemetryStore(Infinity);
  const scorer = opts.scorer ?? shippedScorer(opts.powerDown === true, telemetry);
  const agents = opts.agents !== false && !opts.staticInventory && !opts.scorer;
  const weight = opts.extenderWeight ?? SHIPPED_EXTENDER_WEIGHT;
  return {
    name: 'wattsched',
    score: async (pod, candidates, v: ClusterView) => {
      if (agents) for (const i of candidates) telemetry.update(agentReport(v.nodes[i] as SimNode, v.usageMilli[i] as number));
      const demand: PodDemand = { namespace: 'sim', name: pod.name, uid: `sim-${pod.index}`, cpuMilli: pod.cpuMilli };
      const states = candidates.map((i) => nodeState(v.nodes[i] as SimNode, opts.staticInventory ? 0 : (v.requestedMilli[i] as number)));
      const ev = await evaluate(scorer, demand, states.map((s) => s.name), states, true);
      const capped = capViolations(ev, states);
      const prio = priorities(ev);
      return candidates.map((i, k) => (capped.has(k) ? -Infinity : defaultPluginScore(pod, i, v) + weight * EXTENDER_SCALE * (prio[k] as number)));
    },
  };
}
