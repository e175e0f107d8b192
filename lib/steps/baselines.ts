/**
 * The baseline steps' contract: arms that classify the test set without any training of ours
 * (activities/baselines.ts computes them on the engine; the sweep builds their input with
 * lib/sweep/baselines.ts, the report draws them as reference lines).
 */
import type { ManifestRef } from '../data/manifest.js';
import type { StepTiming } from '../memo.js';

/** §6.3: zero-shot CLIP on the test set, prompts from the generator's templates. */
export interface ClipZeroShotInput {
  test: ManifestRef;
  /** The class list of the test set (label order). */
  classes: string[];
  /** Store prefix of a CLIP folder in transformers layout (`baselines.clipZeroShot.modelPrefix`). */
  modelPrefix: string;
  /** Templates with `{}` for the class words; each class's text embedding is their ensemble. */
  templates: string[];
  batchSize: number;
}

/**
 * Small whatever the classes: the per-class accuracies live in the stored `evaluation.json`
 * (evaluate-classifier's shape), which the report reads.
 */
export interface ClipZeroShotResult extends StepTiming {
  evaluationKey: string;
  logitsKey: string;
  modelPrefix: string;
  overallAccuracy: number | null;
  testImages: number;
}
