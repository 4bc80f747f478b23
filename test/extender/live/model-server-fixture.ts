// The real model server in-process on 127.0.0.1:0, seeded with the shipped models, plus a counters model whose
// watts are a straight line in busy CPU (so what it predicts is worked out by hand), and a hardware description.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import Value from 'typebox/value';
import { buildModelServer } from '../../../src/model/server/app.js';
import type { ModelServer } from '../../../src/model/server/plugins.js';
import { buildOnnx } from '../../../src/model/model-file.js';
import { countersTask } from '../../../src/model/tasks.js';
import { ModelServerConfigSchema, type ModelServerConfig } from '../../../src/shared/config/model-server.js';
import type { ModelMetadata, NodeHardware } from '../../../src/shared/wire/model.js';
import { fingerprint } from '../../../src/model/features.js';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const MODELS_DIR = join(root, 'models');

/** A 2-socket, 40-core, 80-thread Xeon Gold 6230 server. */
export const GOLD: NodeHardware = { cpuModel: 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', sockets: 2, cores: 40, threads: 80, memoryGb: 384, year: 2019, nodes: 1, cpuMhz: 2100, cpuVendor: 'intel' };
export const GOLD_FP = fingerprint(GOLD); // intel-xeon-gold-6230-cpu-2-10ghz-s2-c40

/** watts = intercept + slope × cpu_seconds_per_s, as a linear counters model over busy CPU only. */
export function linearCpuModel(intercept: number, slope: number, mapePercent = 4.2): { bytes: Uint8Array; meta: ModelMetadata } {
  return linearCountersModel({ cpu_seconds_per_s: slope }, intercept, mapePercent);
}

/** watts = intercept + Σ weight × feature, as a linear counters model over the named counters. */
export function linearCountersModel(weights: Record<string, number>, intercept: number, mapePercent = 4.2): { bytes: Uint8Array; meta: ModelMetadata } {
  const features = Object.keys(weights);
  const spec = countersTask(features, ['watts']);
  const meta: ModelMetadata = {
    task: 'counters',
    family: 'linear',
    featureNames: features,
    outputNames: ['watts'],
    scoredOutputs: ['watts'],
    units: 'W',
    inputColumns: features,
    trainingDataSha256: '0'.repeat(64),
    trainingRows: 100,
    validation: { split: 'newest windows', folds: 1, mapePercent, rmseWatts: 1, method: 'newest-windows' },
    candidates: {},
    wattschedVersion: '0.1.0',
  };
  const coef = { center: features.map(() => 0), weights: features.map((f) => [weights[f] as number]), bias: [intercept] };
  return { bytes: buildOnnx(spec, { family: 'linear', coef }, meta), meta };
}

export interface RunningModelServer {
  url: string;
  app: FastifyInstance;
  publish(fp: string, model: { bytes: Uint8Array; meta: ModelMetadata }): Promise<number>;
  close(): Promise<void>;
}

export async function startModelServer(): Promise<RunningModelServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wattsched-models-'));
  const config = Value.Parse(ModelServerConfigSchema, Value.Default(ModelServerConfigSchema, { retrain: { intervalSeconds: 0 }, auth: { token: 'fixture-token-0123456789' } })) as ModelServerConfig;
  const app = await buildModelServer(config, { dataDir: dir, logger: false, pretrainedDir: MODELS_DIR });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const store = app.getDecorator<ModelServer>('modelServer').store;
  return {
    url: address,
    app,
    publish: async (fp, m) => (await store.publish(fp, m.bytes, m.meta, 'retrained', new Date())).version,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
