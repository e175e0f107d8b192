/**
 * `synthmix export --format mlflow`: an MLflow file store under `<out>/mlruns` — one experiment per
 * sweep (named by its id), one run per cell with its tags and params (source, p, mode, seed, arm,
 * cell), the per-epoch curves as metric histories (step = epoch) and `final/*` metrics.
 *
 * The layout is MLflow's `FileStore` (mlflow/store/tracking/file_store.py): `<exp>/meta.yaml`,
 * `<exp>/<run>/meta.yaml`, `metrics/<key>` lines `<timestamp ms> <value> <step>`, `params/<key>`,
 * `tags/<key>`. Written here, not with the `mlflow` package (a server-sized dependency for a few
 * text files); the test reads it back with MLflow's own client. MLflow 3 keeps the file store in
 * maintenance mode: `MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri <out>/mlruns`.
 *
 * Deterministic: ids derive from the sweep and cell ids, times are the sweep's start and finish.
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { sha256Hex } from '../hash.js';
import type { SweepRecord } from './record.js';
import { CURVES, FINAL_METRICS, runName, type ExportFiles, type ExportRun } from './export-runs.js';

/** MLflow's RunStatus.FINISHED and SourceType.LOCAL, as its meta.yaml stores them. */
const RUN_FINISHED = 3;
const SOURCE_LOCAL = 4;

/** A YAML mapping of scalars; strings as JSON strings (valid YAML double-quoted scalars). */
function yaml(entries: Record<string, string | number | never[]>): string {
  return Object.entries(entries)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? '[]' : typeof v === 'number' ? String(v) : JSON.stringify(v)}`)
    .join('\n') + '\n';
}

/** The sweep's experiment id: stable per sweep, so exports of several sweeps share one `mlruns`. */
export function mlflowExperimentId(sweepId: string): string {
  return `synthmix-${sha256Hex(`mlflow-experiment:${sweepId}`).slice(0, 16)}`;
}

export function mlflowRunId(run: ExportRun): string {
  return sha256Hex(`mlflow-run:${run.tags.sweepId}:${run.tags.cellId}`).slice(0, 32);
}

/** The files of an MLflow export, by path relative to `root` (the export folder; artifact URIs are absolute). */
export function mlflowExport(runs: readonly ExportRun[], record: SweepRecord, root: string): ExportFiles {
  const store = path.join(root, 'mlruns');
  const started = Date.parse(record.report.startedAt);
  const finished = Date.parse(record.report.finishedAt);
  const startTime = Number.isFinite(started) ? started : 0;
  const endTime = Number.isFinite(finished) ? finished : startTime;
  const experimentId = mlflowExperimentId(record.sweepId);
  const files = new Map<string, string>();
  // MLflow takes a run folder for one only with metrics/, params/ and artifacts/ in it (empty or not).
  const folders: string[] = [];
  const uri = (...segments: string[]) => pathToFileURL(path.join(store, ...segments)).href;
  // MLflow's UI opens on the default experiment: it must exist (MLflow creates it the same way).
  files.set('mlruns/0/meta.yaml', yaml({ artifact_location: uri('0'), creation_time: startTime, experiment_id: '0', last_update_time: startTime, lifecycle_stage: 'active', name: 'Default' }));
  files.set(`mlruns/${experimentId}/meta.yaml`, yaml({ artifact_location: uri(experimentId), creation_time: startTime, experiment_id: experimentId, last_update_time: endTime, lifecycle_stage: 'active', name: record.sweepId }));
  for (const run of runs) {
    const id = mlflowRunId(run);
    const dir = `mlruns/${experimentId}/${id}`;
    folders.push(`${dir}/metrics`, `${dir}/params`, `${dir}/artifacts`);
    files.set(`${dir}/meta.yaml`, yaml({
      artifact_uri: uri(experimentId, id, 'artifacts'),
      end_time: endTime,
      entry_point_name: '',
      experiment_id: experimentId,
      lifecycle_stage: 'active',
      run_id: id,
      run_name: runName(run),
      run_uuid: id,
      source_name: '',
      source_type: SOURCE_LOCAL,
      source_version: '',
      start_time: startTime,
      status: RUN_FINISHED,
      tags: [],
      user_id: 'synthmix',
    }));
    const tags = { source: run.tags.source, p: String(run.tags.p), mode: run.tags.mode, seed: String(run.tags.seed), arm: run.tags.arm, cell: run.tags.cellId, sweep: run.tags.sweepId };
    for (const [k, v] of Object.entries(tags)) {
      files.set(`${dir}/params/${k}`, v);
      files.set(`${dir}/tags/${k}`, v);
    }
    files.set(`${dir}/tags/mlflow.runName`, runName(run));
    for (const curve of CURVES) files.set(`${dir}/metrics/${curve}`, run.epochs.map((e) => `${endTime} ${e.values[curve]} ${e.epoch}\n`).join(''));
    const lastEpoch = run.epochs.at(-1)?.epoch ?? 0;
    for (const metric of FINAL_METRICS) {
      const value = run.final[metric];
      if (value !== undefined) files.set(`${dir}/metrics/final/${metric}`, `${endTime} ${value} ${lastEpoch}\n`);
    }
  }
  return { files, folders };
}
