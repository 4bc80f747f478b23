// What the agent serves on GET /v1/node and prints for `wattsched agent --once --json`. Consumers (the model
// trainer, the extender's feeders, users with curl) depend on these field names; change them only additively.
import Type, { type Static } from 'typebox';
import { FingerprintSchema, NodeHardwareSchema } from './model.js';

export const COUNTER_NAMES = ['cpu_time', 'context_switches', 'cycles', 'instructions', 'cache_misses', 'cpu_pressure'] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

/** Cumulative values, or per second of wall time when used as rates (then cpuSeconds reads as CPU cores). */
export const CountersSchema = Type.Object(
  {
    cpuSeconds: Type.Number({ minimum: 0 }),
    contextSwitches: Type.Optional(Type.Number({ minimum: 0 })),
    cycles: Type.Optional(Type.Number({ minimum: 0 })),
    instructions: Type.Optional(Type.Number({ minimum: 0 })),
    cacheMisses: Type.Optional(Type.Number({ minimum: 0 })),
    /** cgroup v2 cpu.pressure "some" total: time at least one task waited for a CPU. */
    cpuPressureSomeSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const CounterStatusSchema = Type.Object(
  {
    live: Type.Boolean(),
    /** Why a counter is off, or how a live one is measured (e.g. "live threads only"). */
    detail: Type.String(),
  },
  { additionalProperties: false },
);

export const QosSchema = Type.Union([Type.Literal('guaranteed'), Type.Literal('burstable'), Type.Literal('besteffort')]);

export const CgroupOwnerSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('pod'), Type.Literal('system'), Type.Literal('group')]),
    /** Pod UID with dashes, for kind=pod. */
    podUid: Type.Optional(Type.String()),
    containerId: Type.Optional(Type.String()),
    runtime: Type.Optional(Type.String()),
    qos: Type.Optional(QosSchema),
    /** For kind=group/system: the path's most telling component, e.g. "ssh.service". */
    name: Type.String(),
  },
  { additionalProperties: false },
);

export const WorkloadSchema = Type.Object(
  {
    kind: Type.Union([
      Type.Literal('Deployment'),
      Type.Literal('StatefulSet'),
      Type.Literal('DaemonSet'),
      Type.Literal('Job'),
      Type.Literal('CronJob'),
      Type.Literal('ReplicaSet'),
      Type.Literal('Pod'),
      Type.Literal('Other'),
    ]),
    namespace: Type.String(),
    name: Type.String(),
    /** "namespace/Kind/name", or the wattsched.io/workload annotation when present. */
    id: Type.String(),
  },
  { additionalProperties: false },
);

export const CgroupReportSchema = Type.Object(
  {
    /** cgroup id (the v2 cgroup's inode number; for v1 the cpuacct directory's). */
    id: Type.String(),
    /** Path relative to the hierarchy root, null when the cgroup came and went between two walks. */
    path: Type.Union([Type.String(), Type.Null()]),
    /** Gone from cgroupfs: these are its final counts, reported once more before being freed. */
    exited: Type.Boolean(),
    owner: CgroupOwnerSchema,
    cumulative: CountersSchema,
    rates: CountersSchema,
  },
  { additionalProperties: false },
);

