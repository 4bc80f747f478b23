// The parse pool's worker: a body's bytes arrive transferred (not copied), are parsed and projected here, and only
// the projection goes back. The body's text and objects live and die on this thread's heap.
import { niceThisThread } from '../../shared/thread-priority.js';
import { parseExtenderArgs, type ArgsResult } from './args.js';

// Parsing is bulk work; the main thread answers probes and sends answers, so on a busy node it goes first.
niceThisThread(5);

export interface ParseJob {
  readonly bytes: Uint8Array;
  readonly echo: boolean;
}

export default function parse(job: ParseJob): ArgsResult {
  return parseExtenderArgs(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength), job.echo);
}
