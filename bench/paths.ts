// Benchmarks run both from source (vitest, tsx) and from dist/: find the project root by its package.json rather
// than by a fixed number of "..", then the shared data beside it (overridable with WATTSCHED_DATA_DIR).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function projectRoot(from = import.meta.dirname): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'wattsched') return dir;
  }
  throw new Error(`no wattsched package.json above ${from}`);
}

export const sharedDataDir = (): string => process.env.WATTSCHED_DATA_DIR ?? join(projectRoot(), '..', 'shared', 'data');
export const resultsDir = (): string => join(projectRoot(), 'bench', 'results');
