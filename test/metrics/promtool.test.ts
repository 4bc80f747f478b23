// Every /metrics endpoint must pass `promtool check metrics` (Prometheus's own linter): the agent's suite checks the
// agent; this one checks the extender and the model server with series of every kind present.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from 'typebox/value';
import { describe, expect, test } from 'vitest';
import { buildModelServer } from '../../src/model/server/app.js';
import { ModelServerConfigSchema, type ModelServerConfig } from '../../src/shared/config/model-server.js';
import { makeApp, post } from '../extender/helpers.js';
import { promtoolLint } from '../promtool.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('promtool check metrics', () => {
  test('the extender, after filter, prioritize and a bad request', async () => {
    const app = await makeApp({ nodes: [{ name: 'node-a', allocatableMilliCPU: 4000, annotations: { 'wattsched.io/power-cap-watts': '300' } }] });
    try {
      const pod = { metadata: { name: 'p', namespace: 'default', uid: 'u-1' }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: '500m' } } }] } };
      expect((await post(app, '/filter', { Pod: pod, NodeNames: ['node-a'] })).statusCode).toBe(200);
      expect((await post(app, '/prioritize', { Pod: pod, NodeNames: ['node-a'] })).statusCode).toBe(200);
      expect((await post(app, '/prioritize', '{"Pod":')).statusCode).toBe(400);
      const text = (await app.inject('/metrics')).body;
      expect(text).toContain('wattsched_extender_request_duration_seconds');
      expect(promtoolLint(text)).toBe('');
    } finally {
      await app.close();
    }
  });

  test('the model server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattsched-promtool-'));
    const config = Value.Parse(ModelServerConfigSchema, Value.Default(ModelServerConfigSchema, { retrain: { intervalSeconds: 0 }, auth: { token: 'promtool-token-0123456789' } })) as ModelServerConfig;
    const app = await buildModelServer(config, { dataDir: dir, pretrainedDir: join(root, 'models'), logger: false });
    try {
      expect((await app.inject('/healthz')).statusCode).toBe(200);
      expect((await app.inject({ method: 'POST', url: '/v1/samples', payload: {} })).statusCode).toBe(401);
      const text = (await app.inject('/metrics')).body;
      expect(text).toContain('wattsched_model_server');
      expect(promtoolLint(text)).toBe('');
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
