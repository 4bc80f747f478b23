// NodeModels from the extender's validated `nodeModels` config section.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { ExtenderConfig } from '../../shared/config/extender.js';
import { NodeModels } from './models.js';

/** models/ of the package, whether this runs from src/ (tests) or dist/src/ (built). */
function packagedModels(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'models');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '../../../models');
}

export function openNodeModels(c: ExtenderConfig['nodeModels'], log?: Logger): NodeModels {
  const shippedModelsDir = c.shipped ? (c.modelsDir ?? packagedModels()) : null;
  log?.info({ modelServer: c.modelServerUrl ?? null, shippedModelsDir }, c.modelServerUrl ? 'node models: model server, then the shipped curve model, then the embedded curve' : 'node models: no model server configured (nodeModels.modelServerUrl); the shipped curve model, then the embedded curve');
  return new NodeModels({
    modelServerUrl: c.modelServerUrl,
    requestTimeoutMs: c.requestTimeoutMs,
    refreshMs: c.refreshSeconds * 1000,
    retryMinMs: c.retryMinSeconds * 1000,
    retryMaxMs: Math.max(c.retryMinSeconds, c.retryMaxSeconds) * 1000,
    maxFingerprints: c.maxFingerprints,
    maxConcurrentFetches: c.maxConcurrentFetches,
    shippedModelsDir,
    log,
  });
}
