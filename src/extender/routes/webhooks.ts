// The kube-scheduler extender verbs: filter, prioritize and preempt, under a configurable prefix and verb names,
// answering in the same mode (NodeNames or full Nodes) the request used.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { WS_ERR_BAD_REQUEST, WS_ERR_UNKNOWN_VERB } from '../../shared/errors.js';
import {
  ExtenderArgsSchema,
  ExtenderFilterResultSchema,
  ExtenderPreemptionArgsSchema,
  ExtenderPreemptionResultSchema,
  HostPriorityListSchema,
  type ExtenderArgs,
  type ExtenderFilterResult,
  type HostPriorityList,
  type MetaVictims,
  type Node,
} from '../../shared/wire/extender.js';
import { canonicalizeExtenderArgs, canonicalizePreemptionArgs } from '../protocol/go-keys.js';
import { podCpuRequestMilli, podDemand } from '../protocol/pod.js';
import { nodeStateFromNode, type NodeState } from '../nodes/state.js';
import { capViolations, evaluate, priorities, type Evaluation } from '../decisions/evaluate.js';
import type { Scoring } from '../plugins/scoring.js';
import type { ExtenderMetrics } from '../plugins/metrics.js';

export interface WebhookOptions {
  urlPrefix: string;
  filterVerb: string;
  prioritizeVerb: string;
  preemptVerb: string;
}

type Verb = 'filter' | 'prioritize' | 'preempt';

interface Candidates {
  mode: 'names' | 'full';
  names: string[];
  states: (NodeState | undefined)[];
  items?: Node[];
  inventoryReady: boolean;
}

/** The filter result's shape, with the embedded Nodes left open so full Node objects are returned byte-for-byte. */
const FilterReplySchema = Type.Object({ ...ExtenderFilterResultSchema.properties, Nodes: Type.Unknown() });

const emptyFilterResult = (error: string): ExtenderFilterResult => ({ Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: error });

const webhooks: FastifyPluginAsyncTypebox<WebhookOptions> = async (app, opts) => {
  const scoring = app.getDecorator<Scoring>('scoring');
  const metrics = app.getDecorator<ExtenderMetrics>('extenderMetrics');
  const { inventory, scorer, explain } = scoring;

  const candidates = (args: ExtenderArgs): Candidates => {
    if (args.NodeNames !== undefined && args.NodeNames !== null) {
      const names = args.NodeNames;
      return { mode: 'names', names, states: names.map((n) => inventory.get(n)), inventoryReady: inventory.ready() };
    }
    if (args.Nodes !== undefined && args.Nodes !== null) {
      const items = args.Nodes.items ?? [];
      const states = items.map((n, i) => {
        const s = nodeStateFromNode(n, 0);
        if (!s) throw new WS_ERR_BAD_REQUEST(`Nodes.items[${i}] has no metadata.name`);
        // Bound pods are only known to a cluster watch; the Node object itself does not carry them.
        const requested = inventory.get(s.name)?.requestedMilliCPU ?? 0;
        return requested === 0 ? s : { ...s, requestedMilliCPU: requested };
      });
      return { mode: 'full', names: states.map((s) => s.name), states, items, inventoryReady: true };
    }
    throw new WS_ERR_BAD_REQUEST('ExtenderArgs needs NodeNames (nodeCacheCapable: true) or Nodes (nodeCacheCapable: false)');
  };

  const judge = async (verb: Verb, req: FastifyRequest, args: ExtenderArgs): Promise<{ c: Candidates; ev: Evaluation }> => {
    const c = candidates(args);
    metrics.requestNodes.observe({ verb, mode: c.mode }, c.names.length);
    const ev = await evaluate(scorer, podDemand(args.Pod), c.names, c.states, c.inventoryReady);
    if (ev.failOpen) {
      metrics.failOpen.inc({ reason: ev.failOpenKind ?? 'unknown' });
      req.log.warn({ verb, pod: `${ev.pod.namespace}/${ev.pod.name}`, reason: ev.failOpen }, 'failing open');
    }
    metrics.decisions.inc({ verb, outcome: ev.failOpen ? 'fail_open' : 'scored' });
    return { c, ev };
  };

  // Go's decoder accepts any letter case for the extender's own fields; normalise before the schema sees them.
  const canonical = (fix: (b: unknown) => unknown) => async (req: FastifyRequest) => {
    req.body = fix(req.body);
  };

  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const kind = err.validation ? 'validation' : (err.code ?? 'internal');
    metrics.errors.inc({ kind });
    if (status >= 500) req.log.error({ err }, 'extender request failed');
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
    { schema: { body: ExtenderArgsSchema, response: { 200: FilterReplySchema } }, preValidation: canonical(canonicalizeExtenderArgs), config: { verb: 'filter' } },
    async (req) => {
      const { c, ev } = await judge('filter', req, req.body);
      const failed = capViolations(ev, c.states);
      explain.recordFilter(ev, failed);
      const FailedNodes: Record<string, string> = {};
      for (const [i, why] of failed) FailedNodes[c.names[i] as string] = why;
      const keep = (_: unknown, i: number): boolean => !failed.has(i);
      return {
        Nodes: c.mode === 'full' ? { items: (c.items as Node[]).filter(keep) } : null,
        NodeNames: c.mode === 'names' ? c.names.filter(keep) : null,
        FailedNodes,
        FailedAndUnresolvableNodes: {},
        Error: '',
      };
    },
  );

  app.post(
    `${prefix}/${opts.prioritizeVerb}`,
    { schema: { body: ExtenderArgsSchema, response: { 200: HostPriorityListSchema } }, preValidation: canonical(canonicalizeExtenderArgs), config: { verb: 'prioritize' } },
    async (req): Promise<HostPriorityList> => {
      const { c, ev } = await judge('prioritize', req, req.body);
      const scores = priorities(ev);
      explain.recordPrioritize(ev, scores);
      return c.names.map((Host, i) => ({ Host, Score: scores[i] as number }));
    },
  );

  app.post(
    `${prefix}/${opts.preemptVerb}`,
    { schema: { body: ExtenderPreemptionArgsSchema, response: { 200: ExtenderPreemptionResultSchema } }, preValidation: canonical(canonicalizePreemptionArgs), config: { verb: 'preempt' } },
    async (req) => {
      const args = req.body;
      const out: Record<string, MetaVictims> = {};
      // Victims as UIDs only (nodeCacheCapable) carry no requests, so those nodes go back unchanged.
      for (const [node, v] of Object.entries(args.NodeNameToMetaVictims ?? {})) out[node] = v;
      const checkable: { node: string; state: NodeState }[] = [];
      for (const [node, v] of Object.entries(args.NodeNameToVictims ?? {})) {
        out[node] = { Pods: (v.Pods ?? []).map((p) => ({ UID: p.metadata?.uid ?? '' })), NumPDBViolations: v.NumPDBViolations };
        const base = inventory.get(node);
        if (!base) continue;
        const freed = (v.Pods ?? []).reduce((sum, p) => sum + podCpuRequestMilli(p), 0);
        checkable.push({ node, state: { ...base, requestedMilliCPU: Math.max(0, base.requestedMilliCPU - freed) } });
      }
      // A node that would still break its power cap after the evictions is no place to preempt on.
      if (checkable.length > 0) {
        const states = checkable.map((c) => c.state);
        const ev = await evaluate(scorer, podDemand(args.Pod), checkable.map((c) => c.node), states, inventory.ready());
        for (const [i, why] of capViolations(ev, states)) {
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
