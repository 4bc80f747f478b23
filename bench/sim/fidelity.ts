// Fidelity: the first pods of the shipped trace through the real kube-scheduler and the real extender
// (test/kube-scheduler/cmd/simfidelity, compressed time) against `wattsched sim` on the same slice, with memory
// filtered on both sides. Compares every pod's node, per-node pod counts and energy, and writes
// bench/results/sim-fidelity.json (or the file given with --out).
//   npm run build && node dist/bench/sim/fidelity.js [--pods 1000] [--min-agreement 0.95] [--out FILE] [--trace CSV --servers CSV]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNodes, readPods, readServers } from '../../src/sim/data.js';
import { simulate, type SimResult } from '../../src/sim/engine.js';
import type { Policy } from '../../src/sim/policy.js';
import { createWattsched } from '../../src/sim/policies/wattsched.js';
import { projectRoot, resultsDir, sharedDataDir } from '../paths.js';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '1000' }, 'min-agreement': { type: 'string', default: '0.95' }, out: { type: 'string' }, trace: { type: 'string' }, servers: { type: 'string' } } });
const count = Number(values.pods);
const minAgreement = Number(values['min-agreement']);
const data = sharedDataDir();
const tracePath = resolve(values.trace ?? join(data, 'traces/alibaba-gpu-2023/openb_pod_list_default.csv'));
const serversPath = resolve(values.servers ?? join(data, 'specpower/servers_20.csv'));

const tmp = mkdtempSync(join(tmpdir(), 'sim-fidelity-'));
let harness: { pods: number; nodes: string[]; placements: Record<string, string>; seconds: number };
try {
  const out = join(tmp, 'harness.json');
  execFileSync('go', ['run', './cmd/simfidelity', '-trace', tracePath, '-servers', serversPath, '-pods', String(count), '-out', out], {
    cwd: join(projectRoot(), 'test', 'kube-scheduler'),
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`, WATTSCHED_REPO: projectRoot() },
  });
  harness = JSON.parse(readFileSync(out, 'utf8'));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const pods = readPods(tracePath).slice(0, count);
const nodes = buildNodes(readServers(serversPath));
const usage = Float64Array.from(pods, (p) => p.cpuMilli);
const index = new Map(nodes.map((n, i) => [n.name, i]));
// The harness's choices replayed through the simulator's accounting, so both energies come from one model.
const replay: Policy = {
  name: 'harness',
  score: (pod, candidates) => candidates.map((i) => (index.get(harness.placements[pod.name] ?? '') === i ? 1 : 0)),
};
const run = (p: Policy): Promise<SimResult> => simulate(pods, nodes, p, { usageMilli: usage });
const [real, sameView, watching] = [await run(replay), await run(createWattsched({ staticInventory: true })), await run(createWattsched())];
// A pod the harness placed where the simulator found it infeasible would have been scored 0 like all others.
const infeasible = pods.filter((p, k) => (harness.placements[p.name] ?? '') !== (real.placement[k]! >= 0 ? nodes[real.placement[k]!]!.name : '')).length;

const nodeName = (r: SimResult, k: number): string => (r.placement[k]! >= 0 ? nodes[r.placement[k]!]!.name : '');
const agree = (r: SimResult): number => pods.filter((p, k) => (harness.placements[p.name] ?? '') === nodeName(r, k)).length / pods.length;
const counts = (pick: (k: number) => string): Record<string, number> => {
  const c: Record<string, number> = {};
  pods.forEach((_, k) => {
    const n = pick(k) || 'unschedulable';
    c[n] = (c[n] ?? 0) + 1;
  });
  return c;
};
const perNode = { harness: counts((k) => harness.placements[pods[k]!.name] ?? ''), sim_same_view: counts((k) => nodeName(sameView, k)), sim_watching: counts((k) => nodeName(watching, k)) };
const report = {
  pods: count,
  harness_seconds: harness.seconds,
  agreement_same_view: agree(sameView),
  agreement_watching: agree(watching),
  energy_kwh: { harness: real.energyKWh, sim_same_view: sameView.energyKWh, sim_watching: watching.energyKWh },
  energy_difference_same_view: (sameView.energyKWh - real.energyKWh) / real.energyKWh,
  harness_choices_infeasible_in_sim: infeasible,
  per_node_pods: perNode,
  min_agreement: minAgreement,
  passed: agree(sameView) >= minAgreement && infeasible === 0,
};
const names = [...new Set([...nodes.map((n) => n.name), 'unschedulable'])];
console.log(`${'node'.padEnd(15)}${'harness'.padStart(9)}${'sim (same view)'.padStart(17)}${'sim (watching)'.padStart(16)}`);
for (const n of names) console.log(`${n.padEnd(15)}${String(perNode.harness[n] ?? 0).padStart(9)}${String(perNode.sim_same_view[n] ?? 0).padStart(17)}${String(perNode.sim_watching[n] ?? 0).padStart(16)}`);
console.log(`\n${count} pods in ${harness.seconds.toFixed(1)} s through kube-scheduler + extender`);
console.log(`same node as the harness: sim with the harness extender's view ${(100 * report.agreement_same_view).toFixed(1)} %, sim with a watching extender ${(100 * report.agreement_watching).toFixed(1)} %`);
console.log(`energy: harness ${real.energyKWh.toFixed(2)} kWh, sim same view ${sameView.energyKWh.toFixed(2)} kWh (${(100 * report.energy_difference_same_view).toFixed(2)} %), sim watching ${watching.energyKWh.toFixed(2)} kWh`);
const file = values.out ?? join(resultsDir(), 'sim-fidelity.json');
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
console.log(report.passed ? 'fidelity: PASSED' : `fidelity: FAILED (need ≥ ${(100 * minAgreement).toFixed(0)} % agreement and no infeasible harness choice)`);
process.exitCode = report.passed ? 0 : 1;
