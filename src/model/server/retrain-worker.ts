// Worker-thread entry of a retrain (see retrain.ts): one job in, one answer out, then the thread exits.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { runRetrainJob, type RetrainJob } from './retrain.js';

const port = parentPort;
if (!port) throw new Error('retrain-worker.js runs only as a worker thread');

/**
 * Lowers this thread's CPU priority (nice 10) on Linux, where a thread id passed to setpriority(2) names that one
 * thread: on a busy node the event loop that answers /healthz then wins the CPU over training. The threads the
 * training starts (onnxruntime's) inherit it. Elsewhere, or if refused, training runs at normal priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // not Linux, or not permitted: nothing to do
  }
}

lowerPriority();
try {
  const work = await runRetrainJob(workerData as RetrainJob);
  port.postMessage({ ok: true, work });
} catch (err) {
  port.postMessage({ ok: false, message: (err as Error).stack ?? String(err) });
}