export const PodReportSchema = Type.Object(
  {
    uid: Type.String(),
    namespace: Type.Union([Type.String(), Type.Null()]),
    name: Type.Union([Type.String(), Type.Null()]),
    qos: Type.Union([QosSchema, Type.Null()]),
    workload: Type.Union([WorkloadSchema, Type.Null()]),
    containers: Type.Array(Type.String()),
    cumulative: CountersSchema,
    rates: CountersSchema,
    /** Attributed power: watts this interval, and monotonic totals that survive container churn and restarts. */
    energy: Type.Optional(
      Type.Object(
        {
          watts: Type.Number({ minimum: 0 }),
          joules: Type.Number({ minimum: 0 }),
          cpuSecondsTotal: Type.Number({ minimum: 0 }),
          contextSwitchesTotal: Type.Number({ minimum: 0 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const CollectorStatusSchema = Type.Object(
  {
    name: Type.Union([Type.Literal('ebpf'), Type.Literal('fallback')]),
    /** e.g. "tp/sched/sched_switch" or "cgroupfs v2 cpu.stat". */
    variant: Type.String(),
    /** Why this collector and not a better one; null when the preferred one runs. */
    reason: Type.Union([Type.String(), Type.Null()]),
    /** Each backend or program variant tried before this one and why it did not load. */
    attempts: Type.Array(Type.Object({ name: Type.String(), error: Type.String() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const PowerSourceSchema = Type.Union([Type.Literal('redfish'), Type.Literal('acpi'), Type.Literal('rapl'), Type.Literal('hwmon'), Type.Literal('nvidia'), Type.Literal('model')]);

export const MeterStateSchema = Type.Object(
  {
    name: Type.String(),
    source: Type.Union([PowerSourceSchema, Type.Null()]),
    /** active: read this interval; standby: a lower layer, not needed; unavailable: never opened; failed: stopped mid-run. */
    state: Type.Union([Type.Literal('active'), Type.Literal('standby'), Type.Literal('unavailable'), Type.Literal('failed')]),
    detail: Type.Union([Type.String(), Type.Null()]),
    failures: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const AttributedRowSchema = Type.Object(
  {
    /** System row name (system.slice, root, other, kernel, idle, gpu, overflow) or pod UID. */
    name: Type.String(),
    watts: Type.Number(),
    /** Monotonic total since the first start (kept across restarts by the checkpoint). */
    joules: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/** The node's hardware description (/proc/cpuinfo, /proc/meminfo, DMI) and the model server's fingerprint of it. */
export const NodeHardwareReportSchema = Type.Object(
  {
    fingerprint: FingerprintSchema,
    description: NodeHardwareSchema,
    /** Values that were assumed rather than read (e.g. the year on a VM without DMI). */
    assumed: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

/** Node power and where it came from, and how it was split; the extender reads this. */
export const NodePowerSchema = Type.Object(
  {
    /** Base layer's source; model means estimated, not measured. */
    source: PowerSourceSchema,
    watts: Type.Number({ minimum: 0 }),
    idleWatts: Type.Number({ minimum: 0 }),
    zones: Type.Array(
      Type.Object({ zone: Type.String(), source: PowerSourceSchema, watts: Type.Number(), inTotal: Type.Boolean() }, { additionalProperties: false }),
    ),
    model: Type.Union([
      Type.Object({ id: Type.String(), errorPercent: Type.Union([Type.Number(), Type.Null()]), detail: Type.String() }, { additionalProperties: false }),
      Type.Null(),
    ]),
    meters: Type.Array(MeterStateSchema),
    /** Node CPU busy fraction over the interval (/proc/stat), 0..1. */
    cpuUtilisation: Type.Number({ minimum: 0, maximum: 1 }),
    /** Busy CPU seconds of the node in the interval, all CPUs. */
    busyCpuSeconds: Type.Number({ minimum: 0 }),
    idlePolicy: Type.Union([Type.Literal('none'), Type.Literal('even'), Type.Literal('cpu-request'), Type.Literal('cpu-time')]),
    /** |Σ rows − node| / node this interval. */
    residualRatio: Type.Number({ minimum: 0 }),
    /** Non-pod rows: system slices, other, kernel, idle (unassigned), gpu, overflow. */
    system: Type.Array(AttributedRowSchema),
    /** What the node's power model was chosen by; the extender picks its own model for the node by the same. */
    hardware: Type.Optional(NodeHardwareReportSchema),
  },
  { additionalProperties: false },
);

export const NodeReportSchema = Type.Object(
  {
    node: Type.String(),
    at: Type.String(),
    /** Wall seconds between the two readings the rates come from; 0 before the second reading. */
    intervalSeconds: Type.Number({ minimum: 0 }),
    layout: Type.Union([Type.Literal('v2'), Type.Literal('hybrid'), Type.Literal('v1')]),
    collector: CollectorStatusSchema,
    counters: Type.Record(Type.String(), CounterStatusSchema),
    /** Cgroups the collector could not track (eBPF map full). */
    droppedCgroups: Type.Number({ minimum: 0 }),
    kubernetes: Type.Object(
      { mode: Type.Union([Type.Literal('watch'), Type.Literal('standalone')]), detail: Type.String() },
      { additionalProperties: false },
    ),
    cgroups: Type.Array(CgroupReportSchema),
    pods: Type.Array(PodReportSchema),
    /** Absent when power accounting is off (power.enabled=false). */
    power: Type.Optional(NodePowerSchema),
  },
  { additionalProperties: false },
);

export type Counters = Static<typeof CountersSchema>;
export type CounterStatus = Static<typeof CounterStatusSchema>;
export type CgroupOwner = Static<typeof CgroupOwnerSchema>;
export type Workload = Static<typeof WorkloadSchema>;
export type CgroupReport = Static<typeof CgroupReportSchema>;
export type PodReport = Static<typeof PodReportSchema>;
export type CollectorStatus = Static<typeof CollectorStatusSchema>;
export type NodeReport = Static<typeof NodeReportSchema>;
export type Qos = Static<typeof QosSchema>;
export type NodePower = Static<typeof NodePowerSchema>;
export type MeterStateReport = Static<typeof MeterStateSchema>;
export type NodeHardwareReport = Static<typeof NodeHardwareReportSchema>;
