/**
 * For `synthmix plan`: which base models the sweep would upload from engine/pretrained/ rather than
 * pretrain (lib/sweep/shipped-base-models.ts). The prior domain's curate and split run here, with
 * the cpu activities' own code, so the prefixes are the ones the workers' steps will compute.
 *
 * They run in a local store of the plan's own, `<stateDir>/plan-store`, never the sweep's: the plan
 * writes nothing there. It is kept, as the demo world drawn beside it in `stateDir` is, because
 * curating a prior domain takes seconds (the demo's 1,000 images: about 10 s on 2 busy cores)
 * and the memo makes every later plan of the same preset, seed and image size a lookup.
 */
import path from 'node:path';
import type { SynthmixConfig } from '../temporal.config.js';
import { createDatasetActivities } from '../activities/dataset.js';
import { createMixActivities } from '../activities/mix.js';
import { createLocalStore } from '../lib/store/local.js';
import { needsPriorDomain } from '../lib/sweep/base-model-inputs.js';
import type { SweepConfig } from '../lib/sweep/config.js';
import { findShippedBaseModels, type ShippedBaseModels } from '../lib/sweep/shipped-base-models.js';

export async function shippedBaseModelsForPlan(config: SynthmixConfig, sweepConfig: SweepConfig): Promise<ShippedBaseModels> {
  // Base models all given: nothing is pretrained, nothing to draw or curate.
  if (!needsPriorDomain(sweepConfig)) return {};
  const store = createLocalStore(path.join(config.stateDir, 'plan-store'));
  const { curateDataset } = createDatasetActivities({ store, config });
  const { mix } = createMixActivities({ store });
  return findShippedBaseModels(sweepConfig, store, { curateDataset, mix });
}
