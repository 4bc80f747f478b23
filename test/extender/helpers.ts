// Builds an extender app for tests from the same factory the command uses, with config validated the same way.
import { test as base } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ExtenderConfigSchema, type ExtenderConfig } from '../../src/shared/config/extender.js';
import { loadConfig } from '../../src/shared/config/load.js';
import { buildExtender } from '../../src/extender/app.js';
import { staticInventory, type NodeInventory } from '../../src/extender/nodes/inventory.js';
import * as powerCurve from '../../src/extender/scorers/power-curve/index.js';
import type { Scorer } from '../../src/extender/scoring/scorer.js';

export function extenderConfig(over: Record<string, unknown> = {}): ExtenderConfig {
  return loadConfig(ExtenderConfigSchema, { flags: { kubernetes: { mode: 'off' }, logLevel: 'silent', ...over } });
}

export async function makeApp(over: Record<string, unknown> = {}, deps: { scorer?: Scorer; inventory?: NodeInventory } = {}): Promise<FastifyInstance> {
  const config = extenderConfig(over);
  const scorer = deps.scorer ?? powerCurve.create({ nodeLabel: config.powerCurves.nodeLabel, byLabelValue: config.powerCurves.byLabelValue, ...(config.powerCurves.default ? { default: config.powerCurves.default } : {}) });
  return buildExtender(config, { scorer, inventory: deps.inventory ?? staticInventory(config.nodes), logger: false });
}

/** `app` fixture: a fresh extender with default config, closed after the test. */
export const test = base.extend<{ app: FastifyInstance }>({
  // eslint-disable-next-line no-empty-pattern
  app: async ({}, use) => {
    const app = await makeApp();
    await use(app);
    await app.close();
  },
});

export const post = (app: FastifyInstance, url: string, payload: unknown) =>
  app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
