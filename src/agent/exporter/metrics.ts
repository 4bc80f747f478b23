// What /metrics serves. Every value is read at scrape time from the monitor's latest report and the energy ledger
// (both replaced whole once per interval), so one scrape is one consistent interval. Labels are pod, namespace,
// container, workload, zone and source only; cgroups that are not pods arrive already rolled into system rows.
import { Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { registerProcessMetrics } from '../../shared/process-metrics.js';
import { METRICS } from '../../shared/names.js';
import type { Monitor } from '../monitor/monitor.js';

export interface MetricsOptions {
  /** Also export Kepler v0.10-v0.11 names (kepler_{node,pod,container}_cpu_*). */
  keplerNames: boolean;
  node: string;
}

type Set = (labels: Record<string, string>, v: number) => void;

/** One series of a mirror: its label set and, formatted once, the part of its line before the value. */
interface Series {
  labels: Record<string, string>;
  /** `name{a="x",b="y"} `, escaped as the text format says. */
  head: string;
  value: number;
}

/** Label values as Prometheus text format 0.0.4 writes them (prom-client's escaping): \\, \n, then \". */
const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A sample value as prom-client writes it. */
function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/**
 * A metric whose series are read at scrape time (from the ledger, the latest report, the meters), registered with
 * the prom-client registry. It replaces a Counter or Gauge reset and refilled in collect(): prom-client hashes every
 * label set on each inc()/set(), which at 1,500 series was 4.7 MB of garbage per scrape. Equal label sets merge as
 * they did there: a counter adds (two UIDs of one StatefulSet pod name), a gauge keeps the last value.
 *
 * The registry (AgentRegistry) asks a mirror for its text directly: each series' line up to its value is formatted
 * once per label set and kept from one scrape to the next, so a scrape only appends values. prom-client's own
 * formatting of the same series (label arrays, filters and joins per series) was most of a scrape's CPU and
 * garbage, and its loops were among the larger optimising compiles of the agent's first minute. The text is the
 * same as prom-client's: labels in the set's key order, escaped and valued the same way.
 */
class Mirror {
  /** The previous scrape's series by label key; label sets not seen in a scrape are dropped (their cached text too). */
  private previous = new Map<string, Series>();
  private readonly header: string;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly labelNames: readonly string[],
    private readonly fill: (set: Set) => void,
  ) {
    this.header = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}`;
  }

  private collect(): Series[] {
    const values: Series[] = [];
    const at = new Map<string, Series>();
    const before = this.previous;
    this.fill((labels, value) => {
      let key = '';
      for (const n of this.labelNames) key += `${labels[n]}\u0000`;
      const seen = at.get(key);
      if (seen === undefined) {
        const series = { labels, head: before.get(key)?.head ?? this.head(labels), value: this.type === 'counter' ? 0 + value : value };
        at.set(key, series);
        values.push(series);
      } else if (this.type === 'counter') seen.value += value;
      else seen.value = value;
    });
    this.previous = at;
    return values;
  }

  private head(labels: Record<string, string>): string {
    let text = '';
    for (const k of Object.keys(labels)) text += `${text === '' ? '' : ','}${k}="${escapeLabel(labels[k] as string)}"`;
    return text === '' ? `${this.name} ` : `${this.name}{${text}} `;
  }

  /** The metric family in the text format, as prom-client's registry would write it. */
  text(): string {
    let out = this.header;
    for (const s of this.collect()) out += `\n${s.head}${valueText(s.value)}`;
    return out;
  }

  /** prom-client's form (getMetricsAsJSON); /metrics uses text(). */
  get(): { name: string; help: string; type: 'counter' | 'gauge'; values: { labels: Record<string, string>; value: number }[]; aggregator: 'sum' } {
    return { name: this.name, help: this.help, type: this.type, values: this.collect().map((s) => ({ labels: s.labels, value: s.value })), aggregator: 'sum' };
  }

  reset(): void {}
}

/** How prom-client 15's registry formats one metric for metrics(); a method its typings leave out. */
export type FormatOne = { getMetricsAsString(metric: Metric): Promise<string> };
const formatOne = (Registry.prototype as unknown as FormatOne).getMetricsAsString;

/**
 * prom-client's registry, with mirrors formatted by themselves (see Mirror). Should a later prom-client stop calling
 * this method, its own formatting of Mirror.get() writes the same text, only dearer.
 */
class AgentRegistry extends Registry {
  async getMetricsAsString(metric: Metric): Promise<string> {
    return metric instanceof Mirror ? metric.text() : formatOne.call(this, metric);
  }
}

function mirror(reg: Registry, type: 'counter' | 'gauge', name: string, help: string, labelNames: string[], fill: (set: Set) => void): void {
  reg.registerMetric(new Mirror(name, help, type, labelNames, fill) as unknown as Metric);
}

/** A counter whose value is the ledger's monotonic total. */
const mirrorCounter = (reg: Registry, name: string, help: string, labelNames: string[], fill: (set: Set) => void) => mirror(reg, 'counter', name, help, labelNames, fill);
const mirrorGauge = (reg: Registry, name: string, help: string, labelNames: string[], fill: (set: Set) => void) => mirror(reg, 'gauge', name, help, labelNames, fill);

export function createMetrics(monitor: Monitor, opts: MetricsOptions = { keplerNames: false, node: '' }): { registry: Registry; observeRead: (s: number) => void } {
  const reg: Registry = new AgentRegistry();
  const prefix = 'wattsched_agent_';
  // The event-loop-lag monitor samples every 10 ms by default, which alone cost 0.6% of a core here; once a second
  // keeps the metric and keeps the agent's idle cost near zero.
  registerProcessMetrics(reg, prefix, { eventLoopMonitoringPrecision: 1000 });
  const M = METRICS.agent;
  const latest = () => monitor.latest();
  mirrorGauge(reg, M.counterAvailable, 'Whether a counter (cpu_time, cycles, ...) is measured live by the active collector (1) or not (0).', ['counter'], (set) => {
    const counters = latest()?.counters ?? monitor.collector.counters();
    for (const [counter, s] of Object.entries(counters)) set({ counter }, s.live ? 1 : 0);
  });
  mirrorGauge(reg, M.collectorActive, 'The collector in use (value 1), with the reason when it is the fallback.', ['collector', 'variant', 'reason'], (set) => {
    const s = monitor.collector.status();
    set({ collector: s.name, variant: s.variant, reason: s.reason ?? '' }, 1);
  });
  new Gauge({ name: M.trackedCgroups, help: 'Cgroups in the latest reading.', registers: [reg], collect() { this.set(latest()?.cgroups.length ?? 0); } });
  new Gauge({ name: M.droppedCgroups, help: 'Cgroups the eBPF map had no room for since start.', registers: [reg], collect() { this.set(latest()?.droppedCgroups ?? 0); } });
  const readDuration = new Histogram({
    name: M.readDuration,
    help: 'Time one collector reading takes, seconds.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [reg],
  });
  new Counter({ name: M.powerErrors, help: 'Intervals whose power accounting failed (the report then has no power section).', registers: [reg], collect() { this.reset(); this.inc(monitor.powerErrors); } });

  const energy = monitor.energy;
  if (energy !== undefined) {
    const ledger = energy.ledger;
    const power = () => latest()?.power;
    mirrorGauge(reg, M.nodeWatts, 'Node power, watts, by the source of the base layer (acpi, rapl, hwmon, model; GPUs added).', ['source'], (set) => {
      if (ledger.node !== null) set({ source: ledger.node.source }, ledger.node.watts);
    });
    mirrorCounter(reg, M.nodeJoules, 'Node energy, joules, by source.', ['source'], (set) => {
      for (const [source, j] of ledger.nodeJoules) set({ source }, j);
    });
    mirrorGauge(reg, M.nodeZoneWatts, 'Power of each meter zone, watts (sub-zones such as RAPL core are inside their package).', ['source', 'zone'], (set) => {
      for (const z of power()?.zones ?? []) set({ source: z.source, zone: z.zone }, z.watts);
    });
    mirrorCounter(reg, M.nodeZoneJoules, 'Energy of each meter zone, joules.', ['source', 'zone'], (set) => {
      for (const z of ledger.zones.values()) set({ source: z.source, zone: z.zone }, z.joules);
    });
    mirrorGauge(reg, M.nodeIdleWatts, 'Idle part of node power, watts: the model curve at 0 % or the lowest measured reading.', ['source'], (set) => {
      const p = power();
      if (p) set({ source: p.source }, p.idleWatts);
    });
    new Gauge({ name: M.nodeCpuUtilisation, help: 'Busy fraction of all CPUs over the last interval (/proc/stat).', registers: [reg], collect() { this.set(power()?.cpuUtilisation ?? 0); } });
    mirrorGauge(reg, M.nodeModelInfo, 'The model behind source="model" (value 1), by model id.', ['source', 'model'], (set) => {
      const p = power();
      if (p?.model) set({ source: 'model', model: p.model.id }, 1);
    });
    mirrorGauge(reg, M.nodeModelError, "The node model's known error: grouped cross-validation mean absolute percentage error, as a ratio.", ['source', 'model'], (set) => {
      const p = power();
      if (p?.model && p.model.errorPercent !== null) set({ source: 'model', model: p.model.id }, p.model.errorPercent / 100);
    });
    new Gauge({ name: M.residual, help: '|pods + system rows - node| / node power over the last interval.', registers: [reg], collect() { this.set(ledger.residualRatio()); } });
    mirrorGauge(reg, M.meterState, 'Each power meter (acpi, rapl, hwmon, nvidia, model) by state (active, standby, unavailable, failed); value 1.', ['meter', 'state'], (set) => {
      for (const m of energy.power.states()) set({ meter: m.name, state: m.state }, 1);
    });
    mirrorCounter(reg, M.meterFailures, 'Times a meter failed mid-run and the next layer took over.', ['meter'], (set) => {
      for (const m of energy.power.states()) set({ meter: m.name }, m.failures);
    });
    new Counter({ name: M.droppedSeries, help: 'Pods beyond power.maxPods, charged to the system row "overflow" instead of their own series.', registers: [reg], collect() { this.reset(); this.inc(ledger.droppedSeries); } });
    new Counter({ name: M.checkpointFailures, help: 'Checkpoint writes that failed.', registers: [reg], collect() { this.reset(); this.inc(energy.checkpointFailures); } });

    const podLabels = ['pod', 'namespace', 'workload'];
    const pods = (pick: (p: (typeof ledger.pods extends Map<string, infer V> ? V : never)) => number) => (set: Set) => {
      for (const p of ledger.pods.values()) set({ pod: p.pod, namespace: p.namespace, workload: p.workload }, pick(p));
    };
    mirrorGauge(reg, M.podWatts, 'Power attributed to the pod over the last interval, watts (0 once it finished).', podLabels, pods((p) => p.watts));
    mirrorCounter(reg, M.podJoules, 'Energy attributed to the pod, joules; kept across container churn and agent restarts.', podLabels, pods((p) => p.totals.joules));
    mirrorCounter(reg, M.podCpuSeconds, 'On-CPU seconds of the pod, all its containers past and present.', podLabels, pods((p) => p.totals.cpuSeconds));
    mirrorCounter(reg, M.podContextSwitches, 'Context switches of the pod, all its containers past and present.', podLabels, pods((p) => p.totals.contextSwitches));
    const ctLabels = ['pod', 'namespace', 'container'];
    const containers = (pick: (t: { watts: number; joules: number; cpuSeconds: number }) => number) => (set: Set) => {
      for (const p of ledger.pods.values()) for (const [container, t] of p.containers) set({ pod: p.pod, namespace: p.namespace, container }, pick(t));
    };
    mirrorGauge(reg, M.containerWatts, 'Power attributed to the container (by name; restarts share the series), watts.', ctLabels, containers((t) => t.watts));
    mirrorCounter(reg, M.containerJoules, 'Energy attributed to the container, joules.', ctLabels, containers((t) => t.joules));
    mirrorCounter(reg, M.containerCpuSeconds, 'On-CPU seconds of the container.', ctLabels, containers((t) => t.cpuSeconds));
    const wl = (pick: (w: { watts: number; totals: { joules: number } }) => number) => (set: Set) => {
      for (const w of ledger.workloads.values()) set({ namespace: w.namespace, workload: w.workload }, pick(w));
    };
    mirrorGauge(reg, M.workloadWatts, 'Power attributed to the workload (namespace/Kind/name), watts.', ['namespace', 'workload'], wl((w) => w.watts));
    mirrorCounter(reg, M.workloadJoules, 'Energy attributed to the workload, joules.', ['namespace', 'workload'], wl((w) => w.totals.joules));
    const sys = (pick: (t: { watts: number; joules: number; cpuSeconds: number }) => number) => (set: Set) => {
      for (const [workload, t] of ledger.system) set({ workload }, pick(t));
    };
    mirrorGauge(reg, M.systemWatts, 'Power of what is not a pod (system slices, root, other, kernel, idle, gpu, overflow), watts.', ['workload'], sys((t) => t.watts));
    mirrorCounter(reg, M.systemJoules, 'Energy of the system rows, joules.', ['workload'], sys((t) => t.joules));
    mirrorCounter(reg, M.systemCpuSeconds, 'On-CPU seconds of the system rows (kernel: /proc/stat busy time no cgroup was charged).', ['workload'], sys((t) => t.cpuSeconds));

    if (opts.keplerNames) {
      const K = METRICS.kepler;
      const latestAt = () => Math.max(0, ...[...ledger.pods.values()].map((p) => p.lastSeenMs));
      mirrorCounter(reg, K.nodeJoules, 'Kepler-compatible: node energy per zone, joules.', ['zone', 'path', 'node_name'], (set) => {
        for (const z of ledger.zones.values()) set({ zone: z.zone, path: '', node_name: opts.node }, z.joules);
      });
      mirrorGauge(reg, K.nodeWatts, 'Kepler-compatible: node power per zone, watts.', ['zone', 'path', 'node_name'], (set) => {
        for (const z of power()?.zones ?? []) set({ zone: z.zone, path: '', node_name: opts.node }, z.watts);
      });
      const podK = ['pod_id', 'pod_name', 'pod_namespace', 'state', 'zone'];
      const podKSeries = (pick: (p: { watts: number; totals: { joules: number } }) => number) => (set: Set) => {
        const at = latestAt();
        for (const p of ledger.pods.values()) set({ pod_id: p.uid, pod_name: p.pod, pod_namespace: p.namespace, state: p.lastSeenMs < at ? 'terminated' : 'running', zone: 'package' }, pick(p));
      };
      mirrorCounter(reg, K.podJoules, 'Kepler-compatible: pod energy (all zones, labelled package), joules.', podK, podKSeries((p) => p.totals.joules));
      mirrorGauge(reg, K.podWatts, 'Kepler-compatible: pod power, watts.', podK, podKSeries((p) => p.watts));
      const ctK = ['container_id', 'container_name', 'runtime', 'pod_id', 'state', 'zone'];
      const ctKSeries = (pick: (t: { watts: number; joules: number }) => number) => (set: Set) => {
        const at = latestAt();
        for (const p of ledger.pods.values()) {
          const state = p.lastSeenMs < at ? 'terminated' : 'running';
          for (const [name, t] of p.containers) set({ container_id: '', container_name: name, runtime: '', pod_id: p.uid, state, zone: 'package' }, pick(t));
        }
      };
      mirrorCounter(reg, K.containerJoules, 'Kepler-compatible: container energy (by name), joules.', ctK, ctKSeries((t) => t.joules));
      mirrorGauge(reg, K.containerWatts, 'Kepler-compatible: container power, watts.', ctK, ctKSeries((t) => t.watts));
    }
  }
  return { registry: reg, observeRead: (s) => readDuration.observe(s) };
}
