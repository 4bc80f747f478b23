// Serialises a small ONNX graph (ModelProto) from plain objects. Field numbers follow onnx/onnx.proto (IR version 8);
// only what wattsched's model families emit is covered: float/int64 tensors, the attribute kinds the ops below use,
// string metadata and dynamic batch dimensions.
import { ProtoWriter, readFields } from './protobuf.js';

export type ElemType = 'float' | 'double' | 'int64';
const ELEM: Record<ElemType, number> = { float: 1, int64: 7, double: 11 };

export interface OnnxTensor {
  name: string;
  type: ElemType;
  dims: readonly number[];
  data: ArrayLike<number>;
}

export type OnnxAttr =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats'; value: ArrayLike<number> }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'strings'; value: readonly string[] }
  | { kind: 'tensor'; value: OnnxTensor };

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  /** '' for the default ai.onnx domain, 'ai.onnx.ml' for tree ensembles. */
  domain?: string;
  attrs?: Record<string, OnnxAttr>;
}

export interface OnnxValue {
  name: string;
  type: ElemType;
  /** A string is a symbolic (dynamic) dimension such as the batch size. */
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
}

export interface OnnxModelSpec {
  graph: OnnxGraph;
  metadata: Record<string, string>;
  producerVersion: string;
  docString?: string;
}

/** Opsets the builder declares; onnxruntime 1.30 implements both. */
export const OPSET_DEFAULT = 17;
export const OPSET_ML = 3;
const IR_VERSION = 8;

function tensorProto(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  w.packedInts(1, t.dims);
  w.int(2, ELEM[t.type]);
  if (t.type === 'float') w.packedFloats(4, t.data);
  else if (t.type === 'int64') w.packedInts(7, Array.from(t.data as ArrayLike<number>, (v) => Math.trunc(v)));
  else w.packedDoubles(10, t.data);
  w.string(8, t.name);
  return w;
}

function attrProto(name: string, a: OnnxAttr): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.kind) {
    case 'float':
      return w.float(2, a.value).int(20, 1);
    case 'int':
      return w.int(3, a.value).int(20, 2);
    case 'string':
      return w.string(4, a.value).int(20, 3);
    case 'tensor':
      return w.message(5, tensorProto(a.value)).int(20, 4);
    case 'floats':
      return w.packedFloats(7, a.value).int(20, 6);
    case 'ints':
      return w.packedInts(8, a.value).int(20, 7);
    case 'strings':
      for (const s of a.value) w.string(9, s);
      return w.int(20, 8);
  }
}

function valueInfo(v: OnnxValue): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, ELEM[v.type]).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function nodeProto(n: OnnxNode, index: number): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, `${n.op}_${index}`);
  w.string(4, n.op);
  for (const [name, a] of Object.entries(n.attrs ?? {})) w.message(5, attrProto(name, a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

export function serializeModel(spec: OnnxModelSpec): Uint8Array {
  const g = new ProtoWriter();
  spec.graph.nodes.forEach((n, i) => g.message(1, nodeProto(n, i)));
  g.string(2, spec.graph.name);
  for (const t of spec.graph.initializers) g.message(5, tensorProto(t));
  for (const v of spec.graph.inputs) g.message(11, valueInfo(v));
  for (const v of spec.graph.outputs) g.message(12, valueInfo(v));

  const m = new ProtoWriter();
  m.int(1, IR_VERSION);
  m.string(2, 'wattsched');
  m.string(3, spec.producerVersion);
  m.string(4, 'io.wattsched');
  m.int(5, 1);
  if (spec.docString) m.string(6, spec.docString);
  m.message(7, g);
  m.message(8, new ProtoWriter().string(1, '').int(2, OPSET_DEFAULT));
  if (spec.graph.nodes.some((n) => n.domain === 'ai.onnx.ml')) m.message(8, new ProtoWriter().string(1, 'ai.onnx.ml').int(2, OPSET_ML));
  for (const [key, value] of Object.entries(spec.metadata)) m.message(14, new ProtoWriter().string(1, key).string(2, value));
  return m.finish();
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads ModelProto.metadata_props (field 14) without decoding the graph. */
export function readMetadataProps(model: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readFields(model)) {
    if (f.field !== 14 || f.wire !== 2) continue;
    let key = '';
    let value = '';
    for (const kv of readFields(f.bytes)) {
      if (kv.field === 1) key = UTF8.decode(kv.bytes);
      else if (kv.field === 2) value = UTF8.decode(kv.bytes);
    }
    out[key] = value;
  }
  return out;
}
