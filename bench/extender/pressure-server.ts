// One server for the pressure benchmark, alone in its process so its RSS is its own: `extender` (the real app, its
// default serving limits, its health thread on a port of its own), `floor` (bare Fastify with Node's default
// timeouts, the same body limit, a /healthz and /readyz, and a prioritize that parses the body and answers a fixed
// list, i.e. what the extender was before load shedding), or `idle`: a bare node:http server that answers any GET
// with {"status":"ok"} and gets no other traffic, the machine's own noise under the probes (how long a probe takes
// when the server has nothing to do but wait for a CPU). Prints {"port":N,"healthPort":N|null} once listening.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { buildExtender } from '../../src/extender/app.js';
import { staticInventory } from '../../src/extender/nodes/inventory.js';
import type { HealthServer } from '../../src/extender/routes/health.js';
import * as powerCurve from '../../src/extender/scorers/power-curve/index.js';
import { ExtenderConfigSchema } from '../../src/shared/config/extender.js';
import { loadConfig } from '../../src/shared/config/load.js';

async function serve(which: string): Promise<{ port: number; healthPort: number | null; close: () => Promise<unknown> }> {
  if (which === 'idle') {
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, healthPort: null, close: () => new Promise((r) => server.close(r)) };
  }
  const config = loadConfig(ExtenderConfigSchema, { flags: { kubernetes: { mode: 'off' }, logLevel: 'silent' } });
  if (which === 'extender') {
    const scorer = powerCurve.create({ nodeLabel: config.powerCurves.nodeLabel, byLabelValue: config.powerCurves.byLabelValue });
    const app = await buildExtender(config, { scorer, inventory: staticInventory([]), logger: false });
    const port = Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port);
    const healthPort = await app.getDecorator<HealthServer>('healthServer').listen({ port: 0, host: '127.0.0.1' });
    return { port, healthPort, close: () => app.close() };
  }
  const app = Fastify({ bodyLimit: config.bodyLimitBytes });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready' }));
  app.post('/prioritize', async () => []);
  const port = Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port);
  return { port, healthPort: null, close: () => app.close() };
}

const { port, healthPort, close } = await serve(process.argv[2] ?? '');
process.stdout.write(`${JSON.stringify({ port, healthPort })}\n`);
process.on('SIGTERM', () => void close().then(() => process.exit(0)));
