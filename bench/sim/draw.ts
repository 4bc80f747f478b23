// Cases the policy was not tuned on, drawn from the shipped files: other SPECpower rows as server mixes, and traces
// resampled from the shipped pod list (a random half with time compressed, and bootstraps at 1× and 2× the pods).
import type { SimPod, SimServer } from '../../src/sim/data.js';
import { mulberry32 } from '../../src/shared/random.js';

/** `count` distinct servers, uniformly from `pool`, leaving out the ids in `exclude`. */
export function drawServers(pool: readonly SimServer[], count: number, seed: number, exclude: ReadonlySet<string>): SimServer[] {
  const rand = mulberry32(seed);
  const left = pool.filter((s) => !exclude.has(s.id) && Number.isInteger(s.threads));
  const out: SimServer[] = [];
  while (out.length < count && left.length > 0) out.push(...left.splice(Math.floor(rand() * left.length), 1));
  return out;
}

/** A random half of the pods, their times halved: the same concurrency with a different mix. */
export function halfCompressed(pods: readonly SimPod[], seed: number): SimPod[] {
  const rand = mulberry32(seed);
  return pods.filter(() => rand() < 0.5).map((p) => ({ ...p, createdS: p.createdS / 2, deletedS: p.deletedS / 2 }));
}

/** `factor` × N pods, each a random pod's size and lifetime started at another random pod's creation time. */
export function bootstrap(pods: readonly SimPod[], factor: number, seed: number): SimPod[] {
  const rand = mulberry32(seed);
  const pick = (): SimPod => pods[Math.floor(rand() * pods.length)] as SimPod;
  const horizon = Math.max(...pods.map((p) => p.deletedS));
  return Array.from({ length: Math.round(pods.length * factor) }, (_, i) => {
    const size = pick();
    const start = pick().createdS;
    return { ...size, name: `boot-${i}`, createdS: start, deletedS: Math.min(horizon, start + (size.deletedS - size.createdS)) };
  }).sort((a, b) => a.createdS - b.createdS);
}
