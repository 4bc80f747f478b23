// `wattsched agent`: collect per-cgroup counters on this node and serve them, or (--once) take two readings one
// interval apart, print the report and exit.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../shared/config/load.js';
import { type AgentConfig, AgentConfigSchema } from '../shared/config/agent.js';
import { WS_ERR_AGENT_KUBERNETES, WS_ERR_USAGE } from '../shared/errors.js';
import { DEFAULT_PORTS, ENV_PREFIX } from '../shared/names.js';
import type { NodeReport } from '../shared/wire/agent.js';
import { type SelectOptions, selectCollector } from './collector/select.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EnergyLedger, readCheckpoint } from './attribution/ledger.js';
import { createMetrics } from './exporter/metrics.js';
import { buildServer } from './exporter/server.js';
import { openNodePower } from './meter/select.js';
import { NodeCpu } from './meter/procstat.js';
import { EnergyAccounting } from './monitor/energy.js';
import { Monitor } from './monitor/monitor.js';
import { openPush } from './push/open.js';
import { KubePodDirectory, type PodDirectory, StandalonePods, kubeconfigSource } from './resource/pods.js';
import { openObservedAnnotator } from './annotate/observed.js';

const HELP = `usage: wattsched agent [options]

  --node NAME         node name for the pod watch (default: $NODE_NAME, then the host name)
  --port N            HTTP port for /healthz, /metrics, /v1/node (default ${DEFAULT_PORTS.agent})
  --host ADDR         listen address (default 0.0.0.0)
  --interval D        time between readings: 1s, 500ms, 2m (default 1s)
  --collector C       auto | ebpf | fallback (default auto)
  --config FILE       YAML/JSON config file (see docs/agent.md); WATTSCHED_AGENT_* variables override it
                      (power.meters, power.idlePolicy, power.checkpointPath, metrics.keplerNames,
                      push.url and push.tokenFile to send metered windows to the model server, ...)
  --log-level L       trace | debug | info | warn | error | silent
  --once              take two readings one interval apart, print the report and exit
  --json              with --once: print the report as JSON (default: a short table)
  -h, --help          this text`;

/** "1s", "250ms", "2m", "1.5s"; a bare number is seconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new WS_ERR_USAGE(`invalid duration '${text}' (expected e.g. 1s, 500ms, 2m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

interface Parsed {
  config: Readonly<AgentConfig>;
  once: boolean;
  json: boolean;
  help: boolean;
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        node: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        interval: { type: 'string' },
        collector: { type: 'string' },
        config: { type: 'string' },
        'log-level': { type: 'string' },
        once: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new WS_ERR_USAGE(`${(err as Error).message}\n\n${HELP}`);
  }
  const flags: Record<string, unknown> = {
    node: values.node,
    port: values.port,
    host: values.host,
    intervalMs: values.interval === undefined ? undefined : parseDurationMs(values.interval),
    collector: values.collector,
    logLevel: values['log-level'],
  };
  const config = loadConfig(AgentConfigSchema, { file: values.config, env, envPrefix: `${ENV_PREFIX}AGENT_`, flags });
  return { config, once: values.once, json: values.json, help: values.help };
}

export function nodeName(config: AgentConfig, env: NodeJS.ProcessEnv): string {
  return config.node ?? env.NODE_NAME ?? hostname();
}

async function podDirectory(config: AgentConfig, node: string, log: Logger, env: NodeJS.ProcessEnv): Promise<PodDirectory> {
  if (config.kubernetes.mode === 'off') return new StandalonePods('kubernetes.mode=off: cgroups are named by path');
  const source = kubeconfigSource(config.kubernetes.kubeconfig, env);
  if (source === null) {
    if (config.kubernetes.mode === 'required') throw new WS_ERR_AGENT_KUBERNETES('no kubeconfig and not in a cluster');
    return new StandalonePods('no kubeconfig and not in a cluster: cgroups are named by path');
  }
  try {
    return await KubePodDirectory.create(source, node, log);
  } catch (err) {
    if (config.kubernetes.mode === 'required') throw new WS_ERR_AGENT_KUBERNETES((err as Error).message);
    log.warn({ err }, 'cannot start the pod watch; running standalone');
    return new StandalonePods(`pod watch failed (${(err as Error).message}): cgroups are named by path`);
  }
}

/** Meters, model, ledger (restored from the checkpoint) and attribution, as configured. */
export async function openEnergy(config: AgentConfig, log: Logger, opts: { checkpoint?: boolean } = {}): Promise<EnergyAccounting> {
  const p = config.power;
  const power = await openNodePower(p, log, { modelServerUrl: p.model.server.url ?? config.push.url, fingerprint: config.push.fingerprint, gpuModel: config.push.gpuModel });
  const ledger = new EnergyLedger({ retentionMs: p.retentionMs, maxPods: p.maxPods });
  let checkpointPath: string | null = opts.checkpoint === false || p.checkpointPath === '' ? null : p.checkpointPath;
  if (checkpointPath !== null) {
    try {
      mkdirSync(dirname(checkpointPath), { recursive: true });
      const why = readCheckpoint(checkpointPath, ledger);
      if (why === null) log.info({ path: checkpointPath, pods: ledger.pods.size }, 'energy totals restored from the checkpoint');
      else log.info({ path: checkpointPath }, why);
    } catch (err) {
      log.error({ err, path: checkpointPath }, 'checkpoint directory unusable; totals will not survive a restart');
      checkpointPath = null;
    }
  }
  const cpu = new NodeCpu(p.procRoot);
  return new EnergyAccounting({ power, nodeCpu: () => cpu.read(), ledger, policy: p.idlePolicy, checkpointPath, procRoot: p.procRoot, log });
}

