/**
 * Which of a sweep's base models its pretrain would upload from the ones synthmix ships
 * (engine/pretrained/, lib/shipped-models.ts) instead of training: for `synthmix plan`, before
 * anything runs. Decided the one way the steps decide it: each step's inputs built as the sweep
 * builds them (base-model-inputs.ts), their memo prefix computed as memoize computes it
 * (`memoPrefix`), that prefix looked up as the step looks it up (`findShipped`, every file checked
 * against SHA256SUMS).
 *
 * Those inputs hash the prior domain's curated manifest and its train/val split, which exist only
 * once curate and mix have run; so the caller hands in those two data steps (no engine, no
 * training: the CLI runs them in a scratch store, so the plan writes nothing to the sweep's store).
 */
import type { ManifestRef } from '../data/manifest.js';
import { memoPrefix } from '../memo.js';
import type { BaseModelKeys } from '../report/types.js';
import { findShipped } from '../shipped-models.js';
import { trainReads, type TrainInput } from '../steps/classifier.js';
import type { CurateDatasetInput, CurateResult } from '../steps/curate.js';
import type { PretrainGeneratorInput } from '../steps/generator.js';
import type { ArtifactStore } from '../store/types.js';
import {
  classifierArch,
  needsPriorDomain,
  pretrainClassifierInput,
  pretrainClassifierSplit,
  pretrainGeneratorInput,
  pretrainsClassifier,
  pretrainsGenerator,
  priorCurateInput,
} from './base-model-inputs.js';
import type { SweepConfig } from './config.js';

/** The shipped base models, by role (absent: trained for the sweep, or given in the config). */
export type ShippedBaseModels = NonNullable<BaseModelKeys['shipped']>;

/** The prior domain's data steps (the cpu activities `curateDataset` and `mix`, in whatever store the caller chose). */
export interface PriorDomainSteps {
  curateDataset(input: CurateDatasetInput): Promise<Pick<CurateResult, 'trainManifest' | 'classes'>>;
  mix(input: ReturnType<typeof pretrainClassifierSplit>): Promise<{ train: ManifestRef; val: ManifestRef }>;
}

/** A pretrain step as the sweep would call it: its input and the memo prefix of that input. */
export interface PlannedPretrain<I> {
  input: I;
  prefix: string;
}

export interface PlannedPretrains {
  generator?: PlannedPretrain<PretrainGeneratorInput>;
  classifier?: PlannedPretrain<TrainInput>;
}

/**
 * The pretrain steps the sweep of `config` would run (`pretrainsClassifier` / `pretrainsGenerator`,
 * as workflows/sweep.ts `baseModels` decides), with their inputs and prefixes. `store` is the one `steps` wrote to: the train step's key reads no store object when
 * it trains from scratch, but memoPrefix is given it all the same, as memoize is.
 */
export async function plannedPretrains(config: SweepConfig, store: ArtifactStore, steps: PriorDomainSteps): Promise<PlannedPretrains> {
  if (!needsPriorDomain(config)) return {};
  const prior = await steps.curateDataset(priorCurateInput(config));
  const planned: PlannedPretrains = {};
  if (pretrainsGenerator(config)) {
    const input = pretrainGeneratorInput(config, prior.trainManifest);
    planned.generator = { input, prefix: await memoPrefix(store, 'pretrain-generator', input) };
  }
  if (pretrainsClassifier(config)) {
    const split = await steps.mix(pretrainClassifierSplit(config, prior.trainManifest));
    // The prior domain's own classes, as the sweep's `pretrainClassifier` gives them.
    const input = pretrainClassifierInput(config, split, prior.classes, classifierArch(config, prior.classes.length));
    planned.classifier = { input, prefix: await memoPrefix(store, 'train', input, { reads: trainReads(input) }) };
  }
  return planned;
}

/** The base models the sweep of `config` would upload from engine/pretrained/ rather than train. */
export async function findShippedBaseModels(config: SweepConfig, store: ArtifactStore, steps: PriorDomainSteps): Promise<ShippedBaseModels> {
  const planned = await plannedPretrains(config, store, steps);
  const [generator, classifier] = await Promise.all([
    planned.generator ? findShipped(planned.generator.prefix) : undefined,
    planned.classifier ? findShipped(planned.classifier.prefix) : undefined,
  ]);
  return { ...(generator ? { generator: generator.origin } : {}), ...(classifier ? { classifier: classifier.origin } : {}) };
}
