// The kube-scheduler extender verbs: filter, prioritize and preempt, under a configurable prefix and verb names,
// answering in the same mode (NodeNames or full Nodes) the request used.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import sjson from 'secure-json-parse';
import { WS_ERR_BAD_REQUEST, WS_ERR_UNKNOWN_VERB } from '../../shared/errors.js';
import { ANNOTATIONS } from '../../shared/names.js';
import {
  ExtenderPreemptionArgsSchema,
  ExtenderPreemptionResultSchema,
  type ExtenderFilterResult,
  type MetaVictims,
} from '../../shared/wire/extender.js';
import { canonicalizePreemptionArgs } from '../protocol/go-keys.js';
import type { ArgsProblem, ArgsResult, ParsedArgs } from '../protocol/args.js';
import { OFFLOAD_BYTES, ParsePool } from '../protocol/parse-pool.js';
import { podCpuRequestMilli, podDemand, type PodDemand } from '../protocol/pod.js';
import type { NodeState } from '../nodes/state.js';
import { capViolations, evaluate, priorities, type Evaluation, type ScoreSubset } from '../decisions/evaluate.js';
import { budgetViolations, inBudget } from '../decisions/budgets.js';
import type { PowerBudget } from '../../shared/config/extender.js';
import type { Scoring } from '../plugins/scoring.js';
import type { ExtenderMetrics } from '../plugins/metrics.js';
import { installAdmission, TurnQueue, type AdmissionLimits } from '../serving/admission.js';

export interface WebhookOptions {
  urlPrefix: string;
  filterVerb: string;
  prioritizeVerb: string;
  preemptVerb: string;
  serving: AdmissionLimits & { retryAfterSeconds: number };
  powerBudgets: readonly PowerBudget[];
}

type Verb = 'filter' | 'prioritize' | 'preempt';

interface Candidates {
  mode: 'names' | 'full';
  names: string[];
  states: (NodeState | undefined)[];
  inventoryReady: boolean;
}

// DNS-1123 names, which every real node has, need no escaping; anything else goes through JSON.stringify.
const PLAIN_NAME = /^[a-z0-9.-]*$/;

const jsonName = (name: string): string => (PLAIN_NAME.test(name) ? `"${name}"` : JSON.stringify(name));

/**
 * `compute(names)` kept for the last names array: names mode hands the same array again while the candidate list
 * repeats (protocol/args.ts NamesCache), so quoting is done once per list, not per call.
 */
function perList<T>(compute: (names: readonly string[]) => T): (names: readonly string[]) => T {
  let forNames: readonly string[] | undefined;
  let value: T;
  return (names) => {
    if (names !== forNames) {
      value = compute(names);
      forNames = names;
    }
    return value;
  };
}

/**
 * `{"Host":<name>` for each name, as UTF-8 bytes one after another, and where each one ends. Encoded as one string:
 * with adaptive percentageOfNodesToScore every call brings a new window of names, and a buffer per name cost more
 * than the scoring.
 */
const hostHeads = perList((names) => {
  const ends = new Uint32Array(names.length);
  let text = '';
  for (let i = 0; i < names.length; i++) {
    text += `{"Host":${jsonName(names[i] as string)}`;
    ends[i] = text.length;
  }
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length !== text.length) {
    // A name outside ASCII: its characters and bytes differ, so the ends are counted in bytes head by head.
    let end = 0;
    for (let i = 0; i < names.length; i++) ends[i] = end += Buffer.byteLength(`{"Host":${jsonName(names[i] as string)}`, 'utf8');
  }
  return { bytes, ends };
});

const SCORE_TAIL_BYTES = Array.from({ length: 256 }, (_, score) => Buffer.from(`,"Score":${score}}`));

/**
 * HostPriorityList as JSON bytes, copied from the list's cached heads and the score tails: for 5,000 nodes, building
 * a string and having it flattened and encoded on write cost more than the scoring.
 */
