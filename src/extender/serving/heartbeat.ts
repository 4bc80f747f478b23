// The main event loop's heartbeat, in memory shared with the health thread: the loop writes the time of each beat
// and what readiness depends on; the health thread reads them without waiting for the loop. Layout: [0, 8) last
// beat, process.hrtime in ns (one monotonic clock for every thread of the process); [8, 12) inventory ready (0/1);
// [12, 16) nodes in the inventory.
import type { LoopSnapshot } from './health-answer.js';

export class LoopHeartbeat {
  readonly buffer = new SharedArrayBuffer(16);
  private readonly at = new BigInt64Array(this.buffer, 0, 1);
  private readonly state = new Int32Array(this.buffer, 8, 2);

  beat(inventoryReady: boolean, nodes: number): void {
    Atomics.store(this.state, 0, inventoryReady ? 1 : 0);
    Atomics.store(this.state, 1, nodes);
    Atomics.store(this.at, 0, process.hrtime.bigint());
  }
}

/** The loop's state as last beaten into `buffer` (a LoopHeartbeat's), with the time since that beat. */
export function readHeartbeat(buffer: SharedArrayBuffer): LoopSnapshot {
  const at = Atomics.load(new BigInt64Array(buffer, 0, 1), 0);
  const state = new Int32Array(buffer, 8, 2);
  return {
    loopLagMs: Number(process.hrtime.bigint() - at) / 1e6,
    inventoryReady: Atomics.load(state, 0) === 1,
    nodes: Atomics.load(state, 1),
  };
}
