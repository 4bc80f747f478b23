// The bounded cache both profile stores keep: one value per workload id, least recently used dropped past the count
// or byte bound, and an index by namespace kept in step with it (cold-start siblings are looked up by namespace).
import { LRUCache } from 'lru-cache';

export class WorkloadLru<V extends object> {
  private readonly cache: LRUCache<string, V>;
  private readonly byNamespace = new Map<string, Set<string>>();

  constructor(limits: { maxWorkloads: number; maxBytes: number }, private readonly namespaceOf: (v: V) => string, bytes: (v: V) => number) {
    this.cache = new LRUCache<string, V>({
      max: limits.maxWorkloads,
      maxSize: limits.maxBytes,
      sizeCalculation: bytes,
      dispose: (v, id) => {
        const ns = this.namespaceOf(v);
        const ids = this.byNamespace.get(ns);
        ids?.delete(id);
        if (ids?.size === 0) this.byNamespace.delete(ns);
      },
    });
  }

  /** The workload's value, now the most recently used. */
  get(id: string): V | undefined {
    return this.cache.get(id);
  }

  /** Stores a fresh object (the size is computed on set only); one larger than the byte bound is not kept. */
  set(id: string, v: V): void {
    this.cache.set(id, v);
    if (!this.cache.has(id)) return;
    const ns = this.namespaceOf(v);
    let ids = this.byNamespace.get(ns);
    if (!ids) this.byNamespace.set(ns, (ids = new Set()));
    ids.add(id);
  }

  /** The namespace's values, their recency untouched. */
  inNamespace(namespace: string): V[] {
    const out: V[] = [];
    for (const id of this.byNamespace.get(namespace) ?? []) {
      const v = this.cache.peek(id);
      if (v) out.push(v);
    }
    return out;
  }

  clear(): void {
    this.cache.clear();
  }

  get size(): number {
    return this.cache.size;
  }

  /** Estimated bytes held, as the size function counts them. */
  get bytes(): number {
    return this.cache.calculatedSize;
  }
}
