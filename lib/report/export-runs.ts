/**
 * The runs `synthmix export` writes: one per done cell of a finished sweep, read from its stored
 * record (lib/report/record.ts) and each cell's `metrics.json` — its per-epoch curves — tagged by
 * source, p, mode and seed, with its final metrics. The writers (CSV, TensorBoard, MLflow) take
 * these and nothing else, so every format holds the same numbers.
 */
import { mapLimit } from '../concurrency.js';
import { parseEngineOutput, trainMetricsFileSchema } from '../engine/results.js';
import { BadInputError } from '../errors.js';
import type { ArtifactStore } from '../store/types.js';
import type { SweepRecord } from './record.js';
import type { CellOutcome } from './types.js';

/** What tags a run: the cell's coordinates in the sweep. */
export interface RunTags {
  sweepId: string;
  cellId: string;
  arm: string;
  source: string;
  p: number;
  mode: string;
  seed: number;
}

/** One epoch's scalars, named as they are exported (`train/loss`...). */
export interface EpochScalars {
  epoch: number;
  values: Record<CurveName, number>;
}

/**
 * The curves the engine records per epoch. No validation loss: the engine measures validation by
 * accuracy only (metrics.json has none), so none is exported rather than one made up.
 */
export const CURVES = ['train/loss', 'train/accuracy', 'val/accuracy', 'lr'] as const;
export type CurveName = (typeof CURVES)[number];

/** A cell's final metrics (the test set's accuracy, the best epoch by validation). */
export const FINAL_METRICS = ['test/accuracy', 'val/best_accuracy', 'best_epoch', 'epochs', 'train_images', 'val_images'] as const;
export type FinalMetricName = (typeof FINAL_METRICS)[number];

export interface ExportRun {
  tags: RunTags;
  epochs: EpochScalars[];
  final: Partial<Record<FinalMetricName, number>>;
}

/** What a format writes, relative to the output folder: files, and folders that must exist even empty. */
export interface ExportFiles {
  files: Map<string, string | Buffer>;
  folders: string[];
}

/** Where a cell's metrics.json is: recorded with it, or (outcomes recorded before) next to its best weights. */
export function metricsKeyOf(train: NonNullable<CellOutcome['train']>): string {
  if (train.metricsKey) return train.metricsKey;
  if (!train.weightsKey.endsWith('/best.pt')) throw new BadInputError(`cell weights ${train.weightsKey}: not a train step's best.pt, so its metrics.json cannot be found`);
  return `${train.weightsKey.slice(0, -'best.pt'.length)}metrics.json`;
}

/** Every done cell of the sweep as a run, in the record's cell order. Failed cells have no curves: left out. */
export async function exportRuns(store: ArtifactStore, record: SweepRecord): Promise<ExportRun[]> {
  const done = record.report.cells.filter((c) => c.status === 'done' && c.train);
  return mapLimit(done, 8, async (outcome) => {
    const { cell } = outcome;
    const train = outcome.train as NonNullable<CellOutcome['train']>;
    const key = metricsKeyOf(train);
    if (!(await store.exists(key))) throw new BadInputError(`cell ${cell.id} of sweep ${record.sweepId}: its metrics ${key} are not in ${store.description}`);
    const metrics = parseEngineOutput('train-classifier', key, trainMetricsFileSchema, await store.getJson<unknown>(key));
    const final: ExportRun['final'] = {
      best_epoch: train.bestEpoch,
      epochs: train.epochs,
      train_images: train.trainImages,
      val_images: train.valImages,
      ...(outcome.evaluation ? { 'test/accuracy': outcome.evaluation.overallAccuracy } : {}),
      ...(train.bestValAcc !== null ? { 'val/best_accuracy': train.bestValAcc } : {}),
    };
    return {
      tags: { sweepId: record.sweepId, cellId: cell.id, arm: cell.arm, source: cell.source, p: cell.p, mode: cell.mode, seed: cell.seed },
      epochs: metrics.epochs.map((e) => ({ epoch: e.epoch, values: { 'train/loss': e.loss, 'train/accuracy': e.trainAcc, 'val/accuracy': e.valAcc, lr: e.lr } })),
      final,
    };
  });
}

/** A run's name, safe as a folder name: the cell id (letters, digits, `.`, `-`). */
export function runName(run: ExportRun): string {
  return run.tags.cellId.replace(/[^A-Za-z0-9._-]/g, '_');
}
