// The benchmark's cluster: nodes whose power curves come from the 20 SPECpower servers in shared/data, so the
// scorer does real work per node (annotation lookup, interpolation) rather than scoring identical nodes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANNOTATIONS } from '../../src/shared/names.js';
import type { Node } from '../../src/shared/wire/extender.js';
import { realisticNode } from './fixtures.js';
import { sharedDataDir } from '../paths.js';

const LEVELS = ['watts_idle', ...Array.from({ length: 10 }, (_, i) => `watts_${(i + 1) * 10}`)];

export function specpowerCurves(dataDir = join(sharedDataDir(), 'specpower')): number[][] {
  const [header, ...rows] = readFileSync(join(dataDir, 'servers_20.csv'), 'utf8').trim().split('\n');
  const cols = (header as string).split(',');
  const idx = LEVELS.map((l) => cols.indexOf(l));
  // Only the numeric watts columns are read; they sit before the quoted free-text columns at the end of each row,
  // but system names can contain commas, so split on commas outside quotes.
  return rows.map((r) => {
    const cells = r.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, ''));
    return idx.map((i) => Number(cells[i]));
  });
}

export function benchNodes(n: number): Node[] {
  const curves = specpowerCurves();
  return Array.from({ length: n }, (_, i) => realisticNode(i, { annotations: { [ANNOTATIONS.powerCurve]: (curves[i % curves.length] as number[]).join(',') } }));
}
