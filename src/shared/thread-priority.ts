// Lowering one worker thread's CPU priority, so the event loop that answers health probes wins the CPU over bulk
// work on a busy node. On Linux a thread id passed to setpriority(2) names that one thread; elsewhere, or if
// refused, the thread keeps normal priority.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Sets the calling thread's nice value (call it from inside the worker thread). */
export function niceThisThread(nice: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // not Linux, or not permitted: nothing to do
  }
}
