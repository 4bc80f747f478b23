// The fallback chain behind GET /v1/models/{fingerprint}: exact fingerprint, then a model for the same CPU
// family/generation (and the same GPU), then the description-based curve model every node can use.
import { cpuFamily } from '../features.js';
import type { ModelStore } from './store.js';
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

export function resolveModel(store: ModelStore, fp: string): Resolution {
  if (store.has(fp)) {
    const v = store.served(fp);
    if (v) return { match: 'exact', fingerprint: fp, version: v.version };
  }
  const want = fingerprintFamily(fp);
  let best: { fp: string; version: number; mape: number } | null = null;
  for (const other of store.fingerprints()) {
    if (other === fp || other === DESCRIPTION_FINGERPRINT) continue;
    const v = store.served(other);
    if (!v || v.task !== 'counters') continue;
    const have = fingerprintFamily(other);
    if (have.family !== want.family || have.gpu !== want.gpu || want.family === 'unknown') continue;
    if (best === null || v.heldOutMapePercent < best.mape) best = { fp: other, version: v.version, mape: v.heldOutMapePercent };
  }
  if (best) return { match: 'family', fingerprint: best.fp, version: best.version };
  const d = store.has(DESCRIPTION_FINGERPRINT) ? store.served(DESCRIPTION_FINGERPRINT) : null;
  if (d) return { match: 'description', fingerprint: DESCRIPTION_FINGERPRINT, version: d.version };
  throw new WS_ERR_MODEL_NOT_FOUND(`for ${fp}: no exact or same-family model and no description curve model`);
}
