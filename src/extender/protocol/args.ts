// Turns a filter or prioritize body into what the extender needs from it: the Pod, the candidate names and, for
// full Node objects, each node's NodeState fields and where its bytes sit in the body (so a filter answer can echo
// the survivors exactly as sent). Pure and self-contained, so it runs unchanged on the main thread for small bodies
// and in the parse pool (parse-pool.ts) for large ones: a multi-megabyte full-object body is then parsed, checked
// and dropped in a worker, and the main event loop only receives this projection, a few bytes per node.
import sjson from 'secure-json-parse';
import { Compile } from 'typebox/compile';
import { ExtenderArgsSchema, type Pod } from '../../shared/wire/extender.js';
import { nodeStateFromNode, type NodeState } from '../nodes/state.js';
import { canonicalizeExtenderArgs } from './go-keys.js';
import { nodeItemSpans } from './raw-items.js';

export interface ParsedArgs {
  readonly mode: 'names' | 'full';
  readonly pod: Pod;
  readonly names: string[];
  /**
   * Names mode: `names` as a JSON array (the body's own text when the fast path read it), which the filter answers
   * with when every candidate passes.
   */
  readonly namesJson?: string;
  /** Full mode: each Node as scoring sees it (nothing requested: the Node object does not carry bound pods). */
  readonly nodes?: NodeState[];
  /**
   * Full mode, when asked for (the filter echoes survivors): [start, end) byte offsets of each Nodes.items element
   * in the body, two entries per node; or, when the raw text could not be matched up, each element re-serialised.
   */
  readonly itemBytes?: Uint32Array;
  readonly itemsJson?: string[];
}

/** Why a body was refused; plain data, so it crosses a thread boundary as it is. */
export interface ArgsProblem {
  readonly kind: 'json' | 'validation' | 'bad_request';
  readonly message: string;
  /** The schema errors (kind validation), shaped like Ajv's so Fastify's error handling treats them alike. */
  readonly validation?: readonly { readonly instancePath: string; readonly message: string; readonly keyword: string }[];
}

export type ArgsResult = { readonly ok: true; readonly args: ParsedArgs } | { readonly ok: false; readonly problem: ArgsProblem };

const checkArgs = Compile(ExtenderArgsSchema);

/** [start, end) character offsets to byte offsets in the UTF-8 encoding of `text` (one pass, only if not ASCII). */
function byteSpans(text: string, byteLength: number, spans: readonly (readonly [number, number])[]): Uint32Array {
  const out = new Uint32Array(spans.length * 2);
  const ascii = byteLength === text.length;
  let chars = 0;
  let bytes = 0;
  const toBytes = (at: number): number => {
    if (ascii) return at;
    bytes += Buffer.byteLength(text.slice(chars, at));
    chars = at;
    return bytes;
  };
  spans.forEach(([a, b], i) => {
    out[2 * i] = toBytes(a);
    out[2 * i + 1] = toBytes(b);
  });
  return out;
}

/**
 * kube-scheduler (Go's json.Marshal of ExtenderArgs) writes NodeNames last and without spaces, so in names mode the
 * candidate list is the body's tail; and the same list comes again and again (filter, then prioritize, for one pod;
 * every pod while all nodes are feasible). The last list is kept with its parsed array, so a repeat costs a string
 * comparison instead of parsing and checking thousands of names, and its strings arrive already hashed for the
 * inventory lookups that follow. The rest of the body (the Pod) is kept the same way: prioritize follows filter with
 * the same Pod, which is then neither parsed nor checked again. One per thread that parses; the array and the Pod
 * are shared, so nobody may modify them.
 */
export class NamesCache {
  text = '';
  names: string[] = [];
  restText = '';
  pod: Pod | undefined;
}

const NAMES_TAIL = ',"NodeNames":[';
const NO_NAMES: string[] = [];

/**
 * The fast path for a body that ends in `,"NodeNames":[…]}`: the rest is parsed and checked as usual and the names
 * come from the cache or from parsing the tail alone. Undefined whenever anything is unusual (the full parse then
 * decides, with its own error messages). Where the rest parses, the whole body is valid JSON with NodeNames as a
 * top-level key written last, and Go and canonicalizeKeys both let the last key win, so the answer is the same.
 */
