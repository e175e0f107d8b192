/**
 * Make one of the base models synthmix ships in engine/pretrained/ (lib/shipped-models.ts,
 * engine/pretrained/README.md): run a preset's pretrain step alone — the built-in generator's
 * (`pretrain-generator`) or the prior-domain classifier's (`train`) — with exactly the inputs its
 * sweep gives it (lib/sweep/base-model-inputs.ts), then copy its outputs into the folder of its memo
 * prefix with SHA256SUMS. The step runs through its own activity, so what ships is what the step
 * computes on this machine; a store that already holds the result (a finished demo's) is copied
 * from without training again. The old folder is removed first: the step never uploads the files
 * it is remaking.
 *
 *   npx tsx infra/ship-pretrained.ts --preset demo|tiny --step pretrain-generator|train [--store DIR]
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createClassifierActivities, SHIPPED_SUMMARY, TRAIN_OUTPUTS } from '../activities/classifier.js';
import { trainReads } from '../lib/steps/classifier.js';
import { createDatasetActivities } from '../activities/dataset.js';
import { createGeneratorActivities } from '../activities/generator.js';
import { createMixActivities } from '../activities/mix.js';
import { loadConfig } from '../lib/config/load.js';
import { stableStringify } from '../lib/hash.js';
import { memoPrefix } from '../lib/memo.js';
import { shippedDir, writeShipped } from '../lib/shipped-models.js';
import { createLocalStore } from '../lib/store/local.js';
import { classifierArch, pretrainClassifierInput, pretrainClassifierSplit, pretrainGeneratorInput, priorCurateInput } from '../lib/sweep/base-model-inputs.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';

const STEPS = ['pretrain-generator', 'train'] as const;
const PRESETS = ['demo', 'tiny'] as const;
const { values } = parseArgs({ options: { preset: { type: 'string' }, step: { type: 'string' }, store: { type: 'string' } } });
const preset = PRESETS.find((p) => p === values.preset);
const step = STEPS.find((s) => s === values.step);
if (!preset || !step) {
  console.error(`usage: npx tsx infra/ship-pretrained.ts --preset ${PRESETS.join('|')} --step ${STEPS.join('|')} [--store DIR]`);
  process.exit(2);
}

const work = values.store ? path.resolve(values.store, '..', '.ship-pretrained') : mkdtempSync(path.join(os.tmpdir(), 'synthmix-ship-'));
const storeDir = values.store ? path.resolve(values.store) : path.join(work, 'store');
// One engine thread, as the demo's workers run it (cli/demo.ts).
const config = loadConfig({
  env: {},
  overrides: { stateDir: path.join(work, 'state'), storage: { kind: 'local', dir: storeDir }, engine: { cacheDir: path.join(work, 'cache'), workDir: path.join(work, 'work'), threads: 1 } },
});
const store = createLocalStore(storeDir);
const deps = { store, config };
const sweep = resolveSweepConfig(preset);
const began = Date.now();
const prior = await createDatasetActivities(deps).curateDataset(priorCurateInput(sweep));

if (step === 'pretrain-generator') {
  const input = pretrainGeneratorInput(sweep, prior.trainManifest);
  const prefix = await memoPrefix(store, step, input);
  await rm(shippedDir(prefix), { recursive: true, force: true });
  const model = await asActivity(createGeneratorActivities(deps).pretrainGenerator, input);
  const files = (await store.list(`${model.prefix}/`)).map((o) => o.key.slice(prefix.length + 1));
  report(await writeShipped(store, prefix, files), model.computed);
} else {
  const split = await createMixActivities(deps).mix(pretrainClassifierSplit(sweep, prior.trainManifest));
  const input = pretrainClassifierInput(sweep, split, prior.classes, classifierArch(sweep, prior.classes.length));
  const prefix = await memoPrefix(store, step, input, { reads: trainReads(input) });
  await rm(shippedDir(prefix), { recursive: true, force: true });
  const trained = await asActivity(createClassifierActivities(deps).train, input);
  // The engine's summary, as the activity parsed it: what a shipped result is rebuilt from.
  const { bestValAcc, bestEpoch, epochs, trainImages, valImages, imagesPerSec, resumedFromEpoch, environment } = trained;
  const summary = { bestValAcc, bestEpoch, epochs, trainImages, valImages, imagesPerSec, resumedFromEpoch, environment };
  report(await writeShipped(store, prefix, Object.values(TRAIN_OUTPUTS), { [SHIPPED_SUMMARY]: `${stableStringify(summary, 2)}\n` }), trained.computed);
}

/** The step's activity alone, outside a worker: the engine runner needs an activity's context (heartbeats, cancellation). */
function asActivity<I, O>(activity: (input: I) => Promise<O>, input: I): Promise<O> {
  return new MockActivityEnvironment({ heartbeatTimeoutMs: 600_000 }).run(activity, input);
}

function report(shipped: { dir: string; files: string[] }, computed: boolean) {
  const how = computed ? `computed here in ${((Date.now() - began) / 1000).toFixed(1)} s` : `copied from ${storeDir}`;
  console.log(`${shipped.dir}: ${shipped.files.length} files (${how})`);
}
