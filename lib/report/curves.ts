/**
 * The training curves of every cell on demand (issue 17 point 4, `synthmix report ID --out DIR
 * --curves`): a small-multiples figure, one panel per done cell with its train loss (solid, left
 * axis) and validation accuracy (dashed, right axis) over epochs, a row of panels per (series, init
 * mode), p as colour. The runs come from `exportRuns` (the one reader of the cells' metrics.json),
 * so the figure shows exactly the numbers `synthmix export` writes.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { stableStringify } from '../hash.js';
import type { ArtifactStore } from '../store/types.js';
import { writeFileAtomic } from '../temp-files.js';
import { compareSeries, compareText, MODE_LABELS, seriesLabel, type SeriesId } from './data.js';
import { exportRuns, type ExportRun } from './export-runs.js';
import { renderSvg, svgToPng } from './figures.js';
import { readSweepRecord } from './record.js';

/** The files the figure is written as (next to the copied report). */
export const CURVES_FILES = { svg: 'curves.svg', png: 'curves.png', spec: 'curves.vl.json' } as const;

interface CurveDatum {
  cellId: string;
  /** The panel's title: the cell's p and seed (its row says series and mode). */
  panel: string;
  p: string;
  epoch: number;
  metric: 'train loss' | 'val accuracy';
  value: number;
}

/** A run's series, as the report's figures name it (the only-original and RandAugment arms apart from their source `original`). */
function seriesOfRun(run: ExportRun): SeriesId {
  if (run.tags.arm === 'mixed') return run.tags.source as SeriesId;
  return (run.tags.arm === 'only-original' ? 'original' : run.tags.arm) as SeriesId;
}

const MODE_ORDER = Object.keys(MODE_LABELS);

function compareModes(a: string, b: string): number {
  const ia = MODE_ORDER.indexOf(a);
  const ib = MODE_ORDER.indexOf(b);
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || compareText(a, b);
}

export interface CurveGroup {
  series: SeriesId;
  mode: string;
  /** By p, then seed: one panel each. */
  runs: ExportRun[];
}

/** The rows of panels: one per (series, init mode), in the report's order, each with its runs by p then seed. */
export function curveGroups(runs: readonly ExportRun[]): CurveGroup[] {
  const groups = new Map<string, CurveGroup>();
  for (const run of runs) {
    const series = seriesOfRun(run);
    const id = `${series}\u0000${run.tags.mode}`;
    const group = groups.get(id) ?? { series, mode: run.tags.mode, runs: [] };
    group.runs.push(run);
    groups.set(id, group);
  }
  const ordered = [...groups.values()].sort((a, b) => compareSeries(a.series, b.series) || compareModes(a.mode, b.mode));
  for (const g of ordered) g.runs.sort((a, b) => a.tags.p - b.tags.p || a.tags.seed - b.tags.seed || compareText(a.tags.cellId, b.tags.cellId));
  return ordered;
}

function formatP(p: number): string {
  return String(Math.round(p * 1000) / 1000);
}

function panelTitle(run: ExportRun): string {
  return `p = ${formatP(run.tags.p)}, seed ${run.tags.seed}`;
}

function curveData(runs: readonly ExportRun[]): CurveDatum[] {
  return runs.flatMap((run) =>
    run.epochs.flatMap((e): CurveDatum[] => {
      const common = { cellId: run.tags.cellId, panel: panelTitle(run), p: formatP(run.tags.p), epoch: e.epoch };
      return [
        { ...common, metric: 'train loss', value: e.values['train/loss'] },
        { ...common, metric: 'val accuracy', value: e.values['val/accuracy'] },
      ];
    }),
  );
}

/**
 * The vega-lite spec: a vertical stack of rows (series × mode), each a facet with one panel per
 * cell. Loss and accuracy share a panel on two y axes (independent scales): one panel per cell, as
 * asked, rather than a panel per metric.
 */
