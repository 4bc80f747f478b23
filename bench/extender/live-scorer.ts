// The scorer `wattsched extender` runs, over the bench's nodes with live state in the path: every node has a fresh
// agent report (the dearest case: measured load, calibrated curves, prediction records), the pod is predicted from
// the profile store. Shared by the HTTP benchmark's server and the scorer micro-driver, so both measure one setup.
import * as live from '../../src/extender/live/scorer.js';
import { MemoryProfileStore } from '../../src/extender/profiles/store.js';
import { TelemetryStore } from '../../src/extender/telemetry/node-telemetry.js';
import { PredictionLedger } from '../../src/extender/telemetry/predictions.js';
import { ExtenderConfigSchema, type ExtenderConfig, type StaticNode } from '../../src/shared/config/extender.js';
import { loadConfig } from '../../src/shared/config/load.js';
import { benchNodes } from './workload.js';

export function liveBench(n: number): { config: ExtenderConfig; nodes: StaticNode[]; scorer: live.LiveScorer } {
  const config = loadConfig(ExtenderConfigSchema, { flags: { kubernetes: { mode: 'off' }, logLevel: 'silent' } });
  const nodes = benchNodes(n).map((node) => ({
    name: node.metadata!.name!,
    labels: node.metadata!.labels!,
    annotations: node.metadata!.annotations!,
    allocatableMilliCPU: 16000,
    requestedMilliCPU: 0,
  }));
  const telemetry = new TelemetryStore(Number.MAX_SAFE_INTEGER);
  nodes.forEach((node, i) => telemetry.update({ node: node.name, receivedAt: Date.now(), utilisation: (i % 10) / 20, watts: 150 + (i % 7) * 10, powerSource: 'rapl', modelId: null, pods: [], origin: 'bench' }));
  const scorer = live.create({
    curves: { nodeLabel: config.powerCurves.nodeLabel, byLabelValue: config.powerCurves.byLabelValue, emptyNodes: config.powerCurves.emptyNodes },
    telemetry,
    profiles: new MemoryProfileStore(config.profiles),
    predictions: new PredictionLedger(500_000),
  });
  return { config, nodes, scorer };
}
