// Provides what every webhook needs to answer: the scorer, the node inventory and the explain store. The one
// shared plugin (wrapped with fastify-plugin and named) so route plugins can declare it as a dependency.
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import type { NodeInventory } from '../nodes/inventory.js';
import type { Scorer } from '../scoring/scorer.js';
import { ExplainStore } from '../decisions/explain.js';
import { AssumedPods } from '../nodes/assumed.js';

export interface Scoring {
  scorer: Scorer;
  inventory: NodeInventory;
  explain: ExplainStore;
  /** Pods passed onto capped nodes and not yet seen bound; fed by the filter, settled by the inventory's watch. */
  assumed: AssumedPods;
}

export const SCORING_PLUGIN = 'wattsched-scoring';

export interface ScoringOptions {
  scorer: Scorer;
  inventory: NodeInventory;
  explainMaxNodeEntries: number;
  assumedPodTtlMs: number;
}

const scoringPlugin: FastifyPluginAsync<ScoringOptions> = async (app, opts) => {
  const assumed = new AssumedPods(opts.assumedPodTtlMs);
  const unsubscribe = opts.inventory.onPodSettled((uid) => assumed.forget(uid));
  const scoring: Scoring = { scorer: opts.scorer, inventory: opts.inventory, explain: new ExplainStore(opts.explainMaxNodeEntries), assumed };
  app.decorate('scoring', scoring);
  app.addHook('onClose', async () => {
    unsubscribe();
    await opts.inventory.close();
  });
};

export default fp(scoringPlugin, { name: SCORING_PLUGIN, fastify: '5.x' });
