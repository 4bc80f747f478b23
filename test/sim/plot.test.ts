import { describe, expect, test } from 'vitest';
import { powerOverTimeSpec, scatterSpec } from '../../src/model/plot/charts.js';
import { chartPng, chartSvg } from '../../src/model/plot/render.js';

describe('charts through vega-lite, vega and resvg', () => {
  test('power over time has titled axes with units and a legend naming every series', async () => {
    const svg = await chartSvg(powerOverTimeSpec('Cluster power', 'sub', [
      { name: 'default', t: [0, 86_400, 172_800], watts: [1000, 1500, 1200] },
      { name: 'wattsched', t: [0, 86_400, 172_800], watts: [800, 900, 850] },
    ]));
    for (const text of ['time since trace start (days)', 'cluster power (kW)', 'policy', 'default', 'wattsched', 'Cluster power']) expect(svg).toContain(text);
  });
  test('the scatter has log axes in watts', async () => {
    const svg = await chartSvg(scatterSpec({ title: 't', subtitle: 's', points: [[100, 110], [200, 190], [400, 420]] }));
    expect(svg).toContain('measured power (W, log scale)');
    expect(svg).toContain('predicted power (W, log scale)');
  });
  test('PNG output is a PNG of twice the CSS size', async () => {
    const png = await chartPng(scatterSpec({ title: 't', subtitle: 's', points: [[100, 110]] }));
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(880); // width: 440 px plot plus axes, ×2
  });
});
