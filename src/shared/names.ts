// Every name that users, dashboards or other components rely on lives here, so a rename is one edit and a grep.

export const ANNOTATION_PREFIX = 'wattsched.io/';

export const ANNOTATIONS = {
  /** 11 watts values at 0,10,…,100 % load, comma separated (a JSON array is accepted too). */
  powerCurve: `${ANNOTATION_PREFIX}power-curve`,
  /** Node power cap in watts: the extender filters out nodes whose predicted power with the pod exceeds it. */
  powerCapWatts: `${ANNOTATION_PREFIX}power-cap-watts`,
  /** Overrides the workload identity used for profiles (default: derived from the owner chain). */
  workload: `${ANNOTATION_PREFIX}workload`,
} as const;

export const DEFAULT_PORTS = {
  extender: 8888,
  agent: 9102,
  modelServer: 8100,
} as const;

export const METRIC_PREFIX = 'wattsched_';

/** Metric names, grouped by the component that exports them. */
export const METRICS = {
  extender: {
    requestDuration: 'wattsched_extender_request_duration_seconds',
    requestNodes: 'wattsched_extender_request_nodes',
    errors: 'wattsched_extender_errors_total',
    decisions: 'wattsched_extender_decisions_total',
    failOpen: 'wattsched_extender_fail_open_total',
    nodeCacheNodes: 'wattsched_extender_node_cache_nodes',
    shed: 'wattsched_extender_shed_total',
    assumedPods: 'wattsched_extender_assumed_pods',
    inFlight: 'wattsched_extender_requests_in_flight',
    bufferedBytes: 'wattsched_extender_buffered_request_bytes',
  },
  agent: {
    counterAvailable: 'wattsched_agent_counter_available',
    collectorActive: 'wattsched_agent_collector_active',
    cgroupCpuSeconds: 'wattsched_cgroup_cpu_seconds_total',
    cgroupContextSwitches: 'wattsched_cgroup_context_switches_total',
    podCpuSeconds: 'wattsched_pod_cpu_seconds_total',
    readDuration: 'wattsched_agent_read_duration_seconds',
    trackedCgroups: 'wattsched_agent_tracked_cgroups',
    droppedCgroups: 'wattsched_agent_dropped_cgroups',
    cgroupCycles: 'wattsched_cgroup_cycles_total',
    cgroupInstructions: 'wattsched_cgroup_instructions_total',
    cgroupCacheMisses: 'wattsched_cgroup_cache_misses_total',
    podContextSwitches: 'wattsched_pod_context_switches_total',
  },
  modelServer: {
    models: 'wattsched_model_server_models',
    samples: 'wattsched_model_server_samples_total',
    retrains: 'wattsched_model_server_retrains_total',
  },
} as const;

export const SUBCOMMANDS = ['extender', 'agent', 'model-server', 'train', 'evaluate', 'sim'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

/** Environment variable prefix for configuration overrides, e.g. WATTSCHED_EXTENDER_PORT. */
export const ENV_PREFIX = 'WATTSCHED_';
