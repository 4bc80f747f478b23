// Node process metrics (CPU, memory, event-loop lag, GC) for every component's registry, under its own prefix.
import { collectDefaultMetrics, type Registry } from 'prom-client';

// prom-client names three gauges *_total, which `promtool check metrics` rejects (only counters may end in _total);
// nothing of ours reads them, so they are left out rather than renamed.
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function registerProcessMetrics(registry: Registry, prefix: string, opts: { eventLoopMonitoringPrecision?: number } = {}): void {
  collectDefaultMetrics({ register: registry, prefix, ...opts });
  for (const m of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(`${prefix}${m}`);
}
