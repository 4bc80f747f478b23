// Configuration of `wattsched extender`. Field names mirror what a user writes in KubeSchedulerConfiguration where
// the two meet (urlPrefix, filterVerb, prioritizeVerb, preemptVerb).
import Type, { type Static } from 'typebox';
import { DEFAULT_PORTS } from '../names.js';
import { ServerTimeoutsSchema } from '../http-limits.js';
import { ServerTlsSchema } from '../server-tls.js';
import { PowerCurveSchema } from './power-curve.js';

export const StaticNodeSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    labels: Type.Record(Type.String(), Type.String(), { default: {} }),
    annotations: Type.Record(Type.String(), Type.String(), { default: {} }),
    /** Allocatable CPU in millicores. */
    allocatableMilliCPU: Type.Integer({ minimum: 1 }),
    /** CPU already requested by pods on the node, millicores; used only when no cluster watch is available. */
    requestedMilliCPU: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
);

export const ExtenderConfigSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORTS.extender }),
    host: Type.String({ default: '0.0.0.0' }),
    logLevel: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')], {
      default: 'info',
    }),
    /** Fits a 5,000-node full-object ExtenderArgs (~26 MB) with room to spare. */
    bodyLimitBytes: Type.Integer({ minimum: 1024, default: 64 * 1024 * 1024 }),
    /** Path prefix before the verbs, e.g. "/wattsched" when urlPrefix is http://host:8888/wattsched. */
    urlPrefix: Type.String({ default: '', pattern: '^(/[A-Za-z0-9._~-]+)*$' }),
    filterVerb: Type.String({ default: 'filter', pattern: '^[A-Za-z0-9._~-]+$' }),
    prioritizeVerb: Type.String({ default: 'prioritize', pattern: '^[A-Za-z0-9._~-]+$' }),
    preemptVerb: Type.String({ default: 'preempt', pattern: '^[A-Za-z0-9._~-]+$' }),
    /** With clientCAFile, clients must present a certificate signed by that CA (mTLS). */
    tls: ServerTlsSchema,
    powerCurves: Type.Object(
      {
        /** Node label whose value selects a curve from `byLabelValue`. */
        nodeLabel: Type.String({ default: 'node.kubernetes.io/instance-type' }),
        byLabelValue: Type.Record(Type.String(), PowerCurveSchema, { default: {} }),
        /** Used for nodes with neither an annotation nor a labelled curve; embedded default when unset. */
        default: Type.Optional(PowerCurveSchema),
        /** off: the cluster switches empty nodes off (cluster-autoscaler scale-down), so waking one costs its idle power. */
        emptyNodes: Type.Union([Type.Literal('idle'), Type.Literal('off')], { default: 'idle' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Static node inventory, used in names mode when no cluster watch is available. */
    nodes: Type.Array(StaticNodeSchema, { default: [] }),
    kubernetes: Type.Object(
      {
        /** auto: watch the cluster when a kubeconfig or in-cluster config exists; off: never; required: fail without. */
        mode: Type.Union([Type.Literal('auto'), Type.Literal('off'), Type.Literal('required')], { default: 'auto' }),
        kubeconfig: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Timeouts and load shedding; see docs/extender.md "Serving under pressure". */
    serving: Type.Object(
      {
        ...ServerTimeoutsSchema.properties,
        /** Webhook requests admitted at once (receiving, queued or being answered); kube-scheduler sends one at a time. */
        maxConcurrentRequests: Type.Integer({ minimum: 1, default: 8 }),
        /** Request body bytes all admitted webhook requests may hold together; two bodies at the default bodyLimitBytes. */
        maxBufferedBytes: Type.Integer({ minimum: 1024, default: 128 * 1024 * 1024 }),
        /** Retry-After on a 503 (kube-scheduler does not read it; other clients may). */
        retryAfterSeconds: Type.Integer({ minimum: 1, default: 1 }),
        /**
         * Port of the health thread's /healthz and /readyz (plain HTTP), which kubelet probes: answered without
         * waiting for the main event loop. 0 (the default) picks a free port, logged at start, so extenders started
         * side by side (tests, benchmarks) never collide; the chart sets DEFAULT_PORTS.extenderHealth (8889) for its
         * probes. See docs/extender.md.
         */
        healthPort: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
        /**
         * The main event loop not having turned for longer than this makes /healthz and /readyz answer 503. 5 s is
         * kube-scheduler's default extender httpTimeout: a loop stalled that long cannot answer a webhook in time.
         */
        maxLoopLagMs: Type.Integer({ minimum: 200, default: 5_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    powerCaps: Type.Object(
      {
        /**
         * How long a pod the filter let onto capped nodes stays assumed there if the cluster watch never shows it
         * bound or gone (a lost event, a pod that never binds, or no watch at all). See docs/extender.md.
         */
        assumedPodTtlSeconds: Type.Integer({ minimum: 1, default: 60 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * Power budgets over groups of nodes (a rack, a room, the cluster): the filter refuses a node when the group's
     * predicted power with the pod there would exceed the budget. Checked like node caps; see docs/extender.md.
     */
    powerBudgets: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1 }),
          /** matchLabels: a node is in the group when it has every one of these labels; {} is every node. */
          selector: Type.Record(Type.String(), Type.String(), { default: {} }),
          watts: Type.Number({ exclusiveMinimum: 0 }),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    /**
     * Live node state from the agents (GET /v1/node): measured utilisation, node power and model, and every pod's
     * measured use for workload profiles. Nodes without an agent are judged by requested CPU.
     */
    telemetry: Type.Object(
      {
        /**
         * Agent base URLs, e.g. http://10.0.0.5:9102, or dns+http://NAME:PORT to poll every address of NAME (a
         * headless Service over the agent DaemonSet), resolved each round. Each report names its node. Empty: no
         * live state.
         */
        agents: Type.Array(Type.String({ pattern: '^(dns\\+)?https?://' }), { default: [] }),
        pollIntervalSeconds: Type.Number({ exclusiveMinimum: 0, default: 10 }),
        requestTimeoutMs: Type.Integer({ minimum: 1, default: 2000 }),
        /** A node whose last report is older than this gets a neutral score (counted); all stale: fail open. */
        staleAfterSeconds: Type.Number({ exclusiveMinimum: 0, default: 60 }),
        /**
         * A node not heard from for this long is forgotten (an agent gone from the list, a deleted Node): it then
         * counts as a node without an agent. Must not be shorter than staleAfterSeconds.
         */
        forgetAfterSeconds: Type.Number({ exclusiveMinimum: 0, default: 900 }),
        /** Nodes kept at most; past it the longest-silent are forgotten first. */
        maxNodes: Type.Integer({ minimum: 1, default: 20_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Workload profiles (each workload's measured CPU cores and watts per pod): the agents' feed or Prometheus. */
    profiles: Type.Object(
      {
        /** A sample this old weighs half as much as a new one. */
        halfLifeSeconds: Type.Number({ exclusiveMinimum: 0, default: 6 * 3600 }),
        maxWorkloads: Type.Integer({ minimum: 1, default: 50_000 }),
        /** Estimated bytes over all profiles (about 48 per sample). */
        maxBytes: Type.Integer({ minimum: 1024, default: 64 * 1024 * 1024 }),
        maxSamplesPerWorkload: Type.Integer({ minimum: 1, default: 256 }),
        /** Decayed sample weight a history needs before it is trusted over requests and hints. */
        minEffectiveSamples: Type.Number({ minimum: 0, default: 3 }),
        /**
         * agents: history is what this extender heard from the agents since it started. prometheus: history is read
         * from Prometheus (PromQL over the agents' per-pod counters) on a schedule, so replicas share it and a restart
         * loses none; the agents' feed still fills in while Prometheus is failing or has not seen a workload yet.
         */
        source: Type.Union([Type.Literal('agents'), Type.Literal('prometheus')], { default: 'agents' }),
        prometheus: Type.Object(
          {
            /** Base URL of the Prometheus HTTP API (the part before /api/v1), e.g. http://prometheus.monitoring:9090. */
            url: Type.Optional(Type.String({ pattern: '^https?://' })),
            /** How often the profiles are re-read (in the background, never while answering kube-scheduler). */
            queryIntervalSeconds: Type.Number({ exclusiveMinimum: 0, default: 60 }),
            timeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
            /** File holding a bearer token sent as Authorization (re-read on every query, so rotated tokens work). */
            bearerTokenFile: Type.Optional(Type.String({ minLength: 1 })),
            /** History looked at; older samples are left out (4 default half-lives: they would weigh under 1/16). */
            lookbackSeconds: Type.Number({ exclusiveMinimum: 0, default: 24 * 3600 }),
            /** Resolution of the history: one sample per pod per step. */
            stepSeconds: Type.Number({ exclusiveMinimum: 0, default: 300 }),
            /** rate() window over the counters; at least two scrape intervals. */
            rateWindowSeconds: Type.Number({ exclusiveMinimum: 0, default: 300 }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * Node power models for nodes whose agent reports their hardware (after the annotation and the configured
     * curves): the model server's answer for the node's fingerprint, else the shipped curve model from the node's
     * description, else the embedded curve. Looked up in the background, never while a request waits.
     */
    nodeModels: Type.Object(
      {
        /** `wattsched model-server` base URL, e.g. http://wattsched-model-server:8100. Unset: no model server. */
        modelServerUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
        requestTimeoutMs: Type.Integer({ minimum: 1, default: 2000 }),
        /** A fingerprint's answer is asked for again after this long, so newly published versions are taken up. */
        refreshSeconds: Type.Number({ exclusiveMinimum: 0, default: 600 }),
        /** Wait after a failed lookup, doubled per consecutive failure up to retryMaxSeconds. */
        retryMinSeconds: Type.Number({ exclusiveMinimum: 0, default: 5 }),
        retryMaxSeconds: Type.Number({ exclusiveMinimum: 0, default: 300 }),
        /** Fingerprints remembered (least recently used dropped); a fleet has a handful of hardware types. */
        maxFingerprints: Type.Integer({ minimum: 1, default: 4096 }),
        /** Model server lookups in flight at once. */
        maxConcurrentFetches: Type.Integer({ minimum: 1, default: 2 }),
        /** Use the shipped curve model (models/curve.onnx) from the node's description. */
        shipped: Type.Boolean({ default: true }),
        /** Directory with index.json and the shipped models; default: models/ in the package. */
        modelsDir: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Bound of the /explain store, in node rows over all kept decisions (about 100 bytes each). */
    explainMaxNodeEntries: Type.Integer({ minimum: 1, default: 500_000 }),
  },
  { additionalProperties: false },
);

export type ExtenderConfig = Static<typeof ExtenderConfigSchema>;
export type StaticNode = Static<typeof StaticNodeSchema>;
export type PowerBudget = ExtenderConfig['powerBudgets'][number];

/** Rules across fields that the schema alone cannot say; checked once with the schema by loadConfig. */
export function extenderConfigProblems(c: ExtenderConfig): string[] {
  const problems: string[] = [];
  if (c.telemetry.forgetAfterSeconds < c.telemetry.staleAfterSeconds) problems.push('telemetry.forgetAfterSeconds: must be at least telemetry.staleAfterSeconds');
  if (c.profiles.source === 'prometheus' && c.profiles.prometheus.url === undefined) problems.push('profiles.prometheus.url: required when profiles.source is prometheus');
  if (c.serving.healthPort !== 0 && c.serving.healthPort === c.port) problems.push('serving.healthPort: must differ from port (the health thread listens on a port of its own)');
  return problems;
}
