/**
 * The inputs of the sweep's base-model stage, from its config: the prior domain's curation and
 * the built-in generator's pretrain. Pure, so the workflow and the check that the shipped
 * generator (engine/pretrained/) still matches the demo preset compute the very same inputs.
 */
import type { ManifestRef } from '../data/manifest.js';
import type { CurateDatasetInput } from '../../activities/dataset.js';
import type { PretrainGeneratorInput } from '../../activities/generator.js';
import type { SweepConfig } from './config.js';

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
