/**
 * The input of one experiment cell (workflows/experiment.ts: mix → train → evaluate), built in
 * one place from the sweep config, the cell and what the sweep's data stages produced. Pure: the
 * sweep workflow and the tests that run single cells build it the same way.
 */
import type { ManifestRef } from '../data/manifest.js';
import type { ClassifierArch } from '../steps/classifier.js';
import type { Queues } from '../temporal/queues.js';
import { generationSeedOf, type Cell, type Source } from './cells.js';
import type { SweepConfig } from './config.js';

export interface ExperimentInput {
  queues: Queues;
  cell: Cell;
  classes: string[];
  original: ManifestRef;
  /** The source's synthetic images, all classes (absent for the only-original and RandAugment arms). */
  synthetic?: ManifestRef;
  test: ManifestRef;
  pretrainedKey: string;
  arch: ClassifierArch;
  train: SweepConfig['train'];
  mix: Pick<SweepConfig['mix'], 'valFraction' | 'realValidation'>;
  heartbeatTimeout?: string;
}

/** What the cells share, from the sweep's data stages. */
export interface CellData {
  classes: string[];
  original: ManifestRef;
  test: ManifestRef;
  /** Pretrained classifier weights (finetune / frozen start from them). */
  pretrainedKey: string;
  arch: ClassifierArch;
  /** Per generation seed (`generationSeeds`), per source, its synthetic images (all classes). */
  synthetic?: SyntheticSets;
  /** Per fine-tuned source that lacks classes: why its cells at p > 0 fail without running (lib/sweep/instances.ts). */
  blocked?: Partial<Record<Source, string>>;
}

/**
 * The synthetic sets of a sweep: one entry per generation seed (one at `seedScope: "training"`).
 * Small whatever the classes (one manifest reference per seed and source): it travels in history.
 */
export type SyntheticSets = Array<{ seed: number; sources: Partial<Record<Source, ManifestRef>> }>;

export function experimentInput(
  config: SweepConfig,
  cell: Cell,
  data: CellData,
  run: { queues: Queues; heartbeatTimeout?: string },
): ExperimentInput {
  // A cell mixes in the images its own seed generated (`all`), or the first seed's (`training`).
  const generationSeed = generationSeedOf(config, cell.seed);
  const synthetic = cell.arm === 'mixed' ? data.synthetic?.find((set) => set.seed === generationSeed)?.sources[cell.source as Source] : undefined;
  return {
    queues: run.queues,
    cell,
    classes: data.classes,
    original: data.original,
    ...(synthetic ? { synthetic } : {}),
    test: data.test,
    pretrainedKey: data.pretrainedKey,
    arch: data.arch,
    train: config.train,
    mix: { valFraction: config.mix.valFraction, realValidation: config.mix.realValidation },
    ...(run.heartbeatTimeout ? { heartbeatTimeout: run.heartbeatTimeout } : {}),
  };
}
