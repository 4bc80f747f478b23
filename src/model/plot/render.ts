// Charts as PNG through real plotting libraries: a Vega-Lite spec is compiled to Vega, rendered headless to SVG by
// Vega's own scenegraph, and rasterised by resvg. Text needs a system font (fonts-dejavu-core on Debian, named in
// scripts/apt-packages.txt); resvg draws no text without one.
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type ChartSpec = TopLevelSpec;

const FONT = 'DejaVu Sans';

/** The chart as SVG text (the spec's fonts are set to one the rasteriser will find). */
export async function chartSvg(spec: ChartSpec): Promise<string> {
  const withFont = { ...spec, config: { font: FONT, ...(spec.config ?? {}) } } as ChartSpec;
  const view = new View(parse(compile(withFont).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The chart as a PNG, at `scale` × its CSS pixel size (2 keeps text crisp). */
export async function chartPng(spec: ChartSpec, scale = 2): Promise<Buffer> {
  const svg = await chartSvg(spec);
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: FONT, sansSerifFamily: FONT },
  }).render();
  return png.asPng();
}
