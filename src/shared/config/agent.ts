// Configuration of `wattsched agent`. Every field can come from the config file, WATTSCHED_AGENT_* environment
// variables (WATTSCHED_AGENT_EBPF__OBJECT_PATH sets ebpf.objectPath) or flags; validated once at start-up.
import Type, { type Static } from 'typebox';
import { DEFAULT_PORTS } from '../names.js';
import { PowerCurveSchema } from './power-curve.js';

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
    power: Type.Object(
      {
        /** Meters to try, best first; the model estimate is always the last layer. nvidia is additive (GPUs). */
        meters: Type.Array(Type.Union([Type.Literal('redfish'), Type.Literal('acpi'), Type.Literal('rapl'), Type.Literal('hwmon'), Type.Literal('nvidia')]), {
          default: ['redfish', 'acpi', 'rapl', 'hwmon', 'nvidia'],
        }),
        /** A Redfish BMC: whole-platform power over HTTPS; tried only when url is set. */
        redfish: Type.Object(
          {
            url: Type.Optional(Type.String({ pattern: '^https://' })),
            /** "user:password" or {"username","password"}; required with url. */
            credentialsFile: Type.Optional(Type.String({ minLength: 1 })),
            /** e.g. /redfish/v1/Chassis/1; default: the first member of /redfish/v1/Chassis. */
            chassis: Type.Optional(Type.String({ pattern: '^/redfish/v1/' })),
            caFile: Type.Optional(Type.String({ minLength: 1 })),
            /** Accept any certificate (self-signed BMCs). */
            insecure: Type.Boolean({ default: false }),
            timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
            periodMs: Type.Integer({ minimum: 200, maximum: 600_000, default: 5000 }),
            maxBackoffMs: Type.Integer({ minimum: 200, maximum: 3_600_000, default: 60_000 }),
            /** A reading older than this fails the meter (the next layer takes over). */
            staleAfterMs: Type.Integer({ minimum: 500, maximum: 3_600_000, default: 30_000 }),
          },
          { additionalProperties: false, default: {} },
        ),
        powercapRoot: Type.String({ minLength: 1, default: '/sys/class/powercap' }),
        hwmonRoot: Type.String({ minLength: 1, default: '/sys/class/hwmon' }),
        procRoot: Type.String({ minLength: 1, default: '/proc' }),
        dmiRoot: Type.String({ minLength: 1, default: '/sys/class/dmi/id' }),
        nvidia: Type.Object(
          {
            command: Type.String({ minLength: 1, default: 'nvidia-smi' }),
            /** nvidia-smi -lms period; each interval's GPU watts is the mean of the samples in it. */
            periodMs: Type.Integer({ minimum: 20, maximum: 60_000, default: 100 }),
            startTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
          },
          { additionalProperties: false, default: {} },
        ),
        model: Type.Object(
          {
            /** Watts at 0,10,…,100 % CPU: overrides the shipped model for this node. */
            curve: Type.Optional(PowerCurveSchema),
            /** Directory with index.json and the shipped ONNX models; default: models/ in the package. */
            modelsDir: Type.Optional(Type.String({ minLength: 1 })),
            /** Hardware year for the curve model when DMI has no BIOS date. */
            defaultYear: Type.Integer({ minimum: 1990, maximum: 2100, default: 2020 }),
            /**
             * The model server's fallback chain for this node's fingerprint (exact, same CPU family, description
             * curve), asked in the background; its answer replaces the shipped model once it arrives.
             */
            server: Type.Object(
              {
                /** `wattsched model-server` base URL; default: push.url. Neither set: the model server is not asked. */
                url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
                timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000 }),
                /** Asked again after this long, so a newly published version is taken up. */
                refreshSeconds: Type.Number({ exclusiveMinimum: 0, default: 600 }),
                /** After a failed lookup: this wait, doubled per consecutive failure up to retryMaxSeconds. */
                retryMinSeconds: Type.Number({ exclusiveMinimum: 0, default: 5 }),
                retryMaxSeconds: Type.Number({ exclusiveMinimum: 0, default: 300 }),
              },
              { additionalProperties: false, default: {} },
            ),
          },
          { additionalProperties: false, default: {} },
        ),
        /** Who pays for idle power: none (its own row), even (per pod), cpu-request, cpu-time. See docs/agent.md. */
        idlePolicy: Type.Union([Type.Literal('none'), Type.Literal('even'), Type.Literal('cpu-request'), Type.Literal('cpu-time')], { default: 'none' }),
        /** How long a finished pod's final totals stay exported. */
        retentionMs: Type.Integer({ minimum: 0, maximum: 7 * 86_400_000, default: 600_000 }),
        /** Hard cap on pods with their own series; more go to the `overflow` row and count as dropped series. */
        maxPods: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
        /** Totals survive restarts through this file (a hostPath in the DaemonSet); empty string: no checkpoint. */
        checkpointPath: Type.String({ default: '/var/lib/wattsched/agent-energy.json' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * Windows of node counters with metered node watts, sent to `wattsched model-server` (POST /v1/samples) so it
     * can retrain per hardware fingerprint. Off without a url; never sent while the watts are the model's estimate.
     */
    push: Type.Object(
      {
        /** Model server base URL, e.g. http://wattsched-model-server:8100 (https:// for TLS). */
        url: Type.Optional(Type.String({ pattern: '^https?://' })),
        /** File holding the bearer token (a mounted Secret), read once at start. */
        tokenFile: Type.Optional(Type.String({ minLength: 1 })),
        /** CA that signed the server's certificate (https); default: the system's roots. */
        caFile: Type.Optional(Type.String({ minLength: 1 })),
        /** Client certificate and key for mTLS, instead of or beside the token. */
        certFile: Type.Optional(Type.String({ minLength: 1 })),
        keyFile: Type.Optional(Type.String({ minLength: 1 })),
        /** Length of one window: readings are averaged until they cover this much time. */
        windowMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
        /** Time between uploads; each upload drains the queue in batches. */
        intervalMs: Type.Integer({ minimum: 100, maximum: 86_400_000, default: 60_000 }),
        /** Windows per POST (the server takes at most 10,000 and 1 MiB by default). */
        batchSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
        /** Windows waiting to be sent; beyond it the oldest are dropped and counted, so a down server costs bounded memory. */
        maxQueuedWindows: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
        timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
        /** Retry delays double from the first up to the max, with jitter. */
        initialBackoffMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 1000 }),
        maxBackoffMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 300_000 }),
        /** GPU model for the fingerprint (e.g. "NVIDIA H100 80GB HBM3"); windows with GPU watts are not sent without it. */
        gpuModel: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        /** Overrides the fingerprint computed from /proc/cpuinfo (and gpuModel). */
        fingerprint: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,127}$' })),
      },
      { additionalProperties: false, default: {} },
    ),
    metrics: Type.Object(
      {
        /** Also export kepler_{node,pod,container}_cpu_joules_total with Kepler v0.10-v0.11 labels. */
        keplerNames: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type AgentConfig = Static<typeof AgentConfigSchema>;
export type CollectorChoice = Static<typeof CollectorChoiceSchema>;