function hostPriorityList(names: readonly string[], scores: Uint8Array): Buffer {
  const { bytes, ends } = hostHeads(names);
  const out = Buffer.allocUnsafe(2 + bytes.length + names.length * 14);
  let at = 0;
  out[at++] = 0x5b; // [
  let from = 0;
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ,
    const to = ends[i] as number;
    for (let k = from; k < to; k++) out[at++] = bytes[k] as number;
    from = to;
    const tail = SCORE_TAIL_BYTES[scores[i] as number] as Buffer;
    for (let k = 0; k < tail.length; k++) out[at++] = tail[k] as number;
  }
  out[at++] = 0x5d; // ]
  return out.subarray(0, at);
}

/** The names of the nodes `keep` selects, as a JSON array. */
function nodeNamesJson(names: readonly string[], keep: (i: number) => boolean): string {
  let out = '[';
  let first = true;
  for (let i = 0; i < names.length; i++) {
    if (!keep(i)) continue;
    out += first ? jsonName(names[i] as string) : `,${jsonName(names[i] as string)}`;
    first = false;
  }
  return `${out}]`;
}

const emptyFilterResult = (error: string): ExtenderFilterResult => ({ Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: error });

declare module 'fastify' {
  interface FastifyRequest {
    /** The body's bytes, kept for the full-mode filter, which echoes the surviving Node objects as they came in. */
    rawBody: Buffer | null;
  }
}

/** A refused body as the error Fastify's handler expects: a schema failure carries `validation` like Ajv's do. */
function problemError(p: ArgsProblem): Error {
  if (p.kind === 'validation') return Object.assign(new Error(p.message), { statusCode: 400, validation: p.validation, validationContext: 'body' });
  return new WS_ERR_BAD_REQUEST(p.message);
}

const encoder = new TextEncoder();

/**
 * The surviving Node objects of a full-mode body as one JSON array, from the bytes that came in: consecutive
 * survivors are copied as one slice, separators included, so usually the whole array is a single copy.
 */
function echoedItems(body: Buffer | null, args: ParsedArgs, keep: (i: number) => boolean): Buffer {
  const n = args.names.length;
  if (!args.itemBytes || !body) return Buffer.from(`[${(args.itemsJson ?? []).filter((_, i) => keep(i)).join(',')}]`);
  const spans = args.itemBytes;
  const parts: Uint8Array[] = [encoder.encode('[')];
  let run = -1;
  for (let i = 0; i <= n; i++) {
    if (i < n && keep(i)) {
      if (run < 0) run = i;
    } else if (run >= 0) {
      if (parts.length > 1) parts.push(encoder.encode(','));
      parts.push(body.subarray(spans[2 * run] as number, spans[2 * (i - 1) + 1] as number));
      run = -1;
    }
  }
  parts.push(encoder.encode(']'));
  return Buffer.concat(parts);
}

