// Seeds the store with the shipped models (models/index.json) the first time a fingerprint is seen, so a fresh
// data directory serves the description curve and the pretrained counters models at once.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelMetadata } from '../model-file.js';
import type { ModelStore } from './store.js';

interface IndexEntry {
  file: string;
  fingerprint: string;
}

export async function seedPretrained(store: ModelStore, dir: string, now: Date): Promise<string[]> {
  const indexFile = join(dir, 'index.json');
  if (!existsSync(indexFile)) return [];
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as Record<string, IndexEntry>;
  const seeded: string[] = [];
  for (const e of Object.values(index)) {
    if (store.has(e.fingerprint) && store.served(e.fingerprint)) continue;
    const bytes = readFileSync(join(dir, e.file));
    await store.publish(e.fingerprint, bytes, readModelMetadata(bytes, e.file), 'pretrained', now);
    seeded.push(e.fingerprint);
  }
  return seeded;
}
