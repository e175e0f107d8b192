/**
 * What shipping the prior-domain classifier saves a sweep (lib/shipped-models.ts): the preset's
 * classifier pretrain through its activity, as the sweep runs it, once with the preset's own inputs
 * (seed 0: the shipped weights are uploaded) and once with seed 1 (no shipped folder: the same
 * training, computed), each in a fresh store, in this one process. Prints both wall times and
 * their ratio.
 *
 *   npx tsx bench/shipped-pretrain.ts [--preset tiny|demo]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createClassifierActivities, type TrainResult } from '../activities/classifier.js';
import { createDatasetActivities } from '../activities/dataset.js';
import { createMixActivities } from '../activities/mix.js';
import { loadConfig } from '../lib/config/load.js';
import { createLocalStore } from '../lib/store/index.js';
import { classifierArch, pretrainClassifierInput, pretrainClassifierSplit, priorCurateInput } from '../lib/sweep/base-model-inputs.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';

const i = process.argv.indexOf('--preset');
const asked = i >= 0 ? process.argv[i + 1] : 'tiny';
if (asked !== 'tiny' && asked !== 'demo') throw new Error(`--preset must be tiny or demo, got "${asked}"`);
const preset: 'tiny' | 'demo' = asked;

/** One pretrain in a fresh store: curate the prior domain and split it (not timed), then the train step (timed). */
async function pretrain(dir: string, seed: number): Promise<{ seconds: number; shipped: boolean; computed: boolean }> {
  const store = createLocalStore(path.join(dir, 'store'));
  const config = loadConfig({
    env: {},
    overrides: { stateDir: path.join(dir, 'state'), storage: { kind: 'local', dir: path.join(dir, 'store') }, engine: { cacheDir: path.join(dir, 'cache'), workDir: path.join(dir, 'work'), threads: 1 } },
  });
  const deps = { store, config };
  const sweep = resolveSweepConfig(preset, { seeds: [seed] });
  const prior = await createDatasetActivities(deps).curateDataset(priorCurateInput(sweep));
  const split = await createMixActivities(deps).mix(pretrainClassifierSplit(sweep, prior.trainManifest));
  const input = pretrainClassifierInput(sweep, split, prior.classes, classifierArch(sweep, prior.classes.length));
  const began = performance.now();
  const result: TrainResult = await new MockActivityEnvironment({ heartbeatTimeoutMs: 600_000 }).run(createClassifierActivities(deps).train, input);
  return { seconds: (performance.now() - began) / 1000, shipped: result.shipped !== undefined, computed: result.computed };
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'synthmix-bench-shipped-'));
try {
  const shipped = await pretrain(path.join(dir, 'shipped'), 0);
  const trained = await pretrain(path.join(dir, 'trained'), 1);
  if (!shipped.shipped) console.log(`note: the ${preset} preset's classifier was not found shipped (engine/pretrained/README.md): both runs trained`);
  console.log(`classifier pretrain, preset ${preset}: shipped (seed 0) ${shipped.seconds.toFixed(2)} s, trained (seed 1) ${trained.seconds.toFixed(2)} s`);
  console.log(`  saving per sweep ${(trained.seconds - shipped.seconds).toFixed(1)} s; trained / shipped = ${(trained.seconds / shipped.seconds).toFixed(0)}×`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
