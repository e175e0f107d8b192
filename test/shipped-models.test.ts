/**
 * The demo's and the tiny preset's base models ship in engine/pretrained/ (lib/shipped-models.ts):
 * the built-in generator's pretrain and the prior-domain classifier's, each under the memo prefix of
 * its exact inputs. If anything that feeds those inputs drifts (the demo world's bytes, the preset,
 * the curation, the split), a shipped model silently stops matching and every sweep of the preset
 * pretrains again (`npm run demo` for minutes): this test says so, and checks that each activity
 * really uploads the shipped files, says in its result that it did, and computes as usual when a
 * shipped file is damaged.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load.js';
import { createLocalStore } from '../lib/store/local.js';
import { createClassifierActivities, SHIPPED_SUMMARY, TRAIN_OUTPUTS } from '../activities/classifier.js';
import { trainReads } from '../lib/steps/classifier.js';
import { createDatasetActivities } from '../activities/dataset.js';
import { createGeneratorActivities } from '../activities/generator.js';
import { createMixActivities } from '../activities/mix.js';
import { sha256Hex } from '../lib/hash.js';
import { memoPrefix } from '../lib/memo.js';
import { findShipped, SHIPPED_ROOT, shippedDir } from '../lib/shipped-models.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { classifierArch, pretrainClassifierInput, pretrainClassifierSplit, pretrainGeneratorInput, priorCurateInput } from '../lib/sweep/base-model-inputs.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-shipped-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function world(name: string) {
  const dir = path.join(tmp, name);
  const config = loadConfig({
    env: {},
    overrides: { stateDir: path.join(dir, 'state'), storage: { kind: 'local', dir: path.join(dir, 'store') }, engine: { cacheDir: path.join(dir, 'cache'), workDir: path.join(dir, 'work') } },
  });
  const store = createLocalStore(path.join(dir, 'store'));
  return { store, config };
}

/** The folder a preset's step ships in, checked to be there and intact (a miss says how to remake it). */
async function expectShipped(prefix: string, remake: string) {
  const dir = shippedDir(prefix);
  expect(existsSync(dir), `no shipped model at ${dir}: remake it with \`npx tsx infra/ship-pretrained.ts ${remake}\` (engine/pretrained/README.md)`).toBe(true);
  const shipped = await findShipped(prefix);
  expect(shipped?.dir).toBe(dir);
  expect(shipped?.origin).toEqual({ folder: `${SHIPPED_ROOT}/${prefix}`, sha256sums: sha256Hex(await readFile(path.join(dir, 'SHA256SUMS'))) });
  return dir;
}

describe.each(['demo', 'tiny'] as const)('the %s preset', (preset) => {
  const deps = world(preset);
  const sweep = resolveSweepConfig(preset);
  const prior = () => createDatasetActivities(deps).curateDataset(priorCurateInput(sweep));

  it('finds the shipped pretrained generator, verified, and uses it as is', async () => {
    const input = pretrainGeneratorInput(sweep, (await prior()).trainManifest);
    const prefix = await memoPrefix(deps.store, 'pretrain-generator', input);
    const dir = await expectShipped(prefix, `--preset ${preset} --step pretrain-generator`);

    const model = await createGeneratorActivities(deps).pretrainGenerator(input);
    expect(model.prefix).toBe(`${prefix}/model`);
    expect(model.shipped?.folder).toBe(`${SHIPPED_ROOT}/${prefix}`);
    const unet = await deps.store.get(`${prefix}/model/unet/diffusion_pytorch_model.safetensors`);
    expect(unet.equals(await readFile(path.join(dir, 'model', 'unet', 'diffusion_pytorch_model.safetensors')))).toBe(true);
  }, 300_000);

  it('finds the shipped prior-domain classifier, verified, and uses it as is', async () => {
    const curated = await prior();
    const split = await createMixActivities(deps).mix(pretrainClassifierSplit(sweep, curated.trainManifest));
    // As the sweep builds it (workflows/sweep.ts `pretrainClassifier`): the prior domain's own classes.
    const input = pretrainClassifierInput(sweep, split, curated.classes, classifierArch(sweep, curated.classes.length));
    const prefix = await memoPrefix(deps.store, 'train', input, { reads: trainReads(input) });
    const dir = await expectShipped(prefix, `--preset ${preset} --step train`);

    const trained = await createClassifierActivities(deps).train(input);
    expect(trained.weightsKey).toBe(`${prefix}/${TRAIN_OUTPUTS.best}`);
    expect(trained.shipped?.folder).toBe(`${SHIPPED_ROOT}/${prefix}`);
    for (const file of Object.values(TRAIN_OUTPUTS)) {
      expect((await deps.store.get(`${prefix}/${file}`)).equals(await readFile(path.join(dir, file))), file).toBe(true);
    }
    // What the shipped summary says of the run that made it: every epoch ran, one engine thread.
    expect(trained).toMatchObject({ epochs: sweep.train.pretrainEpochs, computed: true, environment: { threads: 1 } });
    // A second call is the memo's: the record keeps saying where the weights came from.
    expect(await createClassifierActivities(deps).train(input)).toMatchObject({ computed: false, shipped: trained.shipped });
  }, 300_000);
});

it('a shipped folder with a file changed or missing is not used', async () => {
  // A copy of one shipped classifier folder (in its own root): found as is, then damaged.
  const root = path.join(tmp, 'shipped-copy');
  const [hash] = readdirSync(shippedDir('steps/train'));
  const prefix = `steps/train/${hash}`;
  const copy = shippedDir(prefix, root);
  cpSync(shippedDir(prefix), copy, { recursive: true });
  expect((await findShipped(prefix, root))?.files.sort()).toEqual([...Object.values(TRAIN_OUTPUTS), SHIPPED_SUMMARY].sort());
  const weights = await readFile(path.join(copy, TRAIN_OUTPUTS.best));
  weights[weights.length - 1] ^= 1;
  writeFileSync(path.join(copy, TRAIN_OUTPUTS.best), weights);
  expect(await findShipped(prefix, root)).toBeUndefined();
  weights[weights.length - 1] ^= 1;
  writeFileSync(path.join(copy, TRAIN_OUTPUTS.best), weights);
  expect(await findShipped(prefix, root)).toBeDefined();
  rmSync(path.join(copy, TRAIN_OUTPUTS.final));
  expect(await findShipped(prefix, root)).toBeUndefined();
});
