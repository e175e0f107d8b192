/**
 * The demo's and the tiny preset's pretrained generators ship in engine/pretrained/ under the memo prefix of its exact
 * inputs. If anything that feeds those inputs drifts (the demo world's bytes, the preset, the
 * curation), the shipped model silently stops matching and `npm run demo` pretrains for many
 * minutes: this test says so, and checks the activity really uses the shipped files.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../lib/config/load.js';
import { createLocalStore } from '../lib/store/local.js';
import { createDatasetActivities } from '../activities/dataset.js';
import { findShippedModel, createGeneratorActivities } from '../activities/generator.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { pretrainGeneratorInput, priorCurateInput } from '../lib/sweep/base-model-inputs.js';
import { stepPrefix } from '../lib/memo.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-shipped-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it.each(['demo', 'tiny'] as const)('the %s preset finds the shipped pretrained generator, verified, and uses it as is', async (preset) => {
  const config = loadConfig({
    env: {},
    overrides: { stateDir: path.join(tmp, 'state'), storage: { kind: 'local', dir: path.join(tmp, 'store') }, engine: { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work') } },
  });
  const store = createLocalStore(path.join(tmp, 'store'));
  const demo = resolveSweepConfig(preset);
  const prior = await createDatasetActivities({ store, config }).curateDataset(priorCurateInput(demo));
  const input = pretrainGeneratorInput(demo, prior.trainManifest);
  const prefix = stepPrefix('pretrain-generator', input);
  const shippedDir = path.join(projectRoot, 'engine', 'pretrained', ...prefix.split('/'));
  expect(existsSync(shippedDir), `no shipped generator at ${shippedDir}: remake it (engine/pretrained/README.md)`).toBe(true);
  const shipped = await findShippedModel(prefix);
  expect(shipped?.dir).toBe(path.join(shippedDir, 'model'));

  const model = await createGeneratorActivities({ store, config }).pretrainGenerator(input);
  expect(model.prefix).toBe(`${prefix}/model`);
  const unet = await store.get(`${prefix}/model/unet/diffusion_pytorch_model.safetensors`);
  expect(unet.equals(await readFile(path.join(shippedDir, 'model', 'unet', 'diffusion_pytorch_model.safetensors')))).toBe(true);
}, 300_000);
