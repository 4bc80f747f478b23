// The prioritize path without HTTP: the live scorer, evaluate, priorities and the explain record over the bench's
// 5,000 nodes, built as servers.ts builds them (live-scorer.ts). For profiling (`node --cpu-prof
// dist/bench/extender/scorer-micro.js`) and for a quick before/after of the scorer's own cost; the floor ratio comes
// from run.js only.
import { evaluate, priorities } from '../../src/extender/decisions/evaluate.js';
import { ExplainStore } from '../../src/extender/decisions/explain.js';
import { staticInventory } from '../../src/extender/nodes/inventory.js';
import { podDemand } from '../../src/extender/protocol/pod.js';
import { realisticPod } from './fixtures.js';
import { liveBench } from './live-scorer.js';

const N = Number(process.argv[2] ?? 5000);
const CALLS = Number(process.argv[3] ?? 2000);
const { config, nodes, scorer } = liveBench(N);
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
