/**
 * `synthmix export ID --format tensorboard|mlflow|csv --out DIR`: a finished sweep's per-cell
 * training curves and final metrics where researchers look, from its stored record (no Temporal
 * needed). Each format's files come from one list of runs (export-runs.ts).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../store/types.js';
import { writeFileAtomic } from '../temp-files.js';
import { readSweepRecord } from './record.js';
import { exportRuns } from './export-runs.js';
import { csvExport } from './export-csv.js';
import { tensorboardExport } from './export-tensorboard.js';
import { mlflowExport } from './export-mlflow.js';

export const EXPORT_FORMATS = ['tensorboard', 'mlflow', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportSummary {
  runs: number;
  /** Paths written, relative to the output folder, sorted. */
  files: string[];
}

export async function exportSweep(store: ArtifactStore, sweepId: string, format: ExportFormat, outDir: string): Promise<ExportSummary> {
  const record = await readSweepRecord(store, sweepId);
  const runs = await exportRuns(store, record);
  const root = path.resolve(outDir);
  const { files, folders } =
    format === 'csv' ? csvExport(runs) : format === 'tensorboard' ? tensorboardExport(runs, record.report.finishedAt) : mlflowExport(runs, record, root);
  for (const folder of folders) await mkdir(path.join(root, folder), { recursive: true });
  for (const [relative, data] of files) {
    const file = path.join(root, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, data);
  }
  return { runs: runs.length, files: [...files.keys()].sort() };
}
