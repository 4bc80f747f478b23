// kube-scheduler's default scoring for CPU and memory: NodeResourcesFit (LeastAllocated, cpu and memory weight 1
// each) plus NodeResourcesBalancedAllocation, each weight 1 (k8s: pkg/scheduler/framework/plugins/noderesources/
// least_allocated.go, balanced_allocation.go, resource_allocation.go; pkg/scheduler/apis/config/v1/default_plugins.go).
// The other default score plugins give every node of this cluster the same score, so they cannot change a choice.
import type { ClusterView, PodAsk, Policy } from '../policy.js';

/** LeastAllocated for one resource: integer (alloc − req)·100/alloc, 0 when over. `req` includes the pod. */
export function leastAllocated(alloc: number, req: number): number {
  if (alloc === 0 || req > alloc) return 0;
  return Math.floor(((alloc - req) * 100) / alloc);
}

/** NodeResourcesFit score: integer mean of cpu and memory LeastAllocated (weights 1), skipping zero allocatable. */
export function fitScore(allocCpu: number, reqCpu: number, allocMem: number, reqMem: number): number {
  let sum = 0;
  let weights = 0;
  if (allocCpu > 0) (sum += leastAllocated(allocCpu, reqCpu)), weights++;
  if (allocMem > 0) (sum += leastAllocated(allocMem, reqMem)), weights++;
  return weights === 0 ? 0 : Math.floor(sum / weights);
}

/** BalancedAllocation with two resources: ⌊(1 − |f_cpu − f_mem|/2)·100⌋, f = min(1, req/alloc). */
export function balancedScore(allocCpu: number, reqCpu: number, allocMem: number, reqMem: number): number {
  const fc = Math.min(1, reqCpu / allocCpu);
  const fm = Math.min(1, reqMem / allocMem);
  return Math.floor((1 - Math.abs(fc - fm) / 2) * 100);
}

/** The default profile's resource score of placing `pod` on node i (the two plugins added, weight 1 each). */
export function defaultPluginScore(pod: PodAsk, i: number, v: ClusterView): number {
  const node = v.nodes[i];
  if (!node) return 0;
  const cpu = (v.requestedMilli[i] as number) + pod.cpuMilli;
  const mem = (v.requestedMemMiB[i] as number) + pod.memoryMiB;
  return fitScore(node.capacityMilli, cpu, node.memoryMiB, mem) + balancedScore(node.capacityMilli, cpu, node.memoryMiB, mem);
}

export const defaultPolicy: Policy = {
  name: 'default',
  score: (pod, candidates, view) => candidates.map((i) => defaultPluginScore(pod, i, view)),
};
