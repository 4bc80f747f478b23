// What /healthz and /readyz answer, from a snapshot of the main event loop's state. One function for both places
// that serve them: the health thread (health-thread.ts), which kubelet probes, and the main port's routes.
export interface LoopSnapshot {
  /** How long ago the main event loop last beat, ms. */
  loopLagMs: number;
  /** The node inventory has finished its initial load. */
  inventoryReady: boolean;
  nodes: number;
}

export interface HealthIdentity {
  scorer: string;
  inventory: string;
  /** Past this loop lag the extender is reported stalled (serving.maxLoopLagMs). */
  maxLoopLagMs: number;
}

export interface HealthAnswer {
  status: 200 | 503;
  body: Record<string, unknown>;
}

const stalled = (s: LoopSnapshot, id: HealthIdentity): string =>
  `event loop has not turned for ${Math.round(s.loopLagMs)} ms (serving.maxLoopLagMs ${id.maxLoopLagMs})`;

export function healthz(s: LoopSnapshot, id: HealthIdentity): HealthAnswer {
  if (s.loopLagMs > id.maxLoopLagMs) return { status: 503, body: { status: 'stalled', reason: stalled(s, id) } };
  return { status: 200, body: { status: 'ok' } };
}

/** Ready means a real answer can be given: the loop turns, a scorer is loaded, the inventory has loaded. */
export function readyz(s: LoopSnapshot, id: HealthIdentity): HealthAnswer {
  const about = { scorer: id.scorer, inventory: id.inventory, nodes: s.nodes };
  if (s.loopLagMs > id.maxLoopLagMs) return { status: 503, body: { status: 'not ready', reason: stalled(s, id), ...about } };
  if (!s.inventoryReady) return { status: 503, body: { status: 'not ready', reason: 'node inventory has not finished its initial load', ...about } };
  return { status: 200, body: { status: 'ready', ...about } };
}