const webhooks: FastifyPluginAsyncTypebox<WebhookOptions> = async (app, opts) => {
  const scoring = app.getDecorator<Scoring>('scoring');
  const metrics = app.getDecorator<ExtenderMetrics>('extenderMetrics');
  const { inventory, scorer, explain, assumed } = scoring;
  const budgets = opts.powerBudgets;
  /** A node with a power cap of its own or in a power budget's group: only these can fail the filter. */
  const isConstrained = (s: NodeState | undefined): boolean =>
    s !== undefined && (s.annotations[ANNOTATIONS.powerCapWatts] !== undefined || budgets.some((b) => inBudget(b, s.labels)));
  /** The node with the CPU of pods assumed on it (other than `podUid`) added to what is bound there. */
  const withAssumed = (s: NodeState, podUid: string): NodeState => {
    const extra = assumed.onNode(s.name, podUid);
    return extra === 0 ? s : { ...s, requestedMilliCPU: s.requestedMilliCPU + extra };
  };

  // The gauge follows settlements too, not only filter calls.
  const unsubscribe = inventory.onPodSettled(() => metrics.assumedPods.set(assumed.size()));
  app.addHook('onClose', async () => unsubscribe());

  const candidates = (args: ParsedArgs): Candidates => {
    if (args.mode === 'names') return { mode: 'names', names: args.names, states: args.names.map((n) => inventory.get(n)), inventoryReady: inventory.ready() };
    const states = (args.nodes ?? []).map((s) => {
      // Bound pods are only known to a cluster watch; the Node object itself does not carry them.
      const requested = inventory.get(s.name)?.requestedMilliCPU ?? 0;
      return requested === 0 ? s : { ...s, requestedMilliCPU: requested };
    });
    return { mode: 'full', names: args.names, states, inventoryReady: true };
  };

  /** `subset` picks which known candidates to score. */
  const judge = async (verb: Verb, req: FastifyRequest, pod: PodDemand, c: Candidates, subset?: ScoreSubset): Promise<Evaluation> => {
    metrics.requestNodes.observe({ verb, mode: c.mode }, c.names.length);
    const ev = await evaluate(scorer, pod, c.names, c.states, c.inventoryReady, subset);
    if (ev.failOpen) {
      metrics.failOpen.inc({ reason: ev.failOpenKind ?? 'unknown' });
      req.log.warn({ verb, pod: `${ev.pod.namespace}/${ev.pod.name}`, reason: ev.failOpen }, 'failing open');
    }
    metrics.decisions.inc({ verb, outcome: ev.failOpen ? 'fail_open' : 'scored' });
    return ev;
  };

  installAdmission(app, opts.serving, {
    shed: (reason) => metrics.shed.inc({ reason }),
    changed: (inFlight, bufferedBytes) => {
      metrics.inFlight.set(inFlight);
      metrics.bufferedBytes.set(bufferedBytes);
    },
  });

  // Filter and prioritize bodies become ParsedArgs (protocol/args.ts): large ones in the parse pool, off the main
  // event loop; small ones here, each waiting its turn in the queue (parsing starts the request's synchronous work,
  // scoring and the answer follow in the same turn), so health probes arriving meanwhile are answered between two
  // requests. Preempt bodies are parsed as plain JSON, with the same protection as Fastify's own parser
  // (prototype poisoning is refused), and checked by the route's schema.
  const turns = new TurnQueue();
  const pool = new ParsePool();
  app.addHook('onClose', async () => pool.close());
  app.decorateRequest('rawBody', null);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const buf = body as Buffer;
    const verb = (req.routeOptions.config as { verb?: string } | undefined)?.verb;
    if (verb === 'filter' || verb === 'prioritize') {
      const echo = verb === 'filter';
      const settle = (p: Promise<ArgsResult>) =>
        p.then(
          (r) => {
            if (!r.ok) return done(problemError(r.problem), undefined);
            if (echo && r.args.mode === 'full') req.rawBody = buf;
            done(null, r.args);
          },
          (err: Error) => done(err, undefined),
        );
      if (buf.length >= OFFLOAD_BYTES) void settle(pool.parse(buf, echo, echo));
      else turns.push(() => void settle(pool.parse(buf, echo, echo)));
      return;
    }
    turns.push(() => {
      try {
        done(null, sjson.parse(buf.toString('utf8'), { protoAction: 'error', constructorAction: 'error' }));
      } catch (err) {
        done(new WS_ERR_BAD_REQUEST(`body is not valid JSON: ${(err as Error).message}`), undefined);
      }
    });
  });

  // Go's decoder accepts any letter case for the extender's own fields; normalise before the schema sees them.
  const canonical = (fix: (b: unknown) => unknown) => async (req: FastifyRequest) => {
    req.body = fix(req.body);
  };

  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const overloaded = err.code === 'WS_ERR_OVERLOADED';
    const status = overloaded ? 503 : err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    // Shed before (or while) its body arrived: closing the connection spares reading the rest of it.
    if (overloaded) reply.header('retry-after', String(opts.serving.retryAfterSeconds)).header('connection', 'close');
    const kind = err.validation ? 'validation' : (err.code ?? 'internal');
    metrics.errors.inc({ kind });
    if (status >= 500 && !overloaded) req.log.error({ err }, 'extender request failed');
    else req.log.info({ kind, reason: err.message }, 'rejected extender request');
    const reason = err.validation ? `invalid ${(req.routeOptions.config as { verb?: string }).verb ?? 'extender'} request: ${err.message}` : err.message;
    const verb = (req.routeOptions.config as { verb?: Verb } | undefined)?.verb;
    // Filter answers always carry the ExtenderFilterResult shape so kube-scheduler can log its Error field.
    if (verb === 'filter') return reply.code(status).send(emptyFilterResult(`${err.code ?? 'WS_ERR_INTERNAL'}: ${reason}`));
    return reply.code(status).send({ code: err.code ?? 'WS_ERR_INTERNAL', error: reason });
  });

  app.addHook('onResponse', async (req, reply) => {
    const verb = (req.routeOptions.config as { verb?: string } | undefined)?.verb ?? 'unknown';
    metrics.requestDuration.observe({ verb, code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  const prefix = opts.urlPrefix;

  app.post(
    `${prefix}/${opts.filterVerb}`,
    { config: { verb: 'filter' } },
    async (req, reply) => {
      const args = req.body as ParsedArgs;
      const pod = podDemand(args.pod);
      const podUid = pod.uid;
      // Only a node with a power cap or in a budget's group can fail this filter, so only those are scored;
      // prioritize scores the rest. They are judged with everything bound there plus the pods this filter recently
      // let onto them, and the pod is then assumed on each of them it passed. Usually no candidate has a cap, and
      // the answer is then the candidate list as it came.
      const raw = candidates(args);
      const constrained = raw.states.map(isConstrained);
      const anyConstrained = constrained.includes(true);
      const c = anyConstrained ? { ...raw, states: raw.states.map((s, i) => (s && constrained[i] ? withAssumed(s, podUid) : s)) } : raw;
      const ev = await judge('filter', req, pod, c, { select: (i) => constrained[i] === true, leftOutBasis: 'not scored here: no power cap or budget to check' });
      const failed = anyConstrained ? capViolations(ev, c.states) : new Map<number, string>();
      if (budgets.length > 0) {
        const members = (b: PowerBudget) => inventory.list().filter((s) => inBudget(b, s.labels)).map((s) => withAssumed(s, podUid));
        for (const [i, why] of await budgetViolations(scorer, budgets, ev, c.states, members)) if (!failed.has(i)) failed.set(i, why);
      }
      explain.recordFilter(ev, failed);
      if (!ev.failOpen) {
        const passedConstrained = anyConstrained ? c.names.filter((_, i) => constrained[i] && !failed.has(i) && !Number.isNaN(ev.powerWithPodWatts[i] as number)) : [];
        assumed.assume(ev.pod.uid, ev.pod.cpuMilli, passedConstrained);
        metrics.assumedPods.set(assumed.size());
      }
      const FailedNodes: Record<string, string> = {};
      for (const [i, why] of failed) FailedNodes[c.names[i] as string] = why;
      const keep = (i: number): boolean => !failed.has(i);
      // Both modes answer pre-serialised (Fastify sends a JSON-typed string or a Buffer as it is, skipping the schema
      // serializer): survivors' names, or the survivors' Node objects as the bytes that came in.
      const tail = `,"FailedNodes":${JSON.stringify(FailedNodes)},"FailedAndUnresolvableNodes":{},"Error":""}`;
      reply.type('application/json; charset=utf-8');
      if (c.mode === 'full') {
        const items = echoedItems(req.rawBody, args, keep);
        req.rawBody = null;
        return reply.send(Buffer.concat([encoder.encode('{"Nodes":{"items":'), items, encoder.encode(`},"NodeNames":null${tail}`)]));
      }
      const survivors = failed.size === 0 && args.namesJson !== undefined ? args.namesJson : nodeNamesJson(c.names, keep);
      return reply.send(`{"Nodes":null,"NodeNames":${survivors}${tail}` as never);
    },
  );

  app.post(
    `${prefix}/${opts.prioritizeVerb}`,
    { config: { verb: 'prioritize' } },
    async (req, reply) => {
      const args = req.body as ParsedArgs;
      const c = candidates(args);
      const ev = await judge('prioritize', req, podDemand(args.pod), c);
      const scores = priorities(ev);
      explain.recordPrioritize(ev, scores);
      reply.type('application/json; charset=utf-8');
      // Sent pre-serialised (Fastify passes a Buffer through): for 5,000 nodes this beats building 5,000 objects
      // for a schema serializer. HostPriorityListSchema is the shape; the tests hold it to that.
      return reply.send(hostPriorityList(c.names, scores));
    },
  );

  app.post(
    `${prefix}/${opts.preemptVerb}`,
    { schema: { body: ExtenderPreemptionArgsSchema, response: { 200: ExtenderPreemptionResultSchema } }, preValidation: canonical(canonicalizePreemptionArgs), config: { verb: 'preempt' } },
    async (req) => {
      const args = req.body;
      const pod = podDemand(args.Pod);
      const out: Record<string, MetaVictims> = {};
      const checkable: { node: string; state: NodeState }[] = [];
      // The node as the cap sees it after the evictions: bound pods, plus pods assumed there, minus the victims.
      const consider = (node: string, freedMilli: number): void => {
        const base = inventory.get(node);
        if (!base) return;
        const load = base.requestedMilliCPU + assumed.onNode(node, pod.uid) - freedMilli;
        checkable.push({ node, state: { ...base, requestedMilliCPU: Math.max(0, load) } });
      };
      // Names mode: victims are UIDs, and their requests come from the cluster watch. A victim the inventory does
      // not know bound to that node frees nothing here, so a doubtful node is dropped rather than kept.
      for (const [node, v] of Object.entries(args.NodeNameToMetaVictims ?? {})) {
        out[node] = v;
        const freed = (v.Pods ?? []).reduce((sum, p) => {
          const b = inventory.boundPod(p.UID);
          return sum + (b?.node === node ? b.cpuMilli : 0);
        }, 0);
        consider(node, freed);
      }
      for (const [node, v] of Object.entries(args.NodeNameToVictims ?? {})) {
        out[node] = { Pods: (v.Pods ?? []).map((p) => ({ UID: p.metadata?.uid ?? '' })), NumPDBViolations: v.NumPDBViolations };
        consider(node, (v.Pods ?? []).reduce((sum, p) => sum + podCpuRequestMilli(p), 0));
      }
      // A node that would still break its power cap, or its group's budget, after the evictions is no place to
      // preempt on. The budget's members are at their current load, so the candidate's share is swapped from its
      // current power to its power after the evictions with the preemptor.
      if (checkable.length > 0) {
        const states = checkable.map((c) => c.state);
        const ev = await evaluate(scorer, pod, checkable.map((c) => c.node), states, inventory.ready());
        const failed = capViolations(ev, states);
        if (budgets.length > 0) {
          const members = (b: PowerBudget) => inventory.list().filter((s) => inBudget(b, s.labels)).map((s) => withAssumed(s, pod.uid));
          for (const [i, why] of await budgetViolations(scorer, budgets, ev, states, members)) if (!failed.has(i)) failed.set(i, why);
        }
        for (const [i, why] of failed) {
          const node = (checkable[i] as { node: string }).node;
          req.log.info({ node, reason: why }, 'preemption candidate dropped');
          delete out[node];
        }
      }
      metrics.decisions.inc({ verb: 'preempt', outcome: 'scored' });
      return { NodeNameToMetaVictims: out };
    },
  );

  app.post(`${prefix}/*`, { config: { verb: 'unknown' } }, async (req) => {
    const served = [opts.filterVerb, opts.prioritizeVerb, opts.preemptVerb].map((v) => `${prefix}/${v}`).join(', ');
    throw new WS_ERR_UNKNOWN_VERB(req.url, served);
  });
};

export default webhooks;
