// POST /v1/samples from agents on metered nodes, and POST /v1/prometheus/pull. The body schema and the server's
// bodyLimit bound what one request can add; checks a schema cannot express are made here.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { IDEMPOTENCY_KEY_HEADER, IdempotencyKeySchema, SampleAckSchema, SampleBatchSchema } from '../../../shared/wire/model.js';
import { WS_ERR_MODEL_SAMPLES } from '../../../shared/errors.js';
import type { ModelServer } from '../plugins.js';

const samples: FastifyPluginAsyncTypebox = async (app) => {
  const server = app.getDecorator<ModelServer>('modelServer');

  app.post('/v1/samples', { schema: { body: SampleBatchSchema, headers: Type.Object({ [IDEMPOTENCY_KEY_HEADER]: Type.Optional(IdempotencyKeySchema) }), response: { 200: SampleAckSchema } } }, async (req) => {
    const { fingerprint, hardware, windows } = req.body;
    windows.forEach((w, i) => {
      if (!(w.end > w.start)) throw new WS_ERR_MODEL_SAMPLES(`windows[${i}]: end ${w.end} is not after start ${w.start}`);
      if (w.end - w.start > 3600) throw new WS_ERR_MODEL_SAMPLES(`windows[${i}]: longer than one hour`);
      const names = Object.keys(w.counters);
      if (names.length === 0) throw new WS_ERR_MODEL_SAMPLES(`windows[${i}]: no counters`);
      for (const n of names) if (!Number.isFinite(w.counters[n]) || (w.counters[n] as number) < 0) throw new WS_ERR_MODEL_SAMPLES(`windows[${i}].counters.${n}: not a non-negative finite rate`);
    });
    // Answered only once the windows are on disk: an acknowledged upload survives a crash.
    const r = await server.addSamples(fingerprint, hardware, windows, req.headers[IDEMPOTENCY_KEY_HEADER] ?? null);
    return { fingerprint, ...r };
  });

  app.post(
    '/v1/prometheus/pull',
    {
      schema: {
        body: Type.Optional(Type.Object({ start: Type.Optional(Type.Number()), end: Type.Optional(Type.Number()) }, { additionalProperties: false })),
        response: {
          200: Type.Object({ windows: Type.Integer(), fingerprints: Type.Array(Type.String()), unmappedNodes: Type.Array(Type.String()) }),
          409: Type.Object({ error: Type.String(), message: Type.String() }),
        },
      },
    },
    async (req, reply) => {
      if (!server.config.prometheus.url) return reply.code(409).send({ error: 'WS_ERR_MODEL_PROMETHEUS', message: 'prometheus.url is not configured' });
      return server.pullPrometheus(req.body?.start, req.body?.end);
    },
  );
};

export default samples;
