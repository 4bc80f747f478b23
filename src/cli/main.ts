#!/usr/bin/env node
// The single `wattsched` entry point. Subcommands load lazily so `wattsched extender` never pulls in the agent's
// native addon or onnxruntime unless it needs them.
import { SUBCOMMANDS, type Subcommand } from '../shared/names.js';

export type CommandMain = (argv: string[]) => Promise<void>;

const COMMANDS: Partial<Record<Subcommand, { summary: string; load: () => Promise<{ main: CommandMain }> }>> = {
  extender: { summary: 'serve the kube-scheduler extender webhooks (filter, prioritize, preempt)', load: () => import('../extender/command.js') },
  agent: { summary: 'collect per-cgroup/pod CPU counters on this node (eBPF or cgroupfs) and serve them', load: () => import('../agent/command.js') },
  train: { summary: 'train a power model (curve, shape or counters task) to ONNX', load: () => import('../model/commands/train.js') },
  evaluate: { summary: 'evaluate an ONNX power model on a CSV (MAPE, RMSE, worst group)', load: () => import('../model/commands/evaluate.js') },
  sim: { summary: 'replay a pod trace onto measured servers: energy per policy against the default scheduler and the optimum', load: () => import('../sim/command.js') },
  start: { summary: 'run the agent, the model server and the extender on this machine and show a live status (npm start)', load: () => import('../demo/start.js') },
  'model-server': { summary: 'serve power models by hardware fingerprint, collect samples, retrain', load: () => import('../model/server/command.js') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`);
  return `usage: wattsched <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'wattsched <command> --help' for a command's options.`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = (SUBCOMMANDS as readonly string[]).includes(name) ? COMMANDS[name as Subcommand] : undefined;
  if (!entry) {
    console.error(`wattsched: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = await entry.load();
  try {
    await mod.main(rest);
    return 0;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // Typed errors are the user's to fix (bad flag, bad config): print the reason, not a stack.
    if (typeof e.code === 'string' && e.code.startsWith('WS_ERR_')) {
      console.error(`wattsched ${name}: ${e.code}: ${e.message}`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await run(process.argv.slice(2));
