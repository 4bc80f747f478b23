// GET /v1/models, GET /v1/models/{fingerprint} (fallback chain), and the version controls: pin, rollback, retrain.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { FingerprintSchema, MODEL_LIST_MAX_LIMIT, ModelEntrySchema, ModelListQuerySchema, ModelListSchema, ModelResolutionSchema } from '../../../shared/wire/model.js';
import { WS_ERR_MODEL_INPUT } from '../../../shared/errors.js';
import type { ModelServer } from '../plugins.js';
import { resolveModel } from '../resolve.js';

const Params = Type.Object({ fingerprint: FingerprintSchema });

const RetrainResultSchema = Type.Object({
  fingerprint: Type.String(),
  published: Type.Boolean(),
  reason: Type.String(),
  candidateMapePercent: Type.Union([Type.Number(), Type.Null()]),
  currentMapePercent: Type.Union([Type.Number(), Type.Null()]),
  version: Type.Union([Type.Integer(), Type.Null()]),
  trainWindows: Type.Integer(),
  heldOutWindows: Type.Integer(),
});

const models: FastifyPluginAsyncTypebox = async (app) => {
  const server = app.getDecorator<ModelServer>('modelServer');
  const { store } = server;

  // Pages in fingerprint order: ?limit=N (default and most MODEL_LIST_MAX_LIMIT) and ?after=<the previous page's next>.
  app.get('/v1/models', { schema: { querystring: ModelListQuerySchema, response: { 200: ModelListSchema } } }, async (req) => {
    const limit = req.query.limit === undefined ? MODEL_LIST_MAX_LIMIT : Number(req.query.limit);
    if (limit > MODEL_LIST_MAX_LIMIT) throw new WS_ERR_MODEL_INPUT(`limit ${limit} is above ${MODEL_LIST_MAX_LIMIT}`);
    return store.list(limit, req.query.after);
  });

  app.get(
    '/v1/models/:fingerprint',
    {
      schema: {
        params: Params,
        querystring: Type.Object({ include: Type.Union([Type.Literal('onnx'), Type.Literal('meta')], { default: 'onnx' }), version: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,8}$' })) }, { additionalProperties: false }),
        response: { 200: ModelResolutionSchema },
      },
    },
    async (req) => {
      const { fingerprint } = req.params;
      // An explicit ?version= is an agent-side pin: that exact version of that exact fingerprint, or 404.
      // (Query strings are not coerced by this server's validator, so the version arrives as digits.)
      const r = req.query.version !== undefined ? { match: 'exact' as const, fingerprint, version: Number(req.query.version) } : resolveModel(store, fingerprint);
      const v = store.version(r.fingerprint, r.version);
      return {
        requested: fingerprint,
        match: r.match,
        fingerprint: r.fingerprint,
        version: v.version,
        task: v.task,
        featureNames: v.featureNames,
        outputNames: v.outputNames,
        heldOutMapePercent: v.heldOutMapePercent,
        ...(req.query.include === 'onnx' ? { onnxBase64: Buffer.from(await store.onnx(r.fingerprint, v.version)).toString('base64') } : {}),
      };
    },
  );

  app.post(
    '/v1/models/:fingerprint/pin',
    { schema: { params: Params, body: Type.Object({ version: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]) }, { additionalProperties: false }), response: { 200: ModelEntrySchema } } },
    async (req) => store.pin(req.params.fingerprint, req.body.version),
  );

  app.post('/v1/models/:fingerprint/rollback', { schema: { params: Params, response: { 200: ModelEntrySchema } } }, async (req) => store.rollback(req.params.fingerprint));

  app.post('/v1/models/:fingerprint/retrain', { schema: { params: Params, response: { 200: RetrainResultSchema } } }, async (req) => {
    await store.entry(req.params.fingerprint);
    return server.retrain(req.params.fingerprint);
  });
};

export default models;
