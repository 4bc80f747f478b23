// `wattsched model-server`: load config once, open the model directory, serve.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ModelServerConfigSchema } from '../../shared/config/model-server.js';
import { loadConfig } from '../../shared/config/load.js';
import { intFlag, parseFlags, closeOnSignal } from '../../shared/cli.js';
import { createLogger } from '../../shared/log.js';
import { DEFAULT_PORTS } from '../../shared/names.js';
import { packageRoot } from '../model-file.js';
import { buildModelServer } from './app.js';

const USAGE = `usage: wattsched model-server [--config FILE] [--port ${DEFAULT_PORTS.modelServer}] [--host 0.0.0.0] [--data-dir DIR] [--log-level info]

Serves power models by hardware fingerprint (GET /v1/models, GET /v1/models/{fingerprint}), accepts metered
windows (POST /v1/samples), pulls windows from Prometheus, retrains per fingerprint and publishes a version only
when it beats the current one on held-out windows. Settings: FILE, then WATTSCHED_MODEL_SERVER_* variables, then flags.`;

/** $XDG_DATA_HOME/wattsched/models, else ~/.local/share/wattsched/models, else ./.wattsched/models. */
export function defaultDataDir(env: Record<string, string | undefined>): string {
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'wattsched', 'models');
  const home = homedir();
  return home ? join(home, '.local', 'share', 'wattsched', 'models') : join(process.cwd(), '.wattsched', 'models');
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, 'log-level': { type: 'string' } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig(ModelServerConfigSchema, {
    file: values.config,
    env: process.env,
    envPrefix: 'WATTSCHED_MODEL_SERVER_',
    flags: { port: intFlag(values.port, 'port'), host: values.host, dataDir: values['data-dir'], logLevel: values['log-level'] },
  });
  const log = createLogger('model-server', config.logLevel);
  const dataDir = config.dataDir ?? defaultDataDir(process.env);
  const pretrainedDir = config.pretrainedDir ?? join(packageRoot(), 'models');
  const app = await buildModelServer(config, { dataDir, pretrainedDir, logger: log });
  closeOnSignal(app, log);
  const address = await app.listen({ port: config.port, host: config.host });
  log.info({ address, dataDir, pretrainedDir, retrainEverySeconds: config.retrain.intervalSeconds, prometheus: config.prometheus.url ?? null }, 'model server listening');
}
