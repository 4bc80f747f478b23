// One loader for every component's configuration: file, then environment, then flags, each overriding the one
// before; validated once against the component's schema with every problem reported together; frozen afterwards.
import { readFileSync } from 'node:fs';
import type { TSchema, Static } from 'typebox';
import Value from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { WS_ERR_CONFIG_FILE, WS_ERR_CONFIG_INVALID } from '../errors.js';

export interface ConfigSources {
  /** Path of a YAML or JSON file; optional. */
  file?: string | undefined;
  /** Usually process.env. */
  env?: Record<string, string | undefined>;
  /** e.g. "WATTSCHED_EXTENDER_": WATTSCHED_EXTENDER_BODY_LIMIT_BYTES sets bodyLimitBytes, `__` nests (TLS__CERT_FILE). */
  envPrefix?: string;
  /** Already-parsed command-line flags, as a partial config object. */
  flags?: Record<string, unknown>;
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? merge(prev, v) : v;
  }
  return out;
}

const camel = (snake: string): string => snake.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function envOverrides(env: Record<string, string | undefined>, prefix: string): Plain {
  const out: Plain = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const path = name.slice(prefix.length).split('__').map(camel);
    let node = out;
    for (const seg of path.slice(0, -1)) {
      const next = isPlain(node[seg]) ? (node[seg] as Plain) : {};
      node[seg] = next;
      node = next;
    }
    // Structured values (arrays, objects) may be given as JSON; anything else stays a string for Value.Convert.
    const trimmed = raw.trim();
    let value: unknown = raw;
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        value = JSON.parse(trimmed);
      } catch {
        value = raw;
      }
    }
    node[path[path.length - 1] as string] = value;
  }
  return out;
}

function readFile(file: string): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WS_ERR_CONFIG_FILE(file, (err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new WS_ERR_CONFIG_FILE(file, (err as Error).message);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlain(parsed)) throw new WS_ERR_CONFIG_FILE(file, 'top level must be a mapping');
  return parsed;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/** Lists every schema violation as "field: message" lines; empty when valid. */
export function configProblems(schema: TSchema, value: unknown): string[] {
  return [...Value.Errors(schema, value)]
    // Errors on a `false` subschema for an unknown key repeat the additionalProperties error; keep the clearer one.
    .filter((e) => e.keyword !== 'boolean')
    .map((e) => {
      const field = e.instancePath === '' ? '(top level)' : e.instancePath.slice(1).replaceAll('/', '.');
      const extra = e.keyword === 'additionalProperties' ? `: ${JSON.stringify(e.params)}` : '';
      return `${field}: ${e.message}${extra}`;
    });
}

export function loadConfig<S extends TSchema>(schema: S, sources: ConfigSources = {}, crossCheck?: (value: Static<S>) => string[]): Readonly<Static<S>> {
  let value: Plain = sources.file ? readFile(sources.file) : {};
  if (sources.env && sources.envPrefix) value = merge(value, envOverrides(sources.env, sources.envPrefix));
  if (sources.flags) value = merge(value, sources.flags);
  // Value.Default fills in place and the result is frozen: work on a copy so callers' objects stay theirs.
  const withDefaults = Value.Default(schema, structuredClone(value));
  const converted = Value.Convert(schema, withDefaults);
  let problems = configProblems(schema, converted);
  if (problems.length === 0 && crossCheck) problems = crossCheck(converted as Static<S>);
  if (problems.length > 0) {
    const origin = sources.file ? ` (file ${sources.file}, env ${sources.envPrefix ?? '-'}*, flags)` : '';
    throw new WS_ERR_CONFIG_INVALID(problems.map((p) => `  - ${p}`).join('\n') + origin);
  }
  return deepFreeze(converted as Static<S>);
}
