// One comparison: every requested policy replayed on the same pods, nodes and usage, plus the bound, and each
// policy's share of the achievable saving.
import { boundEnergyKWh } from './bound.js';
import type { SimNode, SimPod } from './data.js';
import { eventsOf, simulate, type SimResult } from './engine.js';
import type { Policy } from './policy.js';
import { defaultPolicy } from './policies/default.js';
import { greedyPolicy } from './policies/greedy.js';
import { createPeaks } from './policies/peaks.js';
import { tlpPolicy } from './policies/tlp.js';
import { createWattsched } from './policies/wattsched.js';

export const POLICY_NAMES = ['default', 'peaks', 'tlp', 'greedy', 'wattsched'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export function createPolicy(name: PolicyName, powerDown: boolean): Policy {
  switch (name) {
    case 'default':
      return defaultPolicy;
    case 'peaks':
      return createPeaks();
    case 'tlp':
      return tlpPolicy;
    case 'greedy':
      return greedyPolicy;
    case 'wattsched':
      return createWattsched({ powerDown });
  }
}

export interface Comparison {
  readonly results: readonly SimResult[];
  readonly boundKWh: number;
}

export interface CompareOptions {
  readonly powerDownAfterS?: number;
  readonly usageMilli: Float64Array;
  readonly seed?: number;
  readonly onProgress?: (policy: string, done: number, total: number) => void;
}

export async function compare(pods: readonly SimPod[], nodes: readonly SimNode[], policies: readonly PolicyName[], opts: CompareOptions): Promise<Comparison> {
  const powerDown = opts.powerDownAfterS !== undefined && Number.isFinite(opts.powerDownAfterS);
  const results: SimResult[] = [];
  for (const name of policies) {
    results.push(
      await simulate(pods, nodes, createPolicy(name, powerDown), {
        usageMilli: opts.usageMilli,
        ...(opts.powerDownAfterS !== undefined ? { powerDownAfterS: opts.powerDownAfterS } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.onProgress ? { onProgress: (d: number, t: number) => opts.onProgress?.(name, d, t) } : {}),
      }),
    );
  }
  const events = eventsOf(pods)
    .filter((e) => pods[e.pod]!.deletedS > pods[e.pod]!.createdS)
    .map((e) => ({ t: e.t, deltaMilli: (e.create ? 1 : -1) * (opts.usageMilli[e.pod] as number) }));
  return { results, boundKWh: boundEnergyKWh(events, nodes, powerDown) };
}

/** (default − policy) / (default − bound): the share of the achievable saving a policy captures. */
export function savingShare(defaultKWh: number, policyKWh: number, boundKWh: number): number {
  const achievable = defaultKWh - boundKWh;
  return achievable > 0 ? (defaultKWh - policyKWh) / achievable : NaN;
}
