// Every name that users, dashboards or other components rely on lives here, so a rename is one edit and a grep.

export const ANNOTATION_PREFIX = 'wattsched.io/';

export const ANNOTATIONS = {
  /** 11 watts values at 0,10,…,100 % load, comma separated (a JSON array is accepted too). */
  powerCurve: `${ANNOTATION_PREFIX}power-curve`,
  /** Node power cap in watts: the extender filters out nodes whose predicted power with the pod exceeds it. */
  powerCapWatts: `${ANNOTATION_PREFIX}power-cap-watts`,
  /** Overrides the workload identity used for profiles (default: derived from the owner chain). */
  workload: `${ANNOTATION_PREFIX}workload`,
  /** Pod: expected CPU use in cores, the cold-start hint used while its workload has no measured history. */
  expectedCpu: `${ANNOTATION_PREFIX}expected-cpu`,
  /** Pod: energy (default), balanced (blend with spreading) or off (neutral scores). */
  policy: `${ANNOTATION_PREFIX}policy`,
  /** Pod, set by the extender once bound: the marginal watts it predicted for the node the pod landed on. */
  predictedWatts: `${ANNOTATION_PREFIX}predicted-watts`,
  /** Pod, set with predicted-watts: the power model (curve source) that prediction came from. */
  predictedModel: `${ANNOTATION_PREFIX}predicted-model`,
  /** Pod, set by its node's agent: the watts attributed to the pod, averaged over the agent's last window. */
  observedWatts: `${ANNOTATION_PREFIX}observed-watts`,
} as const;

export const DEFAULT_PORTS = {
  extender: 8888,
  /** The extender's health thread (/healthz, /readyz for kubelet probes). */
  extenderHealth: 8889,
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
    staleTelemetry: 'wattsched_extender_stale_telemetry_nodes_total',
    telemetryNodes: 'wattsched_extender_telemetry_nodes',
    agentPolls: 'wattsched_extender_agent_polls_total',
    profileWorkloads: 'wattsched_extender_profile_workloads',
    demandSource: 'wattsched_extender_demand_source_total',
    predictionError: 'wattsched_prediction_error_ratio',
    inFlight: 'wattsched_extender_requests_in_flight',
    bufferedBytes: 'wattsched_extender_buffered_request_bytes',
    profileQueries: 'wattsched_extender_profile_queries_total',
    profileSourceUp: 'wattsched_extender_profile_source_up',
    telemetryForgotten: 'wattsched_extender_telemetry_forgotten_nodes_total',
    annotationPatches: 'wattsched_extender_annotation_patches_total',
    annotationQueue: 'wattsched_extender_annotation_queued_pods',
    modelServerFetches: 'wattsched_extender_model_server_fetches_total',
    nodeModels: 'wattsched_extender_node_model_fingerprints',
  },
  agent: {
    counterAvailable: 'wattsched_agent_measurement_available',
    collectorActive: 'wattsched_agent_collector_active',
    podCpuSeconds: 'wattsched_pod_cpu_seconds_total',
    readDuration: 'wattsched_agent_read_duration_seconds',
    trackedCgroups: 'wattsched_agent_tracked_cgroups',
    droppedCgroups: 'wattsched_agent_dropped_cgroups',
    podContextSwitches: 'wattsched_pod_context_switches_total',
    nodeWatts: 'wattsched_node_watts',
    nodeJoules: 'wattsched_node_joules_total',
    nodeZoneWatts: 'wattsched_node_zone_watts',
    nodeZoneJoules: 'wattsched_node_zone_joules_total',
    nodeIdleWatts: 'wattsched_node_idle_watts',
    nodeCpuUtilisation: 'wattsched_node_cpu_utilisation_ratio',
    nodeModelInfo: 'wattsched_node_model_info',
    nodeModelError: 'wattsched_node_model_error_ratio',
    residual: 'wattsched_attribution_residual_ratio',
    podWatts: 'wattsched_pod_watts',
    podJoules: 'wattsched_pod_joules_total',
    containerWatts: 'wattsched_container_watts',
    containerJoules: 'wattsched_container_joules_total',
    containerCpuSeconds: 'wattsched_container_cpu_seconds_total',
    workloadWatts: 'wattsched_workload_watts',
    workloadJoules: 'wattsched_workload_joules_total',
    systemWatts: 'wattsched_system_watts',
    systemJoules: 'wattsched_system_joules_total',
    systemCpuSeconds: 'wattsched_system_cpu_seconds_total',
    meterState: 'wattsched_agent_meter_state',
    meterFailures: 'wattsched_agent_meter_failures_total',
    droppedSeries: 'wattsched_agent_dropped_series_total',
    checkpointFailures: 'wattsched_agent_checkpoint_failures_total',
    powerErrors: 'wattsched_agent_power_errors_total',
    pushWindows: 'wattsched_agent_push_windows_total',
    pushSkippedIntervals: 'wattsched_agent_push_skipped_intervals_total',
    pushRequests: 'wattsched_agent_push_requests_total',
    pushQueued: 'wattsched_agent_push_queued_windows',
    annotationPatches: 'wattsched_agent_annotation_patches_total',
    annotationQueue: 'wattsched_agent_annotation_queued_pods',
  },
  /** Kepler v0.10-v0.11 names, exported alongside when metrics.keplerNames is on. */
  kepler: {
    nodeJoules: 'kepler_node_cpu_joules_total',
    nodeWatts: 'kepler_node_cpu_watts',
    podJoules: 'kepler_pod_cpu_joules_total',
    podWatts: 'kepler_pod_cpu_watts',
    containerJoules: 'kepler_container_cpu_joules_total',
    containerWatts: 'kepler_container_cpu_watts',
  },
  modelServer: {
    models: 'wattsched_model_server_models',
    samples: 'wattsched_model_server_samples_total',
    retrains: 'wattsched_model_server_retrains_total',
    skippedRecords: 'wattsched_model_server_skipped_records_total',
    sampleBytes: 'wattsched_model_server_sample_bytes',
  },
} as const;

export const SUBCOMMANDS = ['extender', 'agent', 'model-server', 'train', 'evaluate', 'sim', 'start'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

/** Environment variable prefix for configuration overrides, e.g. WATTSCHED_EXTENDER_PORT. */
export const ENV_PREFIX = 'WATTSCHED_';
