// One server for the pressure benchmark, alone in its process so its RSS is its own: `extender` (the real app, its
// default serving limits, its health thread on a port of its own) or `floor` (bare Fastify with Node's default
// timeouts, the same body limit, a /healthz and /readyz, and a prioritize that parses the body and answers a fixed
// list, i.e. what the extender was before load shedding). Prints {"port":N,"healthPort":N|null} once listening.
import Fastify from 'fastify';
import { buildExtender } from '../../src/extender/app.js';
import { staticInventory } from '../../src/extender/nodes/inventory.js';
import type { HealthServer } from '../../src/extender/routes/health.js';
import * as powerCurve from '../../src/extender/scorers/power-curve/index.js';
import { ExtenderConfigSchema } from '../../src/shared/config/extender.js';
import { loadConfig } from '../../src/shared/config/load.js';

const which = process.argv[2];
const config = loadConfig(ExtenderConfigSchema, { flags: { kubernetes: { mode: 'off' }, logLevel: 'silent' } });
let app;
let healthPort: number | null = null;
if (which === 'extender') {
  const scorer = powerCurve.create({ nodeLabel: config.powerCurves.nodeLabel, byLabelValue: config.powerCurves.byLabelValue });
  app = await buildExtender(config, { scorer, inventory: staticInventory([]), logger: false });
} else {
  app = Fastify({ bodyLimit: config.bodyLimitBytes });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready' }));
  app.post('/prioritize', async () => []);
}
const port = Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port);
if (which === 'extender') healthPort = await app.getDecorator<HealthServer>('healthServer').listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ port, healthPort })}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
