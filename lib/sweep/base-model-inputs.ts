/**
 * The inputs of the sweep's data and base-model stages, from its config: the curations, the
 * prior-domain classifier's pretrain (it plays ImageNet) and the built-in generator's pretrain (it
 * plays Stable Diffusion). Pure, so the workflow, infra/ship-pretrained.ts and the check that the
 * shipped base models (engine/pretrained/) still match the demo and tiny presets
 * (test/shipped-models.test.ts) compute the very same inputs.
 */
import type { ManifestRef } from '../data/manifest.js';
import type { ClassifierArch, TrainInput } from '../steps/classifier.js';
import type { CurateDatasetInput } from '../steps/curate.js';
import type { PretrainGeneratorInput } from '../steps/generator.js';
import type { SweepConfig } from './config.js';

/** The sweep's dataset: its train originals and test set. */
export function targetCurateInput(config: SweepConfig): CurateDatasetInput {
  const ds = config.dataset;
  return {
    source: ds.source,
    ...(ds.testSource ? { testSource: ds.testSource } : {}),
    demoPreset: ds.demoPreset,
    perClass: ds.perClass,
    testPerClass: ds.testPerClass,
    seed: config.seeds[0],
    imageSize: ds.imageSize,
    resize: ds.resize,
    tooFew: ds.tooFew,
  };
}

/** Whether a base model is pretrained on the prior domain (not given in the config): then its images are curated. */
export function needsPriorDomain(config: SweepConfig): boolean {
  return pretrainsClassifier(config) || pretrainsGenerator(config);
}

/** The sweep pretrains its classifier base (the stand-in for ImageNet weights) unless `train.pretrainedKey` is given. */
export function pretrainsClassifier(config: SweepConfig): boolean {
  return !config.train.pretrainedKey;
}

/**
 * The sweep pretrains the built-in generator unless `generator.modelPrefix` is given; the other
 * backends pretrain nothing (Stable Diffusion requires a modelPrefix, Replicate generates remotely).
 */
export function pretrainsGenerator(config: SweepConfig): boolean {
  return config.generator.backend === 'builtin' && !config.generator.modelPrefix;
}

/** Every image of the demo world's prior domain ("the internet" of the embedded world). */
export function priorCurateInput(config: SweepConfig): CurateDatasetInput {
  const ds = config.dataset;
  return {
    source: { kind: 'demo', domain: 'prior' },
    demoPreset: ds.demoPreset,
    // Every prior image: `all` keeps a class's images when it has fewer than perClass.
    perClass: 1_000_000,
    testPerClass: 0,
    tooFew: 'all',
    seed: config.seeds[0],
    imageSize: ds.imageSize,
    resize: ds.resize,
    outputPrefix: 'curate-prior',
  };
}

/** The built-in generator pretrained on the prior domain (it plays Stable Diffusion). */
export function pretrainGeneratorInput(config: SweepConfig, prior: ManifestRef): PretrainGeneratorInput {
  return { prior, ...config.generator.pretrain, seed: config.seeds[0], imageSize: config.dataset.imageSize };
}

/** The classifiers' shape for a sweep over `numClasses` classes. */
export function classifierArch(config: SweepConfig, numClasses: number): ClassifierArch {
  return { width: config.train.width, stem: config.train.stem, imageSize: config.dataset.imageSize, numClasses };
}

/** The prior domain's split for the classifier pretrain: every prior image, train and validation. */
export function pretrainClassifierSplit(config: SweepConfig, prior: ManifestRef) {
  return { original: prior, p: 0, arm: 'only-original' as const, seed: config.seeds[0], valFraction: config.train.pretrain.valFraction };
}

/** The classifier trained from scratch on the prior domain: the sweep's finetune / frozen start from it. */
export function pretrainClassifierInput(config: SweepConfig, split: { train: ManifestRef; val: ManifestRef }, classes: string[], arch: ClassifierArch): TrainInput {
  const { lr, momentum, weightDecay } = config.train.pretrain;
  return {
    train: split.train,
    val: split.val,
    classes,
    mode: 'scratch',
    arch,
    epochs: config.train.pretrainEpochs,
    batchSize: config.train.batchSize,
    lr,
    momentum,
    weightDecay,
    seed: config.seeds[0],
    checkpointEvery: 1,
  };
}
