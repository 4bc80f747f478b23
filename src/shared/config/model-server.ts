// Configuration of `wattsched model-server`: where models and samples persist, how big a sample upload may be,
// when retraining runs, and (optionally) which Prometheus history to pull training windows from.
import Type, { type Static } from 'typebox';
import { DEFAULT_PORTS } from '../names.js';
import { ServerTlsSchema } from '../server-tls.js';

export const PrometheusPullSchema = Type.Object(
  {
    /** Base URL of the Prometheus HTTP API, e.g. http://prometheus:9090; pulling is off without it. */
    url: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** Counter feature name (as the counters model will see it) → PromQL giving a per-second rate per node. */
    features: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), { default: {} }),
    /** PromQL giving metered node power in watts per node (the label). */
    power: Type.String({ default: 'sum by (instance) (rate(kepler_node_platform_joules_total[1m]))' }),
    /** Label that identifies the node in every query result. */
    nodeLabel: Type.String({ default: 'instance' }),
    /** Label carrying the hardware fingerprint on the power series; else `fingerprints` maps node → fingerprint. */
    fingerprintLabel: Type.String({ default: 'wattsched_fingerprint' }),
    fingerprints: Type.Record(Type.String(), Type.String(), { default: {} }),
    rangeSeconds: Type.Integer({ minimum: 60, default: 3600 }),
    stepSeconds: Type.Integer({ minimum: 1, default: 30 }),
    /** 0 = pull only on POST /v1/prometheus/pull. */
    intervalSeconds: Type.Integer({ minimum: 0, default: 0 }),
    timeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
  },
  { additionalProperties: false, default: {} },
);

export const ModelServerConfigSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORTS.modelServer }),
    host: Type.String({ default: '0.0.0.0' }),
    logLevel: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')], { default: 'info' }),
    /** Models and samples; default $XDG_DATA_HOME/wattsched/models (~/.local/share/...), or a PVC mount. */
    dataDir: Type.Optional(Type.String({ minLength: 1 })),
    /** Shipped ONNX models (models/ in the package) seeded into the store on first start. */
    pretrainedDir: Type.Optional(Type.String({ minLength: 1 })),
    /** One POST /v1/samples body; 1 MiB holds a few thousand windows. */
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 1024 * 1024 }),
    /** Oldest windows are dropped (whole segments of about 1/8 of the cap) beyond this many per fingerprint. */
    maxSamplesPerFingerprint: Type.Integer({ minimum: 100, default: 100_000 }),
    /** Oldest windows are dropped the same way beyond this many bytes on disk per fingerprint. */
    maxSampleBytesPerFingerprint: Type.Integer({ minimum: 64 * 1024, default: 64 * 1024 * 1024 }),
    /** Uploads are refused (409 WS_ERR_MODEL_LIMIT) once the samples of all fingerprints take this many bytes. */
    maxSampleBytes: Type.Integer({ minimum: 64 * 1024, default: 2 * 1024 * 1024 * 1024 }),
    /** A sample upload or Prometheus pull for a new fingerprint beyond this many is refused (409). */
    maxFingerprints: Type.Integer({ minimum: 1, default: 1000 }),
    /**
     * Who may call the mutating routes (samples, pin, rollback, retrain, prometheus pull): a bearer token, a client
     * certificate signed by tls.clientCAFile, or either. One of them is required unless allowUnauthenticated.
     */
    auth: Type.Object(
      {
        /** File holding the bearer token (a mounted Secret); read once at start, surrounding whitespace ignored. */
        tokenFile: Type.Optional(Type.String({ minLength: 1 })),
        /** The token itself, e.g. from WATTSCHED_MODEL_SERVER_AUTH__TOKEN; tokenFile is preferred (no env leaks). */
        token: Type.Optional(Type.String({ minLength: 16 })),
        /** Only for a loopback test bench: every client may mutate. */
        allowUnauthenticated: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Client certificates signed by tls.clientCAFile authorise the mutating routes; reads need no certificate. */
    tls: ServerTlsSchema,
    retrain: Type.Object(
      {
        /** 0 = only on POST /v1/models/{fingerprint}/retrain. */
        intervalSeconds: Type.Integer({ minimum: 0, default: 600 }),
        /** Windows a fingerprint needs before a retrain is tried. */
        minSamples: Type.Integer({ minimum: 20, default: 200 }),
        /** New windows since the last attempt before trying again. */
        minNewSamples: Type.Integer({ minimum: 1, default: 50 }),
        /** Most recent fraction of windows held out to compare the candidate with the current version. */
        holdOutFraction: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.25 }),
        families: Type.Array(Type.Union([Type.Literal('linear'), Type.Literal('spline'), Type.Literal('gbdt')]), { minItems: 1, default: ['linear', 'spline', 'gbdt'] }),
        maxTrees: Type.Integer({ minimum: 10, maximum: 2000, default: 300 }),
      },
      { additionalProperties: false, default: {} },
    ),
    prometheus: PrometheusPullSchema,
  },
  { additionalProperties: false },
);

export type ModelServerConfig = Static<typeof ModelServerConfigSchema>;
export type PrometheusPullConfig = Static<typeof PrometheusPullSchema>;
