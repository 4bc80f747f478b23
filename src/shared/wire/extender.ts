// The kube-scheduler extender wire protocol, field for field as k8s.io/kube-scheduler/extender/v1 (types.go) at
// v1.35. Those Go types carry no JSON tags, so the keys are Go field names; the embedded Pod and Node objects use the
// usual lower-case Kubernetes keys. Kubernetes objects are open (additionalProperties): only the fields wattsched
// reads are typed, so validation stays cheap on 26 MB bodies and unknown fields pass through untouched.
import Type, { type Static } from 'typebox';

const Str = Type.String();
const StrMap = Type.Record(Type.String(), Type.String());

export const ObjectMetaSchema = Type.Object({
  name: Type.Optional(Str),
  namespace: Type.Optional(Str),
  uid: Type.Optional(Str),
  labels: Type.Optional(StrMap),
  annotations: Type.Optional(StrMap),
  ownerReferences: Type.Optional(Type.Array(Type.Object({ kind: Type.Optional(Str), name: Type.Optional(Str), controller: Type.Optional(Type.Boolean()) }))),
});

const Quantity = Type.Union([Type.String(), Type.Number()]);
const ResourceList = Type.Record(Type.String(), Quantity);

export const ContainerSchema = Type.Object({
  name: Type.Optional(Str),
  resources: Type.Optional(Type.Object({ requests: Type.Optional(ResourceList), limits: Type.Optional(ResourceList) })),
  restartPolicy: Type.Optional(Str),
});

export const PodSchema = Type.Object({
  metadata: Type.Optional(ObjectMetaSchema),
  spec: Type.Optional(
    Type.Object({
      nodeName: Type.Optional(Str),
      containers: Type.Optional(Type.Array(ContainerSchema)),
      initContainers: Type.Optional(Type.Array(ContainerSchema)),
      overhead: Type.Optional(ResourceList),
    }),
  ),
});

export const NodeSchema = Type.Object({
  metadata: Type.Optional(ObjectMetaSchema),
  status: Type.Optional(Type.Object({ allocatable: Type.Optional(ResourceList), capacity: Type.Optional(ResourceList) })),
});

export const NodeListSchema = Type.Object({ items: Type.Union([Type.Array(NodeSchema), Type.Null()]) });

/** FailedNodesMap: node name → reason. */
export const FailedNodesMapSchema = Type.Record(Type.String(), Type.String());

export const ExtenderArgsSchema = Type.Object({
  Pod: PodSchema,
  Nodes: Type.Optional(Type.Union([NodeListSchema, Type.Null()])),
  NodeNames: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
});

export const ExtenderFilterResultSchema = Type.Object({
  Nodes: Type.Union([NodeListSchema, Type.Null()]),
  NodeNames: Type.Union([Type.Array(Type.String()), Type.Null()]),
  FailedNodes: FailedNodesMapSchema,
  FailedAndUnresolvableNodes: FailedNodesMapSchema,
  Error: Type.String(),
});

/** Score is an int64 on the Go side: fractions are rejected by its decoder, so it must be an integer here. */
export const HostPrioritySchema = Type.Object({ Host: Type.String(), Score: Type.Integer({ minimum: 0, maximum: 10 }) });
export const HostPriorityListSchema = Type.Array(HostPrioritySchema);

export const MetaPodSchema = Type.Object({ UID: Type.String() });
export const MetaVictimsSchema = Type.Object({
  Pods: Type.Union([Type.Array(MetaPodSchema), Type.Null()]),
  NumPDBViolations: Type.Integer(),
});
export const VictimsSchema = Type.Object({
  Pods: Type.Union([Type.Array(PodSchema), Type.Null()]),
  NumPDBViolations: Type.Integer(),
});

export const ExtenderPreemptionArgsSchema = Type.Object({
  Pod: PodSchema,
  NodeNameToVictims: Type.Optional(Type.Union([Type.Record(Type.String(), VictimsSchema), Type.Null()])),
  NodeNameToMetaVictims: Type.Optional(Type.Union([Type.Record(Type.String(), MetaVictimsSchema), Type.Null()])),
});

export const ExtenderPreemptionResultSchema = Type.Object({
  NodeNameToMetaVictims: Type.Union([Type.Record(Type.String(), MetaVictimsSchema), Type.Null()]),
});

/** Bounds from extender/v1: MinExtenderPriority and MaxExtenderPriority. */
export const MIN_EXTENDER_PRIORITY = 0;
export const MAX_EXTENDER_PRIORITY = 10;

export type Pod = Static<typeof PodSchema>;
export type Node = Static<typeof NodeSchema>;
export type ExtenderArgs = Static<typeof ExtenderArgsSchema>;
export type ExtenderFilterResult = Static<typeof ExtenderFilterResultSchema>;
export type HostPriority = Static<typeof HostPrioritySchema>;
export type HostPriorityList = Static<typeof HostPriorityListSchema>;
export type MetaVictims = Static<typeof MetaVictimsSchema>;
export type Victims = Static<typeof VictimsSchema>;
export type ExtenderPreemptionArgs = Static<typeof ExtenderPreemptionArgsSchema>;
export type ExtenderPreemptionResult = Static<typeof ExtenderPreemptionResultSchema>;

/**
 * Go's encoding/json matches object keys to struct fields exactly first, then case-insensitively. These are the
 * Go-named fields at each level of the extender types, so a body written as {"pod":…,"nodenames":…} decodes as
 * kube-scheduler's own decoder would.
 */
export const GO_FIELD_NAMES = {
  args: ['Pod', 'Nodes', 'NodeNames'],
  preemptionArgs: ['Pod', 'NodeNameToVictims', 'NodeNameToMetaVictims'],
  victims: ['Pods', 'NumPDBViolations'],
  metaPod: ['UID'],
} as const;
