// Go's encoding/json decodes keys into struct fields by exact name first, then case-insensitively, applying keys in
// body order so a later key for the same field wins. kube-scheduler writes exact names, but a hand-written or
// proxied body may not; rewriting keys to their canonical field name here lets the schema check a single spelling.
import { GO_FIELD_NAMES } from '../../shared/wire/extender.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns `obj` with keys that case-insensitively match a Go field renamed to it; non-objects pass through. */
export function canonicalizeKeys(obj: unknown, fields: readonly string[]): unknown {
  if (!isObject(obj)) return obj;
  const out: Json = {};
  for (const [key, value] of Object.entries(obj)) {
    const lower = key.toLowerCase();
    const field = fields.includes(key) ? key : (fields.find((f) => f.toLowerCase() === lower) ?? key);
    out[field] = value;
  }
  return out;
}

function canonicalizeVictimMap(map: unknown, podFields: readonly string[] | undefined): unknown {
  if (!isObject(map)) return map;
  const out: Json = {};
  for (const [node, raw] of Object.entries(map)) {
    const victims = canonicalizeKeys(raw, GO_FIELD_NAMES.victims);
    if (podFields && isObject(victims) && Array.isArray(victims.Pods)) {
      victims.Pods = victims.Pods.map((p) => canonicalizeKeys(p, podFields));
    }
    out[node] = victims;
  }
  return out;
}

export function canonicalizeExtenderArgs(body: unknown): unknown {
  return canonicalizeKeys(body, GO_FIELD_NAMES.args);
}

export function canonicalizePreemptionArgs(body: unknown): unknown {
  const out = canonicalizeKeys(body, GO_FIELD_NAMES.preemptionArgs);
  if (!isObject(out)) return out;
  if ('NodeNameToVictims' in out) out.NodeNameToVictims = canonicalizeVictimMap(out.NodeNameToVictims, undefined);
  if ('NodeNameToMetaVictims' in out) out.NodeNameToMetaVictims = canonicalizeVictimMap(out.NodeNameToMetaVictims, GO_FIELD_NAMES.metaPod);
  return out;
}
