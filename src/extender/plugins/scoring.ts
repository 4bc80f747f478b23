// Provides what every webhook needs to answer: the scorer, the node inventory and the explain store. The one
// shared plugin (wrapped with fastify-plugin and named) so route plugins can declare it as a dependency.
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import type { NodeInventory } from '../nodes/inventory.js';
import type { Scorer } from '../scoring/scorer.js';
import { ExplainStore } from '../decisions/explain.js';

export interface Scoring {
  scorer: Scorer;
  inventory: NodeInventory;
  explain: ExplainStore;
}

export const SCORING_PLUGIN = 'wattsched-scoring';

export interface ScoringOptions {
  scorer: Scorer;
  inventory: NodeInventory;
  explainMaxNodeEntries: number;
}

const scoringPlugin: FastifyPluginAsync<ScoringOptions> = async (app, opts) => {
  const scoring: Scoring = { scorer: opts.scorer, inventory: opts.inventory, explain: new ExplainStore(opts.explainMaxNodeEntries) };
  app.decorate('scoring', scoring);
  app.addHook('onClose', async () => {
    await opts.inventory.close();
  });
};

export default fp(scoringPlugin, { name: SCORING_PLUGIN, fastify: '5.x' });
