// Charts rendered to SVG strings when the report is written, so report.html needs no script, no
// network and no CDN and reads the same in a browser, a CI artifact viewer or an e-mail.
//
// Why Apache ECharts: it renders server-side to SVG without a DOM or a canvas package (`ssr: true`,
// `renderToSVGString`), it has every chart type this report needs (time series with marked lines and
// shaded areas, log axes, box plots), it is a top-level Apache Software Foundation project with
// regular releases, and it is plain JavaScript with no native build step. Vega-Lite needs a headless
// canvas or a DOM shim for text measurement; hand-written SVG would mean maintaining axes, ticks and
// legends ourselves. Only the parts used are registered (echarts/core), which keeps load time down.
import * as echarts from 'echarts/core';
import { LineChart, ScatterChart, BoxplotChart, BarChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent, MarkLineComponent, MarkAreaComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import type { EChartsOption } from 'echarts';

echarts.use([LineChart, ScatterChart, BoxplotChart, BarChart, GridComponent, LegendComponent, TitleComponent, MarkLineComponent, MarkAreaComponent, SVGRenderer]);

// Without a canvas, ECharts cannot measure text and falls back to a rough guess, which makes legend
// entries run into each other. The charts name Arial-compatible fonts (Liberation Sans on Debian), and
// text is measured here with Arial's glyph widths, padded by a tenth so a wider fallback font such as
// DejaVu Sans still fits.
const CHART_FONT = 'Arial, Helvetica, "Liberation Sans", sans-serif';
const EM_WIDTHS: Array<[RegExp, number]> = [
  [/[ .,:;!|'`ijl\/]/, 0.26],
  [/[frtI()\[\]{}"\-]/, 0.33],
  [/[cksvxyzJ]/, 0.5],
  [/[m]/, 0.833],
  [/[w]/, 0.722],
  [/[MW%]/, 0.89],
  [/[A-Z]/, 0.7],
  [/[@]/, 1.0],
  [/[\x21-\x7e]/, 0.556],
];

export function measureTextWidth(text: string, font?: string): number {
  const size = Number(/(\d+(?:\.\d+)?)px/.exec(font ?? '')?.[1] ?? 12);
  let em = 0;
  for (const ch of text) em += EM_WIDTHS.find(([re]) => re.test(ch))?.[1] ?? 0.62;
  return em * size * 1.1;
}

echarts.setPlatformAPI({ measureText: (text: string, font?: string) => ({ width: measureTextWidth(text ?? '', font) }) });

export type ChartOption = EChartsOption;

/** One colour per target across every chart of a report, so a target is recognisable everywhere. */
export const PALETTE = ['#2f6fdf', '#e8743b', '#19a979', '#945ecf', '#ed4a7b', '#13a4b4', '#525df4', '#bf399e', '#6c8893', '#ee6868'];

export const FAULT_COLOR = '#c62828';
export const UNAVAILABLE_COLOR = 'rgba(198, 40, 40, 0.13)';

export interface ChartSize {
  width?: number;
  height?: number;
}

/**
 * Renders one chart to an SVG string. Animation is off (there is no second frame), and the SVG
 * carries a viewBox so the page's CSS can scale it to the column width.
 */
export function renderSvg(option: ChartOption, size: ChartSize = {}): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width ?? 900, height: size.height ?? 300 });
  try {
    chart.setOption({
      animation: false,
      color: PALETTE,
      textStyle: { fontFamily: CHART_FONT },
      ...option,
    });
    return chart.renderToSVGString({ useViewBox: true });
  } finally {
    chart.dispose();
  }
}

/** Title top left, legend on its own line beneath, so long series names never collide with the title. */
export function frame(title: string, opts: { legend?: boolean; left?: number } = {}): ChartOption {
  const legend = opts.legend ?? true;
  return {
    title: { text: title, left: 0, top: 2, textStyle: { fontSize: 14, fontWeight: 600 } },
    legend: legend ? { top: 26, left: 8, itemGap: 18 } : undefined,
    grid: { left: opts.left ?? 64, right: 28, top: legend ? 66 : 44, bottom: 48 },
  };
}

/** An axis name centred along the axis, in the muted text colour. */
export const axisName = (name: string) => ({ name, nameLocation: 'middle' as const, nameGap: 28, nameTextStyle: { color: '#5f6b7a' } });
