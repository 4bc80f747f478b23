// The node's counter rates over one interval, named as the model server's counters models see them (per second of
// wall time): what the agent pushes as training windows and what a counters model is fed for node power, so a
// model always gets exactly the inputs it was trained on. The PMU names are those of the nx12 training data, which
// counts the same events; cpu_seconds_per_s is the node's busy CPU from /proc/stat.
import type { NodeReport } from '../../shared/wire/agent.js';

const PER_CGROUP = [
  ['context_switches', 'contextSwitches', 'context_switches_per_s'],
  ['cycles', 'cycles', 'cpu_cycles_per_s'],
  ['instructions', 'instructions', 'cpu_instructions_per_s'],
  ['cache_misses', 'cacheMisses', 'cache_miss_per_s'],
] as const;

/** Pure: busy CPU plus every counter that was live this interval, summed over the cgroups (the node's total). */
export function nodeCounterRates(report: Pick<NodeReport, 'counters' | 'cgroups'>, busyCpuSeconds: number, seconds: number): Record<string, number> {
  const counters: Record<string, number> = { cpu_seconds_per_s: busyCpuSeconds / seconds };
  for (const [status, key, name] of PER_CGROUP) {
    if (report.counters[status]?.live !== true) continue;
    // The collectors count each cgroup's own work (fallback subtracts children), so the sum is the node's.
    let sum = 0;
    for (const c of report.cgroups) sum += c.rates[key] ?? 0;
    counters[name] = sum;
  }
  return counters;
}
