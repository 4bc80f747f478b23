// The project's two chart kinds as Vega-Lite specs: predicted-vs-measured scatter (model validation) and power
// over time per series (simulation). Pure: data in, spec out; rendering lives in render.ts.
import type { ChartSpec } from './render.js';

export interface Scatter {
  title: string;
  subtitle: string;
  /** [measured, predicted] pairs in watts. */
  points: readonly (readonly [number, number])[];
}

/** Predicted vs measured watts on log-log axes, with the y = x line and ±10 % bands. */
export function scatterSpec(s: Scatter): ChartSpec {
  const vals = s.points.flat().filter((v) => v > 0);
  const lo = Math.min(...vals) * 0.9;
  const hi = Math.max(...vals) * 1.1;
  const scale = { type: 'log' as const, domain: [lo, hi], nice: false };
  const guides = [
    { factor: 1, name: 'y = x' },
    { factor: 1.1, name: '+10 %' },
    { factor: 1 / 1.1, name: '−10 %' },
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: s.title, subtitle: s.subtitle },
    width: 440,
    height: 440,
    layer: [
      ...guides.map((g) => ({
        data: { values: [{ x: lo, y: lo * g.factor }, { x: hi, y: hi * g.factor }] },
        mark: { type: 'line', clip: true, strokeDash: g.factor === 1 ? [] : [4, 3], color: g.factor === 1 ? '#666' : '#bbb' },
        encoding: { x: { field: 'x', type: 'quantitative', scale }, y: { field: 'y', type: 'quantitative', scale } },
      })),
      {
        data: { values: s.points.filter(([m, p]) => m > 0 && p > 0).map(([m, p]) => ({ measured: m, predicted: p })) },
        mark: { type: 'point', filled: true, size: 14, opacity: 0.6, color: '#1f77b4' },
        encoding: {
          x: { field: 'measured', type: 'quantitative', title: 'measured power (W, log scale)', scale },
          y: { field: 'predicted', type: 'quantitative', title: 'predicted power (W, log scale)', scale },
        },
      },
    ],
  } as ChartSpec;
}

export interface TimeSeries {
  name: string;
  /** Seconds from the start. */
  t: ArrayLike<number>;
  watts: ArrayLike<number>;
}

/** Power over time, one coloured line per series (legend in series order), x in days, y in kW. */
export function powerOverTimeSpec(title: string, subtitle: string, series: readonly TimeSeries[]): ChartSpec {
  const values = series.flatMap((s) => Array.from(s.t, (t, i) => ({ series: s.name, days: t / 86_400, kw: (s.watts[i] as number) / 1000 })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle },
    width: 760,
    height: 320,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.2 },
    encoding: {
      x: { field: 'days', type: 'quantitative', title: 'time since trace start (days)' },
      y: { field: 'kw', type: 'quantitative', title: 'cluster power (kW)' },
      color: { field: 'series', type: 'nominal', title: 'policy', sort: series.map((s) => s.name), scale: { scheme: 'category10' }, legend: { labelLimit: 400 } },
    },
  } as ChartSpec;
}
