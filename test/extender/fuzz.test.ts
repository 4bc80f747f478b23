// Thousands of random and mutated kube-scheduler bodies: the extender answers each with a 2xx or a 4xx and a
// reason, never a 5xx, and its heap does not grow with the number of requests.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { extenderArgs, realisticNode, realisticPod } from '../../bench/extender/fixtures.js';
import { ANNOTATIONS } from '../../src/shared/names.js';
import { makeApp, post } from './helpers.js';

const VERBS = ['/filter', '/prioritize', '/preempt'] as const;

let app: FastifyInstance;
beforeAll(async () => {
  app = await makeApp({ nodes: [{ name: 'node-00000', allocatableMilliCPU: 16000 }, { name: 'node-00001', allocatableMilliCPU: 1 }] });
});
afterAll(async () => {
  await app.close();
});

const valid = [
  extenderArgs('full', [realisticNode(0, { annotations: { [ANNOTATIONS.powerCapWatts]: '300' } }), realisticNode(1)]),
  extenderArgs('names', [realisticNode(0), realisticNode(1)]),
  { Pod: realisticPod(), NodeNameToMetaVictims: { 'node-00000': { Pods: [{ UID: 'a' }], NumPDBViolations: 0 } } },
  { Pod: realisticPod(), NodeNameToVictims: { 'node-00000': { Pods: [realisticPod('v')], NumPDBViolations: 1 } } },
];

type Path = (string | number)[];
function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (typeof v === 'object' && v !== null) for (const [k, c] of Object.entries(v)) paths(c, [...at, Array.isArray(v) ? Number(k) : k], out);
  return out;
}
function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

const weird = fc.oneof(
  fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string(), fc.constant('-1'), fc.constant('1e309'),
  fc.constant('__proto__'), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), fc.constant(Number.MAX_SAFE_INTEGER),
);

const mutated = fc.integer({ min: 0, max: valid.length - 1 }).chain((i) => {
  const base = valid[i];
  const ps = paths(base);
  return fc.tuple(fc.constant(base), fc.array(fc.tuple(fc.constantFrom(...ps), weird), { minLength: 1, maxLength: 4 }));
}).map(([base, edits]) => edits.reduce<unknown>((acc, [p, v]) => {
  try {
    return setAt(acc, p, v);
  } catch {
    return acc;
  }
}, base));

async function check(verb: string, body: string): Promise<void> {
  const res = await post(app, verb, body);
  expect(res.statusCode, `${verb} ${body.slice(0, 300)} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
  if (res.statusCode >= 400) expect(res.body).toMatch(/"(Error|error)":"[^"]+/);
}

describe('fuzzing the webhooks', () => {
  test('mutated valid bodies', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...VERBS), mutated, async (verb, body) => check(verb, JSON.stringify(body) ?? 'null')), { numRuns: 2500 });
  });

  test('random JSON and random bytes', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...VERBS), fc.oneof(fc.json(), fc.string()), async (verb, text) => check(verb, text)), { numRuns: 1500 });
  });

  test('case-folded keys at random', async () => {
    const fold = (s: string, bits: number[]) => [...s].map((ch, i) => ((bits[i % bits.length] ?? 0) ? ch.toUpperCase() : ch.toLowerCase())).join('');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 9 }), async (bits) => {
        const res = await post(app, '/prioritize', { [fold('Pod', bits)]: realisticPod(), [fold('NodeNames', bits)]: ['node-00000'] });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual([{ Host: 'node-00000', Score: 10 }]);
      }),
      { numRuns: 300 },
    );
  });

  test('no heap growth across many requests', async () => {
    expect(global.gc, 'vitest.config.ts runs workers with --expose-gc').toBeTypeOf('function');
    const gc = global.gc as () => void;
    const body = JSON.stringify(valid[0]);
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) await post(app, i % 2 ? '/filter' : '/prioritize', i % 7 === 0 ? '{"Pod":' : body);
    };
    await run(500); // warm-up: JIT, caches, metric label sets
    gc();
    const before = process.memoryUsage().heapUsed;
    await run(3000);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // One explain entry per pod name is kept, so steady state is flat after a full collection.
    expect(grown).toBeLessThan(20 * 1024 * 1024);
  });
});
