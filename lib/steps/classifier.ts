/**
 * The classifier steps' contract (activities/classifier.ts computes them on the engine; the
 * experiment workflow and lib/sweep build their inputs).
 */
import type { ManifestRef } from '../data/manifest.js';
import type { StepTiming } from '../memo.js';
import type { InitMode } from '../sweep/cells.js';
import type { EngineEnvironment } from '../engine/results.js';
import type { ShippedOrigin } from '../shipped-models.js';

export interface ClassifierArch {
  width: number;
  stem: 'auto' | 'cifar' | 'imagenet';
  imageSize: number;
  numClasses: number;
}

export interface TrainInput {
  train: ManifestRef;
  val: ManifestRef;
  /** The class list shared by every split (label order). */
  classes: string[];
  mode: InitMode;
  arch: ClassifierArch;
  /** Store key of pretrained weights (torchvision names); required by finetune and frozen. */
  pretrainedKey?: string;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  seed: number;
  checkpointEvery: number;
  randAugment?: { n: number; m: number; perImage?: boolean };
}

/**
 * What the train step reads by name (its memo key includes their content): the start weights,
 * unless it trains from scratch. Here, not in the activity, so that `synthmix plan` computes the
 * step's prefix the way memoize does (lib/sweep/shipped-base-models.ts).
 */
export function trainReads(input: TrainInput): { keys: Array<string | undefined> } {
  return { keys: [input.mode !== 'scratch' ? input.pretrainedKey : undefined] };
}

export interface TrainResult extends StepTiming {
  weightsKey: string;
  finalKey: string;
  metricsKey: string;
  /** null when no epoch was validated. */
  bestValAcc: number | null;
  bestEpoch: number;
  epochs: number;
  trainImages: number;
  valImages: number;
  imagesPerSec: number | null;
  /**
   * Completed epochs restored from a checkpoint by the attempt that computed this result (0: it
   * trained from the start). Evidence that a retried attempt resumed rather than restarted.
   */
  resumedFromEpoch: number;
  /** Where it was trained (absent in results stored before this was recorded). */
  environment?: EngineEnvironment;
  /**
   * Set when these weights were not trained in this store but shipped with synthmix (the presets'
   * prior-domain classifiers, lib/shipped-models.ts); `environment` is then where they were trained.
   */
  shipped?: ShippedOrigin;
}

export interface EvaluateInput {
  test: ManifestRef;
  classes: string[];
  weightsKey: string;
  arch: ClassifierArch;
  batchSize: number;
}

export interface EvaluateResult extends StepTiming {
  evaluationKey: string;
  overallAccuracy: number;
  perClass: Record<string, number>;
}
