// The parse pool's worker: a body's bytes arrive transferred (not copied), are parsed and projected here, and only
// the projection goes back. The body's text and objects live and die on this thread's heap.
import { parseExtenderArgs, type ArgsResult } from './args.js';

export interface ParseJob {
  readonly bytes: Uint8Array;
  readonly echo: boolean;
}

export default function parse(job: ParseJob): ArgsResult {
  return parseExtenderArgs(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength), job.echo);
}
