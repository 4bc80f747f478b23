// The fallback chain behind GET /v1/models/{fingerprint}: exact fingerprint, then a model for the same CPU
// family/generation (and the same GPU), then the description-based curve model every node can use.
import { cpuFamily } from '../features.js';
import type { ModelStore } from './store.js';
import type { HeldOutMethod } from '../../shared/wire/model.js';
import { WS_ERR_MODEL_NOT_FOUND } from '../../shared/errors.js';

/** Fingerprint of the shipped curve-from-description model, the last step of the chain. */
export const DESCRIPTION_FINGERPRINT = 'description-curve';

export interface Resolution {
  match: 'exact' | 'family' | 'description';
  fingerprint: string;
  version: number;
}

/** "intel-xeon-gold-6348-s2-c56-gpu-nvidia-a100" → { family: "xeon-gold-63xx", gpu: "nvidia-a100" }. */
export function fingerprintFamily(fp: string): { family: string; gpu: string } {
  const m = /^(.*?)-s\d+-c\d+(?:-gpu-(.+))?$/.exec(fp);
  const cpu = m ? (m[1] as string) : fp;
  return { family: cpuFamily(cpu.replace(/-/g, ' ')), gpu: m?.[2] ?? '' };
}

/**
 * Family-step preference between measures, because errors measured differently are never compared: a model retrained
 * on this fleet's windows (scored on its newest windows) before a shipped one (nested CV on public data). A version
 * without a recorded measure is used only when nothing else matches.
 */
const METHOD_RANK: Record<string, number> = { 'newest-windows': 0, 'nested-cv': 1 };
const rankOf = (m: HeldOutMethod | undefined): number => (m === undefined ? 2 : (METHOD_RANK[m] ?? 2));

export function resolveModel(store: ModelStore, fp: string): Resolution {
  if (store.has(fp)) {
    const v = store.served(fp);
    if (v) return { match: 'exact', fingerprint: fp, version: v.version };
  }
  const want = fingerprintFamily(fp);
  let best: { fp: string; version: number; rank: number; mape: number } | null = null;
  for (const other of store.fingerprints()) {
    if (other === fp || other === DESCRIPTION_FINGERPRINT) continue;
    const v = store.served(other);
    if (!v || v.task !== 'counters') continue;
    const have = fingerprintFamily(other);
    if (have.family !== want.family || have.gpu !== want.gpu || want.family === 'unknown') continue;
    const rank = rankOf(v.heldOutMethod);
    if (best === null || rank < best.rank || (rank === best.rank && v.heldOutMapePercent < best.mape)) best = { fp: other, version: v.version, rank, mape: v.heldOutMapePercent };
  }
  if (best) return { match: 'family', fingerprint: best.fp, version: best.version };
  const d = store.has(DESCRIPTION_FINGERPRINT) ? store.served(DESCRIPTION_FINGERPRINT) : null;
  if (d) return { match: 'description', fingerprint: DESCRIPTION_FINGERPRINT, version: d.version };
  throw new WS_ERR_MODEL_NOT_FOUND(`for ${fp}: no exact or same-family model and no description curve model`);
}
