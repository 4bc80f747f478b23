// Filter/prioritize bodies are projected to ParsedArgs (protocol/args.ts), inline when small and in the parse pool's
// worker threads when large; both must give the same projection, the worker must receive the body's bytes by
// transfer (not a copy), and the byte offsets it reports must cut the Node objects out exactly as sent, also when
// the body holds multi-byte UTF-8.
import { afterAll, describe, expect, test } from 'vitest';
import { NamesCache, parseExtenderArgs } from '../../src/extender/protocol/args.js';
import { OFFLOAD_BYTES, ParsePool } from '../../src/extender/protocol/parse-pool.js';
import { extenderArgs, realisticNode, realisticPod } from '../../bench/extender/fixtures.js';

const pool = new ParsePool({ threads: 1, idleTimeoutMs: 200 });
afterAll(() => pool.close());

// 200 realistic nodes, about 1.2 MB: past the offload threshold. One node's name and labels carry non-ASCII text.
const nodes = Array.from({ length: 200 }, (_, i) => realisticNode(i, i === 7 ? { instanceType: 'größe-ü/日本' } : {}));
const fullBody = (): Buffer => Buffer.from(JSON.stringify(extenderArgs('full', nodes, realisticPod())));

describe('parse pool', () => {
  test('a large body is parsed in a worker to the same projection as inline, its bytes transferred', async () => {
    const body = fullBody();
    expect(body.length).toBeGreaterThan(OFFLOAD_BYTES);
    const inline = parseExtenderArgs(Buffer.from(body), true);
    const viaWorker = await pool.parse(body, true, true);
    expect(viaWorker).toEqual(inline);
    expect(body.length).toBeGreaterThan(0); // keepBody: the caller's bytes stay usable

    const moved = fullBody();
    const prioritize = await pool.parse(moved, false, false);
    expect(prioritize.ok && prioritize.args.names).toEqual(nodes.map((n) => n.metadata!.name));
    // Transferred, not copied: the sender's ArrayBuffer is detached.
    expect(moved.buffer.byteLength).toBe(0);
  });

  test('item byte offsets cut each Node out exactly as sent, multi-byte UTF-8 included', async () => {
    const body = fullBody();
    const r = await pool.parse(body, true, true);
    if (!r.ok || !r.args.itemBytes) throw new Error(`expected item offsets, got ${JSON.stringify(r).slice(0, 200)}`);
    const spans = r.args.itemBytes;
    expect(spans.length).toBe(2 * nodes.length);
    nodes.forEach((n, i) => expect(body.subarray(spans[2 * i], spans[2 * i + 1]).toString('utf8')).toBe(JSON.stringify(n)));
    expect(r.args.nodes![7]!.labels['node.kubernetes.io/instance-type']).toBe('größe-ü/日本');
  });

  test('bad large bodies come back as problems, not crashes', async () => {
    const broken = fullBody().subarray(0, OFFLOAD_BYTES + 10);
    const json = await pool.parse(Buffer.from(broken), false, false);
    expect(json).toMatchObject({ ok: false, problem: { kind: 'json' } });

    const wrong = Buffer.from(JSON.stringify({ Pod: {}, Nodes: { items: nodes.map((n, i) => (i === 150 ? { ...n, metadata: { ...n.metadata, name: 5 } } : n)) } }));
    const invalid = await pool.parse(wrong, false, false);
    expect(invalid).toMatchObject({ ok: false, problem: { kind: 'validation', message: 'body/Nodes/items/150/metadata/name must be string' } });

    const nameless = Buffer.from(JSON.stringify({ Pod: {}, Nodes: { items: nodes.map((n, i) => (i === 3 ? { ...n, metadata: { labels: {} } } : n)) } }));
    expect(await pool.parse(nameless, false, false)).toMatchObject({ ok: false, problem: { kind: 'bad_request', message: 'Nodes.items[3] has no metadata.name' } });
  });

  test('idle threads exit, so a burst leaves no worker heap behind', async () => {
    await pool.parse(fullBody(), false, false);
    expect(pool.threads).toBeGreaterThan(0);
    const deadline = Date.now() + 10_000;
    while (pool.threads > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pool.threads).toBe(0);
  });
});

