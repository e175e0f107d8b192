/**
 * The report's figures as vega-lite specs (paper Figs 3–6), rendered to SVG by vega (no canvas, no
 * browser) and to PNG by resvg. Specs hold their data inline, failed cells included, so a figure's
 * `.vl.json` is a complete record of what it shows.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { stripPngMetadata } from '../images/png.js';
import { MODE_LABELS, seriesLabel, type ReportData, type SeriesId, type SummaryRow } from './data.js';
import type { ReferenceLine } from './baselines.js';
import { installTextMetrics, REPORT_FONT, REPORT_FONT_FAMILY } from './fonts.js';

/** Fixed colours per series, so a source has the same colour in every figure. */
const SERIES_COLOURS: Record<string, string> = {
  vanilla: '#1f77b4',
  dreambooth: '#d62728',
  textual: '#2ca02c',
  original: '#222222',
  randaugment: '#9467bd',
};
/** Baselines' reference lines (no series has it). */
const REFERENCE_COLOUR = '#b8860b';
const EXTRA_COLOURS = ['#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

export function seriesColour(series: SeriesId, index: number): string {
  return SERIES_COLOURS[series] ?? EXTRA_COLOURS[index % EXTRA_COLOURS.length];
}

/** Series plotted as a horizontal reference line: a single p (the RandAugment arm runs at p = 0 only). */
const RULE_SERIES = new Set(['randaugment']);

interface PointDatum {
  /** `mean`: the plotted point (mean over seeds); `seed`: one seed's value, drawn small beside it. */
  kind: 'mean' | 'seed';
  series: string;
  label: string;
  className: string;
  p: number;
  /** p shifted a little per series so error bars do not hide each other. */
  x: number;
  mean: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  n: number;
  failed: number;
  cells: string;
}

function niceDomain(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  let a = Math.max(0, Math.floor((lo - 0.03) * 20) / 20);
  let b = Math.min(1, Math.ceil((hi + 0.03) * 20) / 20);
  if (b - a < 0.1) {
    a = Math.max(0, a - 0.05);
    b = Math.min(1, b + 0.05);
  }
  return [round6(a), round6(b)];
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/**
 * The point and, with several seeds, each seed's value. Error bars: the t interval over seeds, or for
 * a point of one cell its test-set interval (Wilson / bootstrap), so a single seed still shows spread.
 */
function toData(row: SummaryRow, dodge: number): PointDatum[] {
  const ci = row.ciLow !== null ? [row.ciLow, row.ciHigh] : [row.testCiLow, row.testCiHigh];
  const mean: PointDatum = {
    kind: 'mean',
    series: row.series,
    label: row.seriesLabel,
    className: row.className,
    p: row.p,
    x: round6(row.p + dodge),
    mean: row.mean,
    ciLow: ci[0],
    ciHigh: ci[1],
    n: row.n,
    failed: row.failed,
    cells: row.cellIds.join(' '),
  };
  if (row.seedValues.length < 2) return [mean];
  return [mean, ...row.seedValues.map((value): PointDatum => ({ ...mean, kind: 'seed', mean: value, ciLow: null, ciHigh: null, n: 1, failed: 0 }))];
}

/** What every figure spec shares: font, colours, white background. */
function baseConfig() {
  return {
    font: REPORT_FONT_FAMILY,
    background: 'white',
    view: { stroke: '#dddddd' },
    axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eeeeee' },
    legend: { labelFontSize: 12, titleFontSize: 12, symbolStrokeWidth: 2, labelLimit: 260 },
    title: { fontSize: 15, subtitleFontSize: 12, subtitleColor: '#555555', anchor: 'start' as const },
    header: { labelFontSize: 13, labelFontWeight: 'bold' as const, titleFontSize: 12 },
  };
}

interface LayerOptions {
  data: ReportData;
  yDomain: [number, number];
  xDomain: [number, number];
  withErrorBars: boolean;
  compact: boolean;
}

/** The layers of one accuracy-vs-p panel: lines, error bars, points, reference rules, failure marks. */
function panelLayers({ data, yDomain, xDomain, withErrorBars, compact }: LayerOptions) {
  const labels = data.series.map(seriesLabel);
  const colour = {
    field: 'label',
    type: 'nominal' as const,
    title: 'training data',
    scale: { domain: labels, range: data.series.map(seriesColour) },
    legend: { orient: 'bottom' as const, direction: 'horizontal' as const, columns: Math.min(labels.length, 5), symbolType: 'stroke', symbolSize: 400, symbolStrokeWidth: 3, symbolOpacity: 1 },
  };
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: compact ? 'p' : 'p (share of synthetic images in the training set)',
    scale: { domain: xDomain, nice: false, zero: false },
    axis: { values: data.pValues, format: '.2~f', grid: true },
  };
  const y = {
    field: 'mean',
    type: 'quantitative' as const,
    title: compact ? 'accuracy' : 'test accuracy',
    scale: { domain: yDomain, nice: false, zero: false, clamp: true },
    axis: { format: '.0%', tickCount: compact ? 4 : 8 },
  };
  const strokeDash = {
    field: 'label',
    type: 'nominal' as const,
    title: colour.title,
    scale: { domain: labels, range: data.series.map((s) => (s === 'original' ? [6, 3] : RULE_SERIES.has(s) ? [2, 3] : [1, 0])) },
    legend: colour.legend,
  };
  const done = { filter: "datum.mean !== null && datum.kind === 'mean'" };
  const means = { filter: "datum.kind === 'mean'" };
  const layers: unknown[] = [
    {
      // Points where every seed failed stay in (mean null) so the line breaks there instead of bridging them.
      transform: [means, { filter: `indexof(${JSON.stringify([...RULE_SERIES])}, datum.series) < 0` }],
      mark: { type: 'line', strokeWidth: compact ? 1.5 : 2, invalid: 'break-paths-show-domains' },
      encoding: { x, y, color: colour, strokeDash, order: { field: 'p', type: 'quantitative' } },
    },
  ];
  layers.push({
    // Each seed's own value: small hollow marks beside the mean (the spread the interval summarises).
    transform: [{ filter: "datum.kind === 'seed'" }, { filter: `indexof(${JSON.stringify([...RULE_SERIES])}, datum.series) < 0` }],
    mark: { type: 'point', filled: false, size: compact ? 8 : 16, opacity: 0.6, strokeWidth: 1 },
    encoding: { x, y, color: colour },
  });
  if (withErrorBars) {
    layers.push({
      transform: [means, { filter: 'datum.ciLow !== null' }],
      mark: { type: 'rule', strokeWidth: compact ? 1 : 1.5, opacity: 0.55 },
      encoding: { x, y: { ...y, field: 'ciLow' }, y2: { field: 'ciHigh' }, color: colour },
    });
  }
  layers.push(
    {
      transform: [done, { filter: `indexof(${JSON.stringify([...RULE_SERIES])}, datum.series) < 0` }],
      mark: { type: 'point', filled: true, size: compact ? 18 : 40, opacity: 1 },
      encoding: { x, y, color: colour },
    },
    {
      // A single-p arm (RandAugment) as a dashed horizontal reference line across the panel.
      transform: [done, { filter: `indexof(${JSON.stringify([...RULE_SERIES])}, datum.series) >= 0` }],
      mark: { type: 'rule', strokeDash: [2, 3], strokeWidth: 2 },
      encoding: { y, color: colour },
    },
    {
      // Failed cells: an × on the bottom edge at their p, in the series colour (never silently dropped).
      transform: [means, { filter: 'datum.failed > 0' }],
      mark: { type: 'point', shape: 'cross', angle: 45, size: compact ? 50 : 110, strokeWidth: 2, filled: true, opacity: 1 },
      encoding: { x, y: { datum: yDomain[0], type: 'quantitative' as const, scale: y.scale }, color: colour },
    },
  );
  return layers;
}

function seedNote(data: ReportData, points: PointDatum[], perClass: boolean): string {
  const maxN = Math.max(0, ...points.map((p) => p.n));
  if (maxN >= 2) return `mean of ${data.seeds.length} seeds (small circles: each seed); error bars: 95% t confidence interval`;
  const bars = points.some((p) => p.ciLow !== null) ? `; error bars: 95% interval from the test set alone (${perClass ? 'bootstrap over the class\'s test images' : 'Wilson'})` : '';
  return `${data.seeds.length === 1 ? `single seed (${data.seeds[0]})` : `${data.seeds.length} seeds, at most one finished per point`}${bars}`;
}

function dodgeFor(data: ReportData, series: SeriesId, enabled: boolean): number {
  if (!enabled) return 0;
  const plotted = data.series.filter((s) => !RULE_SERIES.has(s));
  const i = plotted.indexOf(series);
  if (i < 0) return 0;
  const span = data.pValues.length > 1 ? data.pValues[data.pValues.length - 1] - data.pValues[0] : 1;
  return (i - (plotted.length - 1) / 2) * span * 0.012;
}

function xDomainOf(data: ReportData): [number, number] {
  const lo = data.pValues[0] ?? 0;
  const hi = data.pValues[data.pValues.length - 1] ?? 1;
  const pad = hi > lo ? (hi - lo) * 0.05 : 0.1;
  return [round6(lo - pad), round6(hi + pad)];
}

function epochsNote(mode: string, epochs: Record<string, number> | undefined): string {
  const n = epochs?.[mode];
  return typeof n === 'number' ? `, ${n} epochs` : '';
}

/**
 * Baselines (lib/report/baselines.ts) as labelled horizontal lines across the panel: their own data,
 * outside the series' colour legend (they are no source of training data).
 */
function referenceLayers(references: readonly ReferenceLine[], xDomain: [number, number], yDomain: [number, number]): unknown[] {
  if (references.length === 0) return [];
  const values = references.map((r) => ({ reference: r.label, mean: r.accuracy, text: `${r.label} ${(r.accuracy * 100).toFixed(1)}%` }));
  const y = { field: 'mean', type: 'quantitative' as const, scale: { domain: yDomain, nice: false, zero: false, clamp: true } };
  return [
    { data: { values }, mark: { type: 'rule', color: REFERENCE_COLOUR, strokeDash: [8, 4], strokeWidth: 2 }, encoding: { y } },
    {
      data: { values },
      mark: { type: 'text', color: REFERENCE_COLOUR, align: 'right', baseline: 'bottom', dx: -4, dy: -3, fontSize: 11 },
      encoding: { x: { datum: xDomain[1], type: 'quantitative' as const, scale: { domain: xDomain, nice: false, zero: false } }, y, text: { field: 'text' } },
    },
  ];
}

/** Accuracy vs p per source for one init mode, with the only-original line and any baselines' lines (paper Figs 3–5). */
export function accuracySpec(data: ReportData, mode: string, epochs?: Record<string, number>, references: readonly ReferenceLine[] = []): TopLevelSpec {
  const rows = data.summary.filter((r) => r.mode === mode && r.className === 'overall');
  const multi = rows.some((r) => r.n >= 2);
  const points = rows.flatMap((r) => toData(r, dodgeFor(data, r.series, true)));
  const yDomain = niceDomain([...points.flatMap((p) => [p.mean, p.ciLow, p.ciHigh]), ...references.map((r) => r.accuracy)].filter((v): v is number => v !== null && Number.isFinite(v)));
  const failedHere = rows.reduce((s, r) => s + r.failed, 0);
  const subtitle = [seedNote(data, points, false)];
  if (failedHere > 0) subtitle.push(`× on the bottom edge: ${failedHere} failed cell${failedHere === 1 ? '' : 's'} (listed in the report)`);
  const modeLabel = (MODE_LABELS as Record<string, string>)[mode] ?? mode;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Test accuracy vs p — ${mode}`, subtitle: [`${modeLabel}${epochsNote(mode, epochs)}`, ...subtitle] },
    width: 520,
    height: 320,
    data: { values: points },
    layer: [
      ...panelLayers({ data, yDomain, xDomain: xDomainOf(data), withErrorBars: multi || points.some((p) => p.ciLow !== null), compact: false }),
      ...referenceLayers(references, xDomainOf(data), yDomain),
    ],
    config: baseConfig(),
  } as unknown as TopLevelSpec;
}

/** Per-class accuracy vs p per source for one init mode: one small panel per class (paper Fig 6). */
export function perClassSpec(data: ReportData, mode: string, epochs?: Record<string, number>): TopLevelSpec {
  const rows = data.summary.filter((r) => r.mode === mode && r.className !== 'overall');
  const multi = rows.some((r) => r.n >= 2);
  const points = rows.flatMap((r) => toData(r, dodgeFor(data, r.series, true)));
  const yDomain = niceDomain(points.flatMap((p) => [p.mean, p.ciLow, p.ciHigh]).filter((v): v is number => v !== null));
  const failedHere = data.summary.filter((r) => r.mode === mode && r.className === 'overall').reduce((s, r) => s + r.failed, 0);
  const subtitle = [seedNote(data, points, true)];
  if (failedHere > 0) subtitle.push(`× on the bottom edge: ${failedHere} failed cell${failedHere === 1 ? '' : 's'}`);
  const modeLabel = (MODE_LABELS as Record<string, string>)[mode] ?? mode;
  const columns = data.classes.length <= 4 ? data.classes.length : data.classes.length <= 6 ? 3 : data.classes.length <= 12 ? 5 : 6;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Per-class test accuracy vs p — ${mode}`, subtitle: [`${modeLabel}${epochsNote(mode, epochs)}`, ...subtitle] },
    data: { values: points },
    facet: { field: 'className', type: 'nominal', sort: data.classes, title: null },
    columns: Math.max(1, columns),
    spec: {
      width: 150,
      height: 110,
      layer: panelLayers({ data, yDomain, xDomain: xDomainOf(data), withErrorBars: multi || points.some((p) => p.ciLow !== null), compact: true }),
    },
    resolve: { scale: { y: 'shared', x: 'shared' } },
    config: baseConfig(),
  } as unknown as TopLevelSpec;
}

/** Compile a vega-lite spec and render it to SVG text with vega (headless, deterministic). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  installTextMetrics();
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.endsWith('\n') ? svg : `${svg}\n`;
  } finally {
    view.finalize();
  }
}

/** SVG → PNG with resvg at `zoom` (default 2, for sharp text), DejaVu Sans from the system fonts. */
export function svgToPng(svg: string, zoom = 2): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: zoom },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: REPORT_FONT, sansSerifFamily: REPORT_FONT },
    logLevel: 'off',
  });
  return stripPngMetadata(Buffer.from(resvg.render().asPng()));
}