function namesFastPath(text: string, cache: NamesCache): ArgsResult | undefined {
  if (!text.endsWith(']}')) return undefined;
  const k = text.lastIndexOf(NAMES_TAIL);
  if (k < 0) return undefined;
  const namesText = text.slice(k + NAMES_TAIL.length - 1, text.length - 1);
  let names: string[];
  if (namesText === cache.text) names = cache.names;
  else {
    try {
      const parsed: unknown = JSON.parse(namesText);
      if (!Array.isArray(parsed) || !parsed.every((n) => typeof n === 'string')) return undefined;
      names = parsed as string[];
    } catch {
      return undefined;
    }
    cache.text = namesText;
    cache.names = names;
  }
  const restText = text.slice(0, k);
  if (restText !== cache.restText || cache.pod === undefined) {
    let rest: unknown;
    try {
      rest = sjson.parse(`${restText}}`, { protoAction: 'error', constructorAction: 'error' });
    } catch {
      return undefined;
    }
    const value = canonicalizeExtenderArgs(rest) as Record<string, unknown>;
    value.NodeNames = NO_NAMES;
    if (!checkArgs.Check(value)) return undefined;
    cache.restText = restText;
    cache.pod = value.Pod as Pod;
  }
  return { ok: true, args: { mode: 'names', pod: cache.pod, names, namesJson: namesText } };
}

/**
 * Parses (refusing prototype poisoning, as Fastify's own parser does), applies Go's case-insensitive field names,
 * checks the schema and projects. `echo` asks for where each Node's bytes are (only the full-mode filter needs it);
 * `names` keeps the last candidate list between calls (see NamesCache).
 */
export function parseExtenderArgs(body: Buffer, echo: boolean, names?: NamesCache): ArgsResult {
  const text = body.toString('utf8');
  const fast = names ? namesFastPath(text, names) : undefined;
  if (fast) return fast;
  let raw: unknown;
  try {
    raw = sjson.parse(text, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    return { ok: false, problem: { kind: 'json', message: `body is not valid JSON: ${(err as Error).message}` } };
  }
  const value = canonicalizeExtenderArgs(raw);
  if (!checkArgs.Check(value)) {
    const first = checkArgs.Errors(value)[0];
    const validation = first ? [{ instancePath: first.instancePath, message: first.message, keyword: first.keyword }] : [];
    // Fastify's wording for a schema failure: "body<instancePath> <message>".
    return { ok: false, problem: { kind: 'validation', message: validation.map((e) => `body${e.instancePath} ${e.message}`).join(', '), validation } };
  }
  const args = value;
  if (args.NodeNames !== undefined && args.NodeNames !== null) return { ok: true, args: { mode: 'names', pod: args.Pod, names: args.NodeNames, namesJson: JSON.stringify(args.NodeNames) } };
  if (args.Nodes === undefined || args.Nodes === null) {
    return { ok: false, problem: { kind: 'bad_request', message: 'ExtenderArgs needs NodeNames (nodeCacheCapable: true) or Nodes (nodeCacheCapable: false)' } };
  }
  const items = args.Nodes.items ?? [];
  const nodes: NodeState[] = [];
  for (let i = 0; i < items.length; i++) {
    const s = nodeStateFromNode(items[i]!, 0);
    if (!s) return { ok: false, problem: { kind: 'bad_request', message: `Nodes.items[${i}] has no metadata.name` } };
    nodes.push(s);
  }
  const parsed: ParsedArgs = { mode: 'full', pod: args.Pod, names: nodes.map((s) => s.name), nodes };
  if (!echo) return { ok: true, args: parsed };
  const spans = nodeItemSpans(text);
  if (spans && spans.length === items.length) return { ok: true, args: { ...parsed, itemBytes: byteSpans(text, body.length, spans) } };
  return { ok: true, args: { ...parsed, itemsJson: items.map((n) => JSON.stringify(n)) } };
}
