// `--plot`: cluster power over time per policy (and the bound's constant-load optimum is not drawn: it has no
// placement), averaged into fixed bins so 150 days stay readable.
import { writeFileSync } from 'node:fs';
import { powerOverTimeSpec } from '../model/plot/charts.js';
import { chartPng } from '../model/plot/render.js';
import { binnedWatts } from './energy.js';
import type { Comparison } from './run.js';

const BINS = 400;

export async function writePowerPlot(path: string, c: Comparison, o: { powerDownAfterS: number | undefined }): Promise<void> {
  const series = c.results.map((r) => {
    const b = binnedWatts(r.timeline.t, r.timeline.energyJ, BINS);
    return { name: `${r.policy} (${r.energyKWh.toFixed(0)} kWh)`, t: b.centreS, watts: b.watts };
  });
  const scenario = o.powerDownAfterS === undefined ? 'always-on' : `power-down after ${o.powerDownAfterS} s`;
  const spec = powerOverTimeSpec('Cluster power per policy', `${scenario}; mean power per ${BINS}th of the trace; exact bound ${c.boundKWh.toFixed(0)} kWh`, series);
  writeFileSync(path, await chartPng(spec));
}
