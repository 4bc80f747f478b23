// Wire types of the power models and the model server, shared by the agent and the extender (which talk to the
// model server over HTTP or load the shipped ONNX files through src/model).
import Type, { type Static } from 'typebox';

export const MODEL_TASKS = ['curve', 'shape', 'counters'] as const;
export type ModelTask = (typeof MODEL_TASKS)[number];
export const ModelTaskSchema = Type.Union([Type.Literal('curve'), Type.Literal('shape'), Type.Literal('counters')]);

/** What a node advertises about its hardware: the input of the curve task and of the fingerprint. */
export const NodeHardwareSchema = Type.Object(
  {
    cpuModel: Type.String({ minLength: 1, maxLength: 200 }),
    /** Totals for the whole system measured together (all `nodes`). */
    sockets: Type.Number({ minimum: 1, maximum: 4096 }),
    cores: Type.Number({ minimum: 1, maximum: 1_000_000 }),
    threads: Type.Number({ minimum: 1, maximum: 2_000_000 }),
    memoryGb: Type.Number({ exclusiveMinimum: 0, maximum: 1e7 }),
    /** Hardware availability year. */
    year: Type.Integer({ minimum: 1990, maximum: 2100 }),
    nodes: Type.Integer({ minimum: 1, maximum: 4096, default: 1 }),
    cpuMhz: Type.Number({ exclusiveMinimum: 0, maximum: 20_000 }),
    /** Intel / AMD / ARM; worked out from cpuModel when absent. */
    cpuVendor: Type.Optional(Type.String({ maxLength: 40 })),
    gpuModel: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type NodeHardware = Static<typeof NodeHardwareSchema>;

/**
 * How a held-out error was measured. `nested-cv`: outer group folds, family and settings chosen inside each outer
 * training part (the shipped models). `newest-windows`: the newest fraction of a fingerprint's windows by time, never
 * trained on (retrained models). Errors are ranked against each other only when measured the same way.
 */
export const HeldOutMethodSchema = Type.Union([Type.Literal('nested-cv'), Type.Literal('newest-windows')]);
export type HeldOutMethod = Static<typeof HeldOutMethodSchema>;

/** Metadata every wattsched ONNX file carries in metadata_props (values are strings there; JSON for lists). */
export const ModelMetadataSchema = Type.Object({
  task: ModelTaskSchema,
  family: Type.String(),
  featureNames: Type.Array(Type.String()),
  outputNames: Type.Array(Type.String()),
  /** Columns whose errors count in evaluation (the shape task echoes its two inputs). */
  scoredOutputs: Type.Array(Type.String()),
  units: Type.Literal('W'),
  /** CSV columns the features are computed from. */
  inputColumns: Type.Array(Type.String()),
  trainingDataSha256: Type.String(),
  trainingRows: Type.Integer(),
  /** Held-out error of what ships (see `method`): the number the model server ranks models by. */
  validation: Type.Object({
    split: Type.String(),
    folds: Type.Integer(),
    mapePercent: Type.Number(),
    rmseWatts: Type.Number(),
    /** How mapePercent was measured; absent in files written before selection moved inside the folds. */
    method: Type.Optional(HeldOutMethodSchema),
    /** nested-cv: the folds inside each outer training part that chose the family and settings. */
    innerFolds: Type.Optional(Type.Integer()),
  }),
  candidates: Type.Record(Type.String(), Type.Number()),
  wattschedVersion: Type.String(),
  /** Counters task: features are means over this trailing window (seconds); 0 = per sample. */
  counterWindowSeconds: Type.Optional(Type.Number({ minimum: 0 })),
});
export type ModelMetadata = Static<typeof ModelMetadataSchema>;

/** Fingerprints name a directory on the model server: well inside every filesystem's 255-byte name limit. */
export const FINGERPRINT_MAX_LENGTH = 128;
export const FingerprintSchema = Type.String({ minLength: 1, maxLength: FINGERPRINT_MAX_LENGTH, pattern: '^[a-z0-9][a-z0-9._-]*$' });

export const ModelVersionSchema = Type.Object({
  fingerprint: Type.String(),
  version: Type.Integer({ minimum: 1 }),
  task: ModelTaskSchema,
  family: Type.String(),
  featureNames: Type.Array(Type.String()),
  outputNames: Type.Array(Type.String()),
  createdAt: Type.String(),
  trainingRows: Type.Integer(),
  heldOutMapePercent: Type.Number(),
  /** How heldOutMapePercent was measured; absent for versions published before it was recorded (never ranked). */
  heldOutMethod: Type.Optional(HeldOutMethodSchema),
  sha256: Type.String(),
  source: Type.Union([Type.Literal('pretrained'), Type.Literal('retrained'), Type.Literal('uploaded')]),
});
export type ModelVersion = Static<typeof ModelVersionSchema>;

export const ModelEntrySchema = Type.Object({
  fingerprint: Type.String(),
  hardware: Type.Object({ cpuModel: Type.String(), sockets: Type.Integer(), cores: Type.Integer(), gpuModel: Type.String() }),
  current: Type.Union([Type.Integer(), Type.Null()]),
  pinned: Type.Union([Type.Integer(), Type.Null()]),
  versions: Type.Array(ModelVersionSchema),
  samples: Type.Integer(),
});
export type ModelEntry = Static<typeof ModelEntrySchema>;

/** One page of GET /v1/models: `next` is the `after` cursor of the following page, null on the last. */
export const ModelListSchema = Type.Object({ models: Type.Array(ModelEntrySchema), next: Type.Union([Type.String(), Type.Null()]) });
export const MODEL_LIST_MAX_LIMIT = 500;
export const ModelListQuerySchema = Type.Object(
  { limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$' })), after: Type.Optional(FingerprintSchema) },
  { additionalProperties: false },
);

export const ModelResolutionSchema = Type.Object({
  requested: Type.String(),
  /** Which step of the fallback chain answered. */
  match: Type.Union([Type.Literal('exact'), Type.Literal('family'), Type.Literal('description')]),
  fingerprint: Type.String(),
  version: Type.Union([Type.Integer(), Type.Null()]),
  task: ModelTaskSchema,
  featureNames: Type.Array(Type.String()),
  outputNames: Type.Array(Type.String()),
  heldOutMapePercent: Type.Union([Type.Number(), Type.Null()]),
  /** The ONNX file, base64; absent with ?include=meta. */
  onnxBase64: Type.Optional(Type.String()),
});
export type ModelResolution = Static<typeof ModelResolutionSchema>;

/** One window from a metered node: counter rates (per second, names as the counters model's features) and power. */
export const SampleWindowSchema = Type.Object(
  {
    start: Type.Number({ description: 'unix seconds' }),
    end: Type.Number({ description: 'unix seconds' }),
    counters: Type.Record(Type.String({ maxLength: 100, pattern: '^[A-Za-z0-9_.:\\[\\] %-]+$' }), Type.Number(), { maxProperties: 64 }),
    watts: Type.Number({ minimum: 0, maximum: 100_000 }),
  },
  { additionalProperties: false },
);
export type SampleWindow = Static<typeof SampleWindowSchema>;

export const SampleBatchSchema = Type.Object(
  {
    fingerprint: FingerprintSchema,
    hardware: Type.Optional(Type.Object({ cpuModel: Type.String({ maxLength: 200 }), sockets: Type.Integer({ minimum: 1 }), cores: Type.Integer({ minimum: 1 }), gpuModel: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })),
    node: Type.Optional(Type.String({ maxLength: 253 })),
    windows: Type.Array(SampleWindowSchema, { minItems: 1, maxItems: 10_000 }),
  },
  { additionalProperties: false },
);
export type SampleBatch = Static<typeof SampleBatchSchema>;

/**
 * Header naming one upload (IETF draft-ietf-httpapi-idempotency-key-header): a retry with the same key and the same
 * windows is stored once and answered `duplicate: true`; the same key with other windows is a 422.
 */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const IdempotencyKeySchema = Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' });

/** Sent once the upload is on disk (fdatasync'ed): an acknowledged window survives a crash of the server. */
export const SampleAckSchema = Type.Object({ fingerprint: Type.String(), accepted: Type.Integer(), total: Type.Integer(), duplicate: Type.Boolean() });