describe('parseExtenderArgs', () => {
  test('names mode keeps the names; Go-cased keys are accepted; NodeNames wins over Nodes as in candidates()', () => {
    const r = parseExtenderArgs(Buffer.from(JSON.stringify({ pod: realisticPod(), nodenames: ['a', 'b'], Nodes: { items: [] } })), true);
    expect(r).toMatchObject({ ok: true, args: { mode: 'names', names: ['a', 'b'] } });
  });

  test('Nodes.items null is an empty full-mode request', () => {
    expect(parseExtenderArgs(Buffer.from('{"Pod":{},"Nodes":{"items":null}}'), true)).toMatchObject({ ok: true, args: { mode: 'full', names: [], nodes: [] } });
  });

  test('prototype poisoning is refused like Fastify refuses it', () => {
    expect(parseExtenderArgs(Buffer.from('{"Pod":{"__proto__":{"x":1}},"NodeNames":[]}'), false)).toMatchObject({ ok: false, problem: { kind: 'json' } });
  });

  test('a duplicated Nodes key: the later one wins, as in Go, and its items are found in the text', () => {
    const text = `{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"x"}}]},"nodes":{"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}}`;
    // Go (and canonicalizeKeys) let the later key win; the text scanner matches the last case-insensitive Nodes too,
    // so both agree here and the offsets are used.
    const r = parseExtenderArgs(Buffer.from(text), true);
    if (!r.ok) throw new Error(r.problem.message);
    expect(r.args.names).toEqual(['a', 'b']);
    expect(r.args.itemBytes).toBeDefined();
  });
});

describe('names-mode fast path (the candidate list is the body\'s tail and repeats)', () => {
  const names = Array.from({ length: 300 }, (_, i) => `node-${i}`);
  const body = (list: unknown, pod: unknown = realisticPod()) => Buffer.from(JSON.stringify({ Pod: pod, Nodes: null, NodeNames: list }));

  test('gives what the full parse gives, and a repeated list is the same array, not parsed again', () => {
    const cache = new NamesCache();
    const first = parseExtenderArgs(body(names), false, cache);
    expect(first).toEqual(parseExtenderArgs(body(names), false));
    const second = parseExtenderArgs(body(names), false, cache);
    if (!first.ok || !second.ok) throw new Error('expected both to parse');
    expect(second.args.names).toBe(first.args.names);
    const other = parseExtenderArgs(body(names.slice(1)), false, cache);
    expect(other.ok && other.args.names).toEqual(names.slice(1));
  });

  test('a repeated Pod (prioritize after filter) is the same object, not parsed again; a different one is parsed', () => {
    const cache = new NamesCache();
    const pod = realisticPod();
    const first = parseExtenderArgs(body(names, pod), true, cache);
    const second = parseExtenderArgs(body(names.slice(2), pod), false, cache);
    const other = { ...pod, metadata: { ...pod.metadata, name: 'another' } };
    const third = parseExtenderArgs(body(names, other), false, cache);
    if (!first.ok || !second.ok || !third.ok) throw new Error('expected all three to parse');
    expect(second.args.pod).toBe(first.args.pod);
    expect(second.args.names).toEqual(names.slice(2));
    expect(third.args.pod).toEqual(JSON.parse(JSON.stringify(other)));
  });

  test('the list comes with its JSON text, the same array whichever path parsed it', () => {
    const fast = parseExtenderArgs(body(names), false, new NamesCache());
    const spaced = parseExtenderArgs(Buffer.from(JSON.stringify({ Pod: realisticPod(), Nodes: null, NodeNames: names }, null, 1)), false, new NamesCache());
    if (!fast.ok || !spaced.ok) throw new Error('expected both to parse');
    expect(JSON.parse(fast.args.namesJson as string)).toEqual(names);
    expect(JSON.parse(spaced.args.namesJson as string)).toEqual(names);
  });

  test('text inside the Pod cannot pose as the candidate list (its quotes are escaped)', () => {
    const pod = { ...realisticPod(), metadata: { name: 'p', annotations: { x: ',"NodeNames":["evil"]}' } } };
    const r = parseExtenderArgs(body(['a'], pod), false, new NamesCache());
    expect(r).toMatchObject({ ok: true, args: { names: ['a'] } });
  });

  test('anything unusual falls back to the full parse and its exact errors', () => {
    const cache = new NamesCache();
    expect(parseExtenderArgs(body(['a', 5]), false, cache)).toEqual(parseExtenderArgs(body(['a', 5]), false));
    expect(parseExtenderArgs(body(['a', 5]), false, cache)).toMatchObject({ ok: false, problem: { kind: 'validation' } });
    const broken = Buffer.from('{"Pod":{"metadata":},"NodeNames":["a"]}');
    expect(parseExtenderArgs(broken, false, cache)).toEqual(parseExtenderArgs(broken, false));
    expect(parseExtenderArgs(Buffer.from('{"Pod":3,"NodeNames":["a"]}'), false, cache)).toMatchObject({ ok: false, problem: { message: 'body/Pod must be object' } });
  });
});
