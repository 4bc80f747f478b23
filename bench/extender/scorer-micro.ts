// The prioritize path without HTTP: the live scorer, evaluate, priorities and the explain record over the bench's
// 5,000 nodes, as servers.ts builds them. For profiling (`node --cpu-prof dist/bench/extender/scorer-micro.js`) and
// for a quick before/after of the scorer's own cost; the floor ratio comes from run.js only.
import { evaluate, priorities } from '../../src/extender/decisions/evaluate.js';
import { ExplainStore } from '../../src/extender/decisions/explain.js';
import { staticInventory } from '../../src/extender/nodes/inventory.js';
import * as live from '../../src/extender/live/scorer.js';
import { MemoryProfileStore } from '../../src/extender/profiles/store.js';
import { podDemand } from '../../src/extender/protocol/pod.js';
import { TelemetryStore } from '../../src/extender/telemetry/node-telemetry.js';
import { PredictionLedger } from '../../src/extender/telemetry/predictions.js';
import { ExtenderConfigSchema } from '../../src/shared/config/extender.js';
import { loadConfig } from '../../src/shared/config/load.js';
import { realisticPod } from './fixtures.js';
import { benchNodes } from './workload.js';

const N = Number(process.argv[2] ?? 5000);
const CALLS = Number(process.argv[3] ?? 2000);
const config = loadConfig(ExtenderConfigSchema, { flags: { kubernetes: { mode: 'off' }, logLevel: 'silent' } });
const nodes = benchNodes(N).map((n) => ({ name: n.metadata!.name!, labels: n.metadata!.labels!, annotations: n.metadata!.annotations!, allocatableMilliCPU: 16000, requestedMilliCPU: 0 }));
const telemetry = new TelemetryStore(Number.MAX_SAFE_INTEGER);
nodes.forEach((n, i) => telemetry.update({ node: n.name, receivedAt: Date.now(), utilisation: (i % 10) / 20, watts: 150 + (i % 7) * 10, powerSource: 'rapl', modelId: null, pods: [], origin: 'bench' }));
const scorer = live.create({
  curves: { nodeLabel: config.powerCurves.nodeLabel, byLabelValue: config.powerCurves.byLabelValue, emptyNodes: config.powerCurves.emptyNodes },
  telemetry,
  profiles: new MemoryProfileStore(config.profiles),
  predictions: new PredictionLedger(500_000),
});
const inventory = staticInventory(nodes);
const explain = new ExplainStore(config.explainMaxNodeEntries);
const names = nodes.map((n) => n.name);
const pod = podDemand(realisticPod());

async function call(): Promise<void> {
  const states = names.map((n) => inventory.get(n));
  const ev = await evaluate(scorer, pod, names, states, true);
  explain.recordPrioritize(ev, priorities(ev));
}
for (let i = 0; i < 200; i++) await call();
const t0 = process.hrtime.bigint();
for (let i = 0; i < CALLS; i++) await call();
const ms = Number(process.hrtime.bigint() - t0) / 1e6 / CALLS;
process.stdout.write(`${JSON.stringify({ nodes: N, calls: CALLS, msPerCall: Number(ms.toFixed(4)) })}\n`);
