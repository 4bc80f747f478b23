// `wattsched extender`: load config once, pick the node inventory (cluster watch or config file), start serving.
import { ExtenderConfigSchema, extenderConfigProblems, type ExtenderConfig } from '../shared/config/extender.js';
import { loadConfig } from '../shared/config/load.js';
import { intFlag, parseFlags, closeOnSignal } from '../shared/cli.js';
import { WS_ERR_CONFIG_INVALID } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { DEFAULT_PORTS } from '../shared/names.js';
import { buildExtender } from './app.js';
import type { HealthServer } from './routes/health.js';
import { staticInventory, type NodeInventory } from './nodes/inventory.js';
import { findKubeconfig, kubeInventory } from './nodes/kube.js';
import * as live from './live/scorer.js';
import { openNodeModels } from './live/open-models.js';
import { PrometheusProfileStore } from './profiles/prometheus.js';
import { MemoryProfileStore, type ProfileStore } from './profiles/store.js';
import { AgentFeed } from './telemetry/agent-feed.js';
import { TelemetryStore } from './telemetry/node-telemetry.js';
import { PredictionLedger } from './telemetry/predictions.js';
import { annotateBoundPods, type PredictedWattsAnnotator } from './annotate/predicted.js';
import { kubePatcher } from '../shared/pod-annotations.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

const USAGE = `usage: wattsched extender [--config FILE] [--port ${DEFAULT_PORTS.extender}] [--host 0.0.0.0] [--log-level info]

Serves the kube-scheduler extender webhooks (filter, prioritize, preempt), /healthz, /readyz, /metrics and
/explain/{namespace}/{pod}, and /healthz, /readyz for kubelet probes on serving.healthPort (a free port unless set;
the chart sets ${DEFAULT_PORTS.extenderHealth}). Settings come from FILE (YAML or JSON), then WATTSCHED_EXTENDER_* environment
variables (e.g. WATTSCHED_EXTENDER_BODY_LIMIT_BYTES, WATTSCHED_EXTENDER_TLS__CERT_FILE), then flags.
Live node state and workload profiles come from the agents listed in telemetry.agents (see docs/extender.md).`;

/** Node entries over all predictions waiting for a measurement; the oldest pods are forgotten first. */
const PREDICTIONS_MAX_NODE_ENTRIES = 500_000;

type Kubeconfig = NonNullable<ReturnType<typeof findKubeconfig>>;

async function chooseInventory(config: ExtenderConfig, kubeconfig: Kubeconfig | undefined, log: Logger): Promise<NodeInventory> {
  if (!kubeconfig) {
    if (config.kubernetes.mode === 'required') throw new WS_ERR_CONFIG_INVALID('  - kubernetes.mode: required, but no kubeconfig, KUBECONFIG or in-cluster service account was found');
    log.info({ nodes: config.nodes.length }, 'no cluster configured: names-mode requests are scored from the config file inventory');
    return staticInventory(config.nodes);
  }
  log.info({ kubeconfig }, 'watching nodes and pods in the cluster');
  return kubeInventory(kubeconfig, log);
}

/** With a cluster watch: bound pods this extender scored get their predicted-watts annotation. */
async function annotator(kubeconfig: Kubeconfig | undefined, inventory: NodeInventory, predictions: PredictionLedger, log: Logger): Promise<PredictedWattsAnnotator | undefined> {
  if (!kubeconfig || !inventory.onPodBound) return undefined;
  const patch = await kubePatcher((kc) => (kubeconfig.kind === 'file' ? kc.loadFromFile(kubeconfig.path) : kc.loadFromCluster()));
  return annotateBoundPods(inventory, predictions, { patch, log });
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'log-level': { type: 'string' } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig(ExtenderConfigSchema, {
    file: values.config,
    env: process.env,
    envPrefix: 'WATTSCHED_EXTENDER_',
    flags: { port: intFlag(values.port, 'port'), host: values.host, logLevel: values['log-level'] },
  }, extenderConfigProblems);
  const log = createLogger('extender', config.logLevel);
  const telemetry = new TelemetryStore(config.telemetry.staleAfterSeconds * 1000, { forgetAfterMs: config.telemetry.forgetAfterSeconds * 1000, maxNodes: config.telemetry.maxNodes });
  const fromAgents = new MemoryProfileStore(config.profiles);
  const prom = config.profiles.source === 'prometheus' ? new PrometheusProfileStore({ ...config.profiles.prometheus, url: config.profiles.prometheus.url as string }, config.profiles, fromAgents, log) : undefined;
  const profiles: ProfileStore = prom ?? fromAgents;
  const predictions = new PredictionLedger(PREDICTIONS_MAX_NODE_ENTRIES);
  const models = openNodeModels(config.nodeModels, log);
  const scorer = live.create({
    models,
    curves: { nodeLabel: config.powerCurves.nodeLabel, byLabelValue: config.powerCurves.byLabelValue, emptyNodes: config.powerCurves.emptyNodes, ...(config.powerCurves.default ? { default: config.powerCurves.default } : {}) },
    telemetry,
    profiles,
    predictions,
  });
  const feed = new AgentFeed({ agents: config.telemetry.agents, pollIntervalMs: config.telemetry.pollIntervalSeconds * 1000, requestTimeoutMs: config.telemetry.requestTimeoutMs }, telemetry, profiles, log, Date.now, predictions);
  const kubeconfig = config.kubernetes.mode === 'off' ? undefined : findKubeconfig(config.kubernetes.kubeconfig, process.env);
  const inventory = await chooseInventory(config, kubeconfig, log);
  const annotate = await annotator(kubeconfig, inventory, predictions, log);
  const app = await buildExtender(config, {
    scorer,
    inventory,
    logger: log,
    registerMetrics: [
      (r) => scorer.registerMetrics(r),
      (r) => feed.registerMetrics(r),
      (r) => predictions.registerMetrics(r),
      (r) => telemetry.registerMetrics(r),
      (r) => models.registerMetrics(r),
      ...(prom ? [(r: Registry) => prom.registerMetrics(r)] : []),
      ...(annotate ? [(r: Registry) => annotate.registerMetrics(r)] : []),
    ],
  });
  app.addHook('onClose', async () => {
    feed.stop();
    prom?.stop();
    annotate?.stop();
  });
  app.addHook('onClose', async () => models.close());
  feed.start();
  prom?.start();
  if (config.telemetry.agents.length === 0) log.info('no agents configured (telemetry.agents): nodes are judged by requested CPU and pods by their requests');

  closeOnSignal(app, log);

  const address = await app.listen({ port: config.port, host: config.host });
  const healthPort = await app.getDecorator<HealthServer>('healthServer').listen({ port: config.serving.healthPort, host: config.host });
  log.info({ address, healthPort, tls: Boolean(config.tls.certFile), mTLS: Boolean(config.tls.clientCAFile), urlPrefix: config.urlPrefix || '/', scorer: scorer.name, inventory: inventory.source, agents: config.telemetry.agents.length, profiles: profiles.source }, 'extender listening');
}
