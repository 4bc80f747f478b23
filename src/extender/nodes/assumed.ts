// Pods the extender's filter let onto capped nodes that the cluster watch has not yet shown bound. kube-scheduler
// schedules one pod after another and binds asynchronously, so the next pod's filter call often arrives before the
// previous pod's binding has reached the watch; without this ledger a burst of pods each sees the same "empty" node
// and together they break its power cap. The filter does not learn which node the scheduler picked, so a pod is
// assumed on every capped node it passed (conservative: a cap can only be under-used, never overrun) until the watch
// shows it bound (its CPU then counts on its real node) or gone, or its assumption expires.

interface Assumption {
  readonly uid: string;
  readonly cpuMilli: number;
  readonly nodes: ReadonlySet<string>;
  readonly expiresAt: number;
}

export class AssumedPods {
  private readonly byPod = new Map<string, Assumption>();
  /**
   * Per node, the CPU of the unexpired assumptions on it, kept as a running sum: a filter asks about every capped
   * candidate, and without a cluster watch (a config-file inventory) nothing settles a pod before it expires, so
   * summing the node's assumptions on each call would cost capped candidates × pods of the last TTL.
   */
  private readonly sumByNode = new Map<string, number>();
  /** Assumptions in the order they were made: with one TTL for all, also the order they expire in. */
  private readonly queue: Assumption[] = [];
  private head = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Pod `uid` (its CPU request) may bind to any of `nodes`; replaces what was assumed for it before. */
  assume(uid: string, cpuMilli: number, nodes: readonly string[]): void {
    this.forget(uid);
    if (nodes.length === 0 || uid === '') return;
    const a: Assumption = { uid, cpuMilli, nodes: new Set(nodes), expiresAt: this.now() + this.ttlMs };
    this.byPod.set(uid, a);
    this.queue.push(a);
    for (const n of a.nodes) this.sumByNode.set(n, (this.sumByNode.get(n) ?? 0) + cpuMilli);
  }

  /** The pod is bound (the watch now counts it on its node) or gone: it is assumed nowhere any more. */
  forget(uid: string): void {
    const a = this.byPod.get(uid);
    if (!a) return;
    this.byPod.delete(uid);
    for (const n of a.nodes) {
      const left = (this.sumByNode.get(n) ?? 0) - a.cpuMilli;
      if (left > 0) this.sumByNode.set(n, left);
      else this.sumByNode.delete(n);
    }
  }

  /**
   * Drops assumptions whose time is up, oldest first. Entries already forgotten or replaced are skipped. A wall
   * clock stepped back only delays expiry (a cap is then under-used a little longer, never overrun).
   */
  private expire(): void {
    const now = this.now();
    while (this.head < this.queue.length) {
      const a = this.queue[this.head] as Assumption;
      if (a.expiresAt > now) break;
      this.head++;
      if (this.byPod.get(a.uid) === a) this.forget(a.uid);
    }
    // Compact now and then so the queue does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /** CPU assumed on `node` by unexpired pods other than `except`, millicores. */
  onNode(node: string, except = ''): number {
    this.expire();
    const sum = this.sumByNode.get(node) ?? 0;
    if (sum === 0 || except === '') return sum;
    const own = this.byPod.get(except);
    return own !== undefined && own.nodes.has(node) ? sum - own.cpuMilli : sum;
  }

  /** Pods currently assumed somewhere. */
  size(): number {
    this.expire();
    return this.byPod.size;
  }
}
