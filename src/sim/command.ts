// `wattsched sim`: replay a pod trace onto measured servers under each policy and print energy, unschedulable pods,
// peak power and powered nodes next to the bound.
import { parseFlags } from '../shared/cli.js';
import { WS_ERR_USAGE } from '../shared/errors.js';
import { buildNodes, readPods, readServers, withoutMemory } from './data.js';
import { compare, POLICY_NAMES, savingShare, type Comparison, type PolicyName } from './run.js';
import { DEFAULT_USAGE, parseUsage, podUsage } from './usage.js';

const USAGE = `usage: wattsched sim --trace CSV --servers CSV [--copies K] [--power-down-after SECONDS] [--usage SPEC]
                     [--policy ${POLICY_NAMES.join(',')}] [--seed N] [--memory] [--json] [--plot FILE.png]
  --trace     pods with the columns of the Alibaba openb pod list (cpu_milli, memory_mib, creation_time, deletion_time)
  --servers   SPECpower rows (threads, memory_gb, watts_idle … watts_100); one node per row, or K copies of each
  --usage     what pods use: a factor of their CPU request (default ${DEFAULT_USAGE}), uniform:LO,HI or beta:A,B per pod
  --power-down-after  switch a node off once it has been empty this long (default: always on)
  --memory    also filter and score on memory (memory_mib against memory_gb); the bound still splits CPU only`;

export interface SimReport {
  readonly policies: Record<string, { energy_kwh: number; unschedulable: number; peak_watts: number; mean_nodes_on: number }>;
  readonly bound: { energy_kwh: number };
}

const r3 = (x: number): number => Number(x.toFixed(3));

export function report(c: Comparison): SimReport {
  const policies: SimReport['policies'] = {};
  for (const r of c.results) policies[r.policy] = { energy_kwh: r3(r.energyKWh), unschedulable: r.unschedulable, peak_watts: r3(r.peakWatts), mean_nodes_on: r3(r.meanNodesOn) };
  return { policies, bound: { energy_kwh: r3(c.boundKWh) } };
}

export function table(c: Comparison): string {
  const def = c.results.find((r) => r.policy === 'default');
  const head = `${'policy'.padEnd(10)}${'energy kWh'.padStart(14)}${'unschedulable'.padStart(15)}${'peak W'.padStart(10)}${'nodes on'.padStart(10)}${'saving share'.padStart(14)}`;
  const rows = c.results.map((r) => {
    const share = def ? savingShare(def.energyKWh, r.energyKWh, c.boundKWh) : NaN;
    return `${r.policy.padEnd(10)}${r.energyKWh.toFixed(1).padStart(14)}${String(r.unschedulable).padStart(15)}${r.peakWatts.toFixed(0).padStart(10)}${r.meanNodesOn.toFixed(2).padStart(10)}${(Number.isNaN(share) ? '-' : `${(100 * share).toFixed(1)} %`).padStart(14)}`;
  });
  return [head, ...rows, `${'bound'.padEnd(10)}${c.boundKWh.toFixed(1).padStart(14)}${'-'.padStart(15)}${'-'.padStart(10)}${'-'.padStart(10)}${'100.0 %'.padStart(14)}`].join('\n');
}

function policyList(text: string | undefined): PolicyName[] {
  if (text === undefined) return [...POLICY_NAMES];
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !(POLICY_NAMES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) throw new WS_ERR_USAGE(`--policy: unknown ${unknown.join(', ') || '(empty)'}; choose from ${POLICY_NAMES.join(', ')}`);
  return names as PolicyName[];
}

function positive(text: string | undefined, flag: string, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0 || (integer && (!Number.isInteger(v) || v < 1))) throw new WS_ERR_USAGE(`--${flag} must be a ${integer ? 'positive integer' : 'non-negative number'}, got ${JSON.stringify(text)}`);
  return v;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseFlags(
    argv,
    {
      trace: { type: 'string' },
      servers: { type: 'string' },
      copies: { type: 'string' },
      'power-down-after': { type: 'string' },
      usage: { type: 'string' },
      policy: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      plot: { type: 'string' },
      memory: { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.trace || !values.servers) throw new WS_ERR_USAGE(`--trace and --servers are required\n\n${USAGE}`);
  const copies = positive(values.copies, 'copies', true) ?? 1;
  const powerDownAfterS = positive(values['power-down-after'], 'power-down-after', false);
  const seed = positive(values.seed, 'seed', true) ?? 1;
  const policies = policyList(values.policy);
  const usageSpec = parseUsage(values.usage ?? DEFAULT_USAGE);
  const traced = readPods(values.trace);
  const pods = values.memory ? traced : withoutMemory(traced);
  const nodes = buildNodes(readServers(values.servers), copies);

  // Progress goes to stderr so that --json output stays one clean object on stdout.
  let lastPct = -1;
  const onProgress = process.stderr.isTTY || process.env.WATTSCHED_PROGRESS
    ? (policy: string, done: number, total: number): void => {
        const pct = Math.floor((100 * done) / total);
        if (pct === lastPct) return;
        lastPct = pct;
        process.stderr.write(`\r${policy.padEnd(10)} ${String(pct).padStart(3)} % of ${total} events`);
        if (done === total) process.stderr.write('\n');
      }
    : undefined;
  const c = await compare(pods, nodes, policies, { usageMilli: podUsage(pods, usageSpec, seed), seed, ...(powerDownAfterS !== undefined ? { powerDownAfterS } : {}), ...(onProgress ? { onProgress } : {}) });
  if (values.plot) {
    const { writePowerPlot } = await import('./plot.js');
    await writePowerPlot(values.plot, c, { powerDownAfterS });
  }
  if (values.json) console.log(JSON.stringify(report(c)));
  else {
    const scenario = powerDownAfterS === undefined ? 'always-on' : `power-down after ${powerDownAfterS} s`;
    console.log(`${pods.length} pods on ${nodes.length} nodes, ${scenario}, usage ${values.usage ?? DEFAULT_USAGE}${values.memory ? ', memory filtered' : ''}\n`);
    console.log(table(c));
    if (values.plot) console.log(`\nplot: ${values.plot}`);
  }
}
