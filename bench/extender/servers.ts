// The two servers the extender benchmark compares, run in their own process so the load generator does not share
// their event loop: the real extender, and a bare Fastify "floor" that parses the same body with the same limit and
// returns a fixed answer. Prints {"extender":port,"floor":port,"admin":port} on stdout once both listen.
import Fastify from 'fastify';
import { buildExtender } from '../../src/extender/app.js';
import { staticInventory } from '../../src/extender/nodes/inventory.js';
import * as live from '../../src/extender/live/scorer.js';
import { MemoryProfileStore } from '../../src/extender/profiles/store.js';
import { TelemetryStore } from '../../src/extender/telemetry/node-telemetry.js';
import { PredictionLedger } from '../../src/extender/telemetry/predictions.js';
import { ExtenderConfigSchema } from '../../src/shared/config/extender.js';
import { loadConfig } from '../../src/shared/config/load.js';
import { benchNodes } from './workload.js';

const MAX_NODES = 5000;
const config = loadConfig(ExtenderConfigSchema, { flags: { kubernetes: { mode: 'off' }, logLevel: 'silent' } });
const nodes = benchNodes(MAX_NODES).map((n) => ({
  name: n.metadata!.name!,
  labels: n.metadata!.labels!,
  annotations: n.metadata!.annotations!,
  allocatableMilliCPU: 16000,
  requestedMilliCPU: 0,
}));
// The scorer `wattsched extender` runs, with live state in the path: every node has a fresh agent report (the
// dearest case: measured load, calibrated curves, prediction records), the pod is predicted from the profile store.
const telemetry = new TelemetryStore(Number.MAX_SAFE_INTEGER);
nodes.forEach((n, i) => telemetry.update({ node: n.name, receivedAt: Date.now(), utilisation: (i % 10) / 20, watts: 150 + (i % 7) * 10, powerSource: 'rapl', modelId: null, pods: [], origin: 'bench' }));
const scorer = live.create({
  curves: { nodeLabel: config.powerCurves.nodeLabel, byLabelValue: config.powerCurves.byLabelValue, emptyNodes: config.powerCurves.emptyNodes },
  telemetry,
  profiles: new MemoryProfileStore(config.profiles),
  predictions: new PredictionLedger(500_000),
});
const extender = await buildExtender(config, { scorer, inventory: staticInventory(nodes), logger: false });

const floor = Fastify({ bodyLimit: config.bodyLimitBytes });
floor.post('/filter', async () => ({ Nodes: null, NodeNames: [], FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' }));
floor.post('/prioritize', async () => []);

// CPU time of this process, read by the runner around each measurement: on a shared, noisy VM the CPU spent per
// request is a steadier cost figure than wall-clock latency.
const admin = Fastify();
admin.get('/cpu', async () => process.cpuUsage());

const ports = {
  extender: Number(new URL(await extender.listen({ port: 0, host: '127.0.0.1' })).port),
  floor: Number(new URL(await floor.listen({ port: 0, host: '127.0.0.1' })).port),
  admin: Number(new URL(await admin.listen({ port: 0, host: '127.0.0.1' })).port),
};
process.stdout.write(`${JSON.stringify(ports)}\n`);
process.on('SIGTERM', () => {
  void Promise.all([extender.close(), floor.close(), admin.close()]).then(() => process.exit(0));
});
