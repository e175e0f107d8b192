/**
 * `synthmix export --format csv`: `curves.csv`, one row per (cell, epoch, metric) — the long format
 * pandas / R / a spreadsheet pivot — and `final.csv`, one row per cell with its final metrics.
 */
import { toCsv } from './data.js';
import { FINAL_METRICS, CURVES, type ExportFiles, type ExportRun } from './export-runs.js';

const TAG_COLUMNS = ['sweepId', 'cellId', 'arm', 'source', 'p', 'mode', 'seed'] as const;

const tagValues = (run: ExportRun) => TAG_COLUMNS.map((k) => run.tags[k]);

export function curvesCsv(runs: readonly ExportRun[]): string {
  const rows: unknown[][] = [];
  for (const run of runs) for (const e of run.epochs) for (const metric of CURVES) rows.push([...tagValues(run), e.epoch, metric, e.values[metric]]);
  return toCsv([...TAG_COLUMNS, 'epoch', 'metric', 'value'], rows);
}

export function finalCsv(runs: readonly ExportRun[]): string {
  return toCsv([...TAG_COLUMNS, ...FINAL_METRICS], runs.map((run) => [...tagValues(run), ...FINAL_METRICS.map((m) => run.final[m] ?? '')]));
}

/** The files of a CSV export, by name. */
export function csvExport(runs: readonly ExportRun[]): ExportFiles {
  return {
    files: new Map([
      ['curves.csv', curvesCsv(runs)],
      ['final.csv', finalCsv(runs)],
    ]),
    folders: [],
  };
}