/** Two readings one interval apart, as one report. Exported for tests and for `--once`. */
export async function collectOnce(config: AgentConfig, env: NodeJS.ProcessEnv = process.env, opts: SelectOptions = {}, log?: Logger): Promise<NodeReport> {
  const logger = log ?? pino({ level: 'silent' });
  const { collector, layout } = selectCollector(config, opts);
  const node = nodeName(config, env);
  const pods = await podDirectory(config, node, logger, env);
  // A one-off reading must not move the totals a running agent keeps, so it reads no checkpoint and writes none.
  const energy = await openEnergy(config, logger, { checkpoint: false });
  try {
    const monitor = new Monitor({ collector, pods, layout, node, energy });
    await monitor.tick();
    await new Promise((r) => setTimeout(r, config.intervalMs));
    return await monitor.tick();
  } finally {
    await energy.close();
    await collector.close();
    await pods.close();
  }
}

function table(r: NodeReport): string {
  const lines = [
    `node ${r.node}  layout ${r.layout}  collector ${r.collector.name} (${r.collector.variant})${r.collector.reason ? `  reason: ${r.collector.reason}` : ''}`,
    `counters live: ${Object.entries(r.counters).filter(([, s]) => s.live).map(([n]) => n).join(', ') || 'none'}`,
    `${'cpu cores'.padStart(10)} ${'switch/s'.padStart(10)}  cgroup`,
  ];
  if (r.power) {
    const p = r.power;
    lines.push(`power ${p.watts.toFixed(1)} W (source ${p.source}${p.model ? `, model ${p.model.id}` : ''}), idle ${p.idleWatts.toFixed(1)} W, cpu ${(p.cpuUtilisation * 100).toFixed(1)} %, idle policy ${p.idlePolicy}`);
  }
  const rows = [...r.cgroups].sort((a, b) => b.rates.cpuSeconds - a.rates.cpuSeconds).slice(0, 25);
  for (const c of rows) {
    lines.push(`${c.rates.cpuSeconds.toFixed(3).padStart(10)} ${(c.rates.contextSwitches ?? 0).toFixed(0).padStart(10)}  ${c.path ?? `id ${c.id}`}${c.exited ? ' (exited)' : ''}`);
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const { config, once, json, help } = parseAgentArgs(argv);
  if (help) {
    console.log(HELP);
    return;
  }
  const log = pino({ level: config.logLevel, base: { component: 'agent' } });
  if (once) {
    const report = await collectOnce(config, process.env, {}, log.child({}, { level: 'warn' }));
    console.log(json ? JSON.stringify(report, null, 2) : table(report));
    return;
  }

  const { collector, layout } = selectCollector(config);
  const status = collector.status();
  if (status.reason !== null) log.warn({ collector: status.name, reason: status.reason, attempts: status.attempts }, 'using the fallback collector');
  else log.info({ collector: status.name, variant: status.variant, counters: collector.counters() }, 'collector ready');
  const node = nodeName(config, process.env);
  const pods = await podDirectory(config, node, log, process.env);
  const energy = await openEnergy(config, log);
  let observe: (s: number) => void = () => {};
  const push = openPush(config, node, log);
  // With a pod watch the agent can name the pods it measures, so it annotates them with their observed watts.
  const kubeSource = pods.status().mode === 'watch' ? kubeconfigSource(config.kubernetes.kubeconfig, process.env) : null;
  const annotate = kubeSource === null ? null : await openObservedAnnotator(kubeSource, log);
  const onReport = (r: NodeReport): void => {
    push?.pusher.offer(r);
    annotate?.offer(r);
  };
  const monitor = new Monitor({ collector, pods, layout, node, log, energy, onRead: (s) => observe(s), ...(push === null && annotate === null ? {} : { onReport }) });
  const { registry, observeRead } = createMetrics(monitor, { keplerNames: config.metrics.keplerNames, node });
  observe = observeRead;
  push?.pusher.register(registry);
  annotate?.registerMetrics(registry);
  const app = await buildServer({ monitor, intervalMs: config.intervalMs, registry, logger: log });
  // Release in reverse order of acquisition: stop reading, stop serving, then detach the BPF program.
  app.addHook('onClose', async () => {
    monitor.stop();
    annotate?.stop();
    if (push !== null) {
      await push.pusher.stop();
      push.client.close();
    }
    await energy.close();
    await pods.close();
    await collector.close();
  });
  monitor.start(config.intervalMs);
  push?.pusher.start();
  const address = await app.listen({ port: config.port, host: config.host });
  log.info({ address }, `listening at ${address}`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      app.close().then(resolve, (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
