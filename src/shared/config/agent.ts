// Configuration of `wattsched agent`. Every field can come from the config file, WATTSCHED_AGENT_* environment
// variables (WATTSCHED_AGENT_EBPF__OBJECT_PATH sets ebpf.objectPath) or flags; validated once at start-up.
import Type, { type Static } from 'typebox';
import { DEFAULT_PORTS } from '../names.js';

export const CollectorChoiceSchema = Type.Union([Type.Literal('auto'), Type.Literal('ebpf'), Type.Literal('fallback')]);

export const AgentConfigSchema = Type.Object(
  {
    /** Node name used for the pod watch's field selector; NODE_NAME or the host name when unset. */
    node: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORTS.agent }),
    host: Type.String({ default: '0.0.0.0' }),
    /** Milliseconds between two readings. */
    intervalMs: Type.Integer({ minimum: 50, maximum: 3_600_000, default: 1000 }),
    logLevel: Type.Union(
      [Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')],
      { default: 'info' },
    ),
    /** auto: eBPF when it loads, else the cgroupfs fallback (with the reason reported); ebpf: fail without it. */
    collector: Type.Union([...CollectorChoiceSchema.anyOf], { default: 'auto' }),
    cgroup: Type.Object(
      {
        /** Where cgroup hierarchies are mounted; the layout (v2, hybrid, v1) is detected below it. */
        root: Type.String({ minLength: 1, default: '/sys/fs/cgroup' }),
        /** Forces a layout instead of detecting it from /proc/self/mountinfo. */
        layout: Type.Optional(Type.Union([Type.Literal('v2'), Type.Literal('hybrid'), Type.Literal('v1')])),
      },
      { additionalProperties: false, default: {} },
    ),
    ebpf: Type.Object(
      {
        /** The built node-addon-api module; default: native/build/Release/wattsched_bpf.node in the package. */
        addonPath: Type.Optional(Type.String({ minLength: 1 })),
        /** Loads this BPF object instead of the one embedded in the addon's skeleton (development, tests). */
        objectPath: Type.Optional(Type.String({ minLength: 1 })),
        /** Bounds the per-cgroup map; cgroups beyond it are counted in a drop counter, never silently merged. */
        maxCgroups: Type.Integer({ minimum: 64, maximum: 1_048_576, default: 16_384 }),
        /** Per-CPU flushes of running stints per second, so a task that never switches is not reported late; 0: off. */
        flushHz: Type.Integer({ minimum: 0, maximum: 1000, default: 10 }),
        /** Hardware counters to try (each is reported live or not); [] disables the PMU entirely. */
        pmuCounters: Type.Array(Type.Union([Type.Literal('cycles'), Type.Literal('instructions'), Type.Literal('cache_misses')]), {
          default: ['cycles', 'instructions', 'cache_misses'],
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    fallback: Type.Object(
      {
        /** Context switches per cgroup from /proc/<pid>/task/<tid>/status (live threads only). */
        procSwitches: Type.Boolean({ default: true }),
        /** cpuacct (v1) or cpu.stat (v2) as the CPU-time source; auto prefers v2 when it has processes. */
        source: Type.Union([Type.Literal('auto'), Type.Literal('v2'), Type.Literal('v1')], { default: 'auto' }),
      },
      { additionalProperties: false, default: {} },
    ),
    kubernetes: Type.Object(
      {
        /** auto: watch pods when a kubeconfig or in-cluster config exists; off: standalone; required: fail without. */
        mode: Type.Union([Type.Literal('auto'), Type.Literal('off'), Type.Literal('required')], { default: 'auto' }),
        kubeconfig: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type AgentConfig = Static<typeof AgentConfigSchema>;
export type CollectorChoice = Static<typeof CollectorChoiceSchema>;