export function curvesSpec(sweepId: string, runs: readonly ExportRun[], failedCells = 0): TopLevelSpec {
  const groups = curveGroups(runs);
  const pDomain = [...new Set(runs.map((r) => r.tags.p))].sort((a, b) => a - b).map(formatP);
  const maxLoss = Math.max(0, ...runs.flatMap((r) => r.epochs.map((e) => e.values['train/loss'])));
  const colour = { field: 'p', type: 'ordinal' as const, title: 'p', scale: { domain: pDomain, scheme: 'viridis' }, legend: { orient: 'top' as const, direction: 'horizontal' as const } };
  const x = { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1, format: 'd' } };
  const panel = (metric: CurveDatum['metric'], y: Record<string, unknown>, dash: number[]) => ({
    transform: [{ filter: { field: 'metric', equal: metric } }],
    mark: { type: 'line', strokeWidth: 1.5, strokeDash: dash, point: false },
    encoding: { x, y, color: colour, detail: { field: 'cellId', type: 'nominal' }, order: { field: 'epoch', type: 'quantitative' } },
  });
  const rows = groups.map((g) => ({
    title: { text: `${seriesLabel(g.series)} — ${g.mode}`, fontSize: 13 },
    data: { values: curveData(g.runs) },
    // A panel per cell, titled by its p and seed (unique within a row: one cell per series, mode, p, seed).
    facet: { field: 'panel', type: 'nominal', sort: g.runs.map(panelTitle), title: null, header: { labelFontSize: 11 } },
    columns: Math.min(6, g.runs.length),
    spec: {
      width: 130,
      height: 90,
      layer: [
        panel('train loss', { field: 'value', type: 'quantitative', title: 'train loss (solid)', scale: { domain: [0, maxLoss > 0 ? maxLoss : 1], nice: true } }, [1, 0]),
        panel('val accuracy', { field: 'value', type: 'quantitative', title: 'val accuracy (dashed)', scale: { domain: [0, 1] }, axis: { format: '.0%', orient: 'right' } }, [4, 2]),
      ],
      resolve: { scale: { y: 'independent' } },
    },
    // Both y scales have fixed domains, so panels compare alike; vega-lite needs them resolved per panel for two axes in a facet.
    resolve: { scale: { y: 'independent' } },
  }));
  const subtitle = [`${runs.length} cells: train loss (solid, left axis) and validation accuracy (dashed, right axis) per epoch; colour: p`];
  if (failedCells > 0) subtitle.push(`${failedCells} failed cell${failedCells === 1 ? '' : 's'} not drawn (no curves)`);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Training curves — ${sweepId}`, subtitle, anchor: 'start', fontSize: 15, subtitleFontSize: 12, subtitleColor: '#555555' },
    vconcat: rows,
    resolve: { scale: { color: 'shared' } },
    config: { font: 'DejaVu Sans', background: 'white', view: { stroke: '#dddddd' }, axis: { labelFontSize: 10, titleFontSize: 10, gridColor: '#eeeeee' } },
  } as unknown as TopLevelSpec;
}

/** Draw a finished sweep's curves from its record into `outDir`: the SVG, a PNG and the spec. Returns the paths written. */
export async function writeCurves(store: ArtifactStore, sweepId: string, outDir: string): Promise<string[]> {
  const record = await readSweepRecord(store, sweepId);
  const runs = await exportRuns(store, record);
  const failed = record.report.cells.filter((c) => c.status !== 'done').length;
  const spec = curvesSpec(sweepId, runs, failed);
  const svg = await renderSvg(spec);
  const root = path.resolve(outDir);
  await mkdir(root, { recursive: true });
  const written: Array<[string, string | Buffer]> = [
    [CURVES_FILES.svg, svg],
    [CURVES_FILES.png, svgToPng(svg)],
    [CURVES_FILES.spec, `${stableStringify(spec, 2)}\n`],
  ];
  for (const [name, data] of written) await writeFileAtomic(path.join(root, name), data);
  return written.map(([name]) => path.join(root, name));
}
