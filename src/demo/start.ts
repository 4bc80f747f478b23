// `wattsched start` (what `npm start` runs): the whole system on this machine with embedded defaults. It starts the
// agent (eBPF, or the fallback with its reason), the model server and the extender wired to the agent, each as its
// own `wattsched` process on loopback, then prints a live status until Ctrl-C: node power and its source, top pods
// by watts, and the score a sample pod would get on each known node.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags, intFlag } from '../shared/cli.js';
import { WS_ERR_USAGE } from '../shared/errors.js';
import { DEFAULT_PORTS } from '../shared/names.js';
import type { NodeReport } from '../shared/wire/agent.js';
import { renderStatus, type ExplainRow, type StatusSnapshot } from './status.js';

const USAGE = `usage: wattsched start [--frames N] [--refresh-ms 2000] [--ephemeral-ports]

Runs the agent, the model server and the extender on this machine (loopback only) and prints a live status until
Ctrl-C. --frames N stops after N status frames; --ephemeral-ports takes free ports instead of ${DEFAULT_PORTS.agent}, ${DEFAULT_PORTS.modelServer} and ${DEFAULT_PORTS.extender}.`;

const CLI = join(import.meta.dirname, '../cli/main.js');
const HOST = '127.0.0.1';
const SAMPLE = { namespace: 'default', name: 'wattsched-sample' };

/** The default port when it is free, else (or with `ephemeral`) one the kernel picks. */
async function pickPort(preferred: number, ephemeral: boolean): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(undefined));
      srv.listen(port, HOST, () => {
        const got = (srv.address() as { port: number }).port;
        srv.close(() => resolve(got));
      });
    });
  return (!ephemeral ? await tryListen(preferred) : undefined) ?? ((await tryListen(0)) as number);
}

async function getJson(url: string, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
  return res.json();
}

