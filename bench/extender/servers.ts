// The two servers the extender benchmark compares, run in their own process so the load generator does not share
// their event loop: the real extender, and a bare Fastify "floor" that parses the same body with the same limit and
// returns a fixed answer. Prints {"extender":port,"floor":port,"admin":port} on stdout once both listen.
import Fastify from 'fastify';
import { buildExtender } from '../../src/extender/app.js';
import { staticInventory } from '../../src/extender/nodes/inventory.js';
import { liveBench } from './live-scorer.js';

const MAX_NODES = 5000;
const { config, nodes, scorer } = liveBench(MAX_NODES);
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
