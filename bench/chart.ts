/**
 * SVG charts for the benchmark report, rendered in Node by Vega-Lite and Vega (BSD-3-Clause,
 * pure JavaScript: `View.toSVG()` needs no canvas or other native module).
 *
 * One shape covers what the report draws: lines of (x, y) points, one per series, with axis
 * titles and a legend. The SVG is deterministic for the same data (no dates, no random ids).
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchChart } from './section.js';

export interface LineSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Dashed stroke (a bound, a reference line). */
  dashed?: boolean;
}

export interface LineChartOptions {
  /** The file under bench/ the writer puts the SVG in (`charts/workflow-cost.svg`). */
  file: string;
  alt: string;
  title: string;
  xTitle: string;
  yTitle: string;
  series: readonly LineSeries[];
  xScale?: 'linear' | 'log';
  yScale?: 'linear' | 'log';
  width?: number;
  height?: number;
}

/** A chart was asked for without anything to draw. */
export class ChartInputError extends Error {
  override name = 'ChartInputError';
}

export async function lineChart(o: LineChartOptions): Promise<BenchChart> {
  const rows = o.series.flatMap((s) => s.points.map(([x, y]) => ({ series: s.name, x, y, dashed: s.dashed === true })));
  if (rows.length === 0) throw new ChartInputError(`chart ${o.file}: no points`);
  const bad = rows.find((r) => !Number.isFinite(r.x) || !Number.isFinite(r.y));
  if (bad !== undefined) throw new ChartInputError(`chart ${o.file}: series "${bad.series}" has a non-finite point (${bad.x}, ${bad.y})`);
  const spec: TopLevelSpec = {
    width: o.width ?? 560,
    height: o.height ?? 300,
    title: o.title,
    background: 'white',
    padding: 8,
    data: { values: rows },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: { type: o.xScale ?? 'linear', zero: false } },
      y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: { type: o.yScale ?? 'linear' } },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        sort: o.series.map((s) => s.name),
        legend: { orient: 'top-left', labelLimit: 480 },
      },
      strokeDash: {
        field: 'dashed',
        type: 'nominal',
        legend: null,
        scale: {
          domain: [false, true],
          range: [
            [1, 0],
            [6, 4],
          ],
        },
      },
    },
    config: { font: 'sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 12 } },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return { file: o.file, alt: o.alt, svg: svg.endsWith('\n') ? svg : `${svg}\n` };
  } finally {
    view.finalize();
  }
}