async function waitHealthy(url: string, child: ChildProcess, name: string, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; its log (${logFile}):\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    try {
      await getJson(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${name} did not become healthy at ${url} within 60 s; log: ${logFile}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const samplePod = {
  metadata: { ...SAMPLE, uid: 'wattsched-sample-uid', annotations: { 'wattsched.io/expected-cpu': '0.2' } },
  spec: { containers: [{ name: 'app', resources: { requests: { cpu: '100m' } } }] },
};

async function snapshot(urls: StatusSnapshot['urls'], logDir: string, node: string): Promise<StatusSnapshot> {
  const err = (e: unknown) => ({ error: (e as Error).message });
  const report = await getJson(`${urls.agent}/v1/node`).then((r) => r as NodeReport, err);
  const modelServer = await getJson(`${urls.modelServer}/healthz`).then((h) => ({ models: (h as { models: number }).models }), err);
  const sample = await (async () => {
    await getJson(`${urls.extender}/prioritize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Pod: samplePod, NodeNames: [node] }) });
    const ex = (await getJson(`${urls.extender}/explain/${SAMPLE.namespace}/${SAMPLE.name}`)) as { demand: { cores: number; source: string; detail: string } | null; nodes: ExplainRow[]; failOpen: string | null };
    return { pod: `${SAMPLE.namespace}/${SAMPLE.name} (requests 100m, wattsched.io/expected-cpu: 0.2)`, demand: ex.demand, nodes: ex.nodes, failOpen: ex.failOpen };
  })().catch(err);
  return { at: new Date(), urls, logDir, report, modelServer, sample };
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, { frames: { type: 'string' }, 'refresh-ms': { type: 'string' }, 'ephemeral-ports': { type: 'boolean' } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const frames = intFlag(values.frames, 'frames') ?? 0;
  const refreshMs = intFlag(values['refresh-ms'], 'refresh-ms') ?? 2000;
  if (frames < 0 || refreshMs < 100) throw new WS_ERR_USAGE('--frames must be >= 0 and --refresh-ms >= 100');
  const ephemeral = values['ephemeral-ports'] === true;

  const logDir = mkdtempSync(join(tmpdir(), 'wattsched-start-'));
  const node = hostname();
  const ports = { agent: await pickPort(DEFAULT_PORTS.agent, ephemeral), modelServer: await pickPort(DEFAULT_PORTS.modelServer, ephemeral), extender: await pickPort(DEFAULT_PORTS.extender, ephemeral) };
  const urls = { agent: `http://${HOST}:${ports.agent}`, extender: `http://${HOST}:${ports.extender}`, modelServer: `http://${HOST}:${ports.modelServer}` };

  // The agent keeps its energy totals next to the logs (its default, /var/lib/wattsched, is the DaemonSet's hostPath).
  // Both ask the model server for this node's model (in the background; they start on the shipped model).
  writeFileSync(join(logDir, 'agent.json'), JSON.stringify({ power: { checkpointPath: join(logDir, 'agent-energy.json'), model: { server: { url: urls.modelServer } } } }));
  // The extender knows this one node and polls its agent every 2 s; a history counts after 3 samples.
  writeFileSync(
    join(logDir, 'extender.json'),
    JSON.stringify({
      kubernetes: { mode: 'off' },
      nodes: [{ name: node, allocatableMilliCPU: availableParallelism() * 1000 }],
      telemetry: { agents: [urls.agent], pollIntervalSeconds: 2, staleAfterSeconds: 30 },
      nodeModels: { modelServerUrl: urls.modelServer },
    }),
  );

  // Only agents holding the token may upload samples or change models; here nothing else runs, but it stays on.
  writeFileSync(join(logDir, 'model-server.token'), randomBytes(24).toString('hex'), { mode: 0o600 });
  writeFileSync(join(logDir, 'model-server.json'), JSON.stringify({ auth: { tokenFile: join(logDir, 'model-server.token') } }));

  const children: { name: string; child: ChildProcess }[] = [];
  const launch = (name: string, args: string[]): { child: ChildProcess; log: string } => {
    const log = join(logDir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    children.push({ name, child });
    return { child, log };
  };
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  };
  const onSignal = (): void => {
    void stopAll().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const agent = launch('agent', ['agent', '--node', node, '--port', String(ports.agent), '--host', HOST, '--interval', '1s', '--config', join(logDir, 'agent.json'), '--log-level', 'info']);
    const model = launch('model-server', ['model-server', '--port', String(ports.modelServer), '--host', HOST, '--data-dir', join(logDir, 'model-server'), '--config', join(logDir, 'model-server.json'), '--log-level', 'info']);
    const ext = launch('extender', ['extender', '--port', String(ports.extender), '--host', HOST, '--config', join(logDir, 'extender.json'), '--log-level', 'info']);
    console.log(`starting the agent, the model server and the extender (logs in ${logDir}) …`);
    try {
      await waitHealthy(`${urls.agent}/healthz`, agent.child, 'agent', agent.log);
      await waitHealthy(`${urls.modelServer}/healthz`, model.child, 'model server', model.log);
      await waitHealthy(`${urls.extender}/healthz`, ext.child, 'extender', ext.log);
    } catch (e) {
      console.error(`wattsched start: ${(e as Error).message}`);
      process.exitCode = 1;
      return;
    }
    for (const { name, child } of children) {
      child.once('exit', (code, signal) => {
        if (stopping) return;
        console.error(`\n${name} stopped unexpectedly (${signal ?? `code ${code}`}); its log is in ${logDir}/${name}.log`);
        void stopAll().then(() => process.exit(1));
      });
    }
    const tty = process.stdout.isTTY === true;
    for (let i = 0; frames === 0 || i < frames; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, refreshMs));
      const text = renderStatus(await snapshot(urls, logDir, node));
      // On a terminal the frame is redrawn in place; in a pipe or log each frame follows the last.
      process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
    }
  } finally {
    await stopAll();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
