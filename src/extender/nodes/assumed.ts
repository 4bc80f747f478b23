// Pods the extender's filter let onto capped nodes that the cluster watch has not yet shown bound. kube-scheduler
// schedules one pod after another and binds asynchronously, so the next pod's filter call often arrives before the
// previous pod's binding has reached the watch; without this ledger a burst of pods each sees the same "empty" node
// and together they break its power cap. The filter does not learn which node the scheduler picked, so a pod is
// assumed on every capped node it passed (conservative: a cap can only be under-used, never overrun) until the watch
// shows it bound (its CPU then counts on its real node) or gone, or its assumption expires.

interface Assumption {
  cpuMilli: number;
  nodes: readonly string[];
  expiresAt: number;
}

export class AssumedPods {
  private readonly byPod = new Map<string, Assumption>();
  private readonly byNode = new Map<string, Map<string, Assumption>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Pod `uid` (its CPU request) may bind to any of `nodes`; replaces what was assumed for it before. */
  assume(uid: string, cpuMilli: number, nodes: readonly string[]): void {
    this.forget(uid);
    if (nodes.length === 0 || uid === '') return;
    const a: Assumption = { cpuMilli, nodes, expiresAt: this.now() + this.ttlMs };
    this.byPod.set(uid, a);
    for (const n of nodes) {
      let m = this.byNode.get(n);
      if (!m) this.byNode.set(n, (m = new Map()));
      m.set(uid, a);
    }
  }

  /** The pod is bound (the watch now counts it on its node) or gone: it is assumed nowhere any more. */
  forget(uid: string): void {
    const a = this.byPod.get(uid);
    if (!a) return;
    this.byPod.delete(uid);
    for (const n of a.nodes) {
      const m = this.byNode.get(n);
      m?.delete(uid);
      if (m?.size === 0) this.byNode.delete(n);
    }
  }

  /** CPU assumed on `node` by unexpired pods other than `except`, millicores. */
  onNode(node: string, except = ''): number {
    const m = this.byNode.get(node);
    if (!m) return 0;
    const now = this.now();
    let sum = 0;
    for (const [uid, a] of m) {
      if (a.expiresAt <= now) this.forget(uid);
      else if (uid !== except) sum += a.cpuMilli;
    }
    return sum;
  }

  /** Pods currently assumed somewhere (expired ones are dropped lazily, so this may count a few). */
  size(): number {
    return this.byPod.size;
  }
}
