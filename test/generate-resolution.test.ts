/**
 * Issue 13 point 1: generation at the generator's own resolution, apart from the classifier's. A
 * tiny random Stable-Diffusion-shaped folder (native 16 px, made by diffusers' `save_pretrained`
 * in the engine venv) samples at `generator.resolution` 24 with a named scheduler; the generate
 * activity stores each image normalized to `dataset.imageSize` (12) by lib/images/normalize.ts — the
 * code path and resize policy of curated originals — and records the size it was generated at.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, expect, it } from 'vitest';
import { createGeneratorActivities } from '../activities/generator.js';
import { loadConfig } from '../lib/config/load.js';
import { readManifest } from '../lib/data/manifest.js';
import { uploadOutput } from '../lib/engine/runner.js';
import { normalizeImage } from '../lib/images/normalize.js';
import { createLocalStore } from '../lib/store/local.js';
import { PRESETS, resolveSweepConfig } from '../lib/sweep/config.js';
import type { GenerateInput, GenerateResult } from '../lib/steps/generator.js';
import { makeTinyModel } from './support/tiny-models.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-gen-res-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('samples at generator.resolution with the named scheduler and stores images at dataset.imageSize, recording the generated size', async () => {
  const folder = path.join(tmp, 'tiny-sd');
  makeTinyModel('sd', folder);
  const config = loadConfig({
    env: {},
    overrides: { stateDir: path.join(tmp, 'state'), storage: { kind: 'local', dir: path.join(tmp, 'store') }, engine: { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work') } },
  });
  const store = createLocalStore(path.join(tmp, 'store'));
  await uploadOutput(store, folder, 'models/tiny-sd');

  const { generate } = createGeneratorActivities({ store, config });
  // The engine runner heartbeats: run as one activity attempt.
  const input: GenerateInput = {
    source: 'vanilla', className: 'cat', baseModelPrefix: 'models/tiny-sd', templates: ['a photo of a {}'], negativePrompt: '',
    count: 2, seed: 0, steps: 2, guidance: 7.5, batchSize: 2, imageSize: 12, resize: 'center-crop', resolution: 24, scheduler: 'lms',
  };
  const result: GenerateResult = await new MockActivityEnvironment({ heartbeatTimeoutMs: 600_000 }).run(generate, input);
  expect(result.count).toBe(2);
  const manifest = await readManifest(store, result.manifest);
  expect(manifest.items).toHaveLength(2);
  for (const item of manifest.items) {
    expect([item.width, item.height]).toEqual([12, 12]);
    expect(item.meta).toMatchObject({ generatedWidth: 24, generatedHeight: 24, scheduler: 'lms' });
    const bytes = await store.get(item.key);
    const { width, height, channels } = await sharp(bytes).metadata();
    expect([width, height, channels]).toEqual([12, 12, 3]);
    // Exactly the bytes the curation path writes for this image (its encoder, fixed settings).
    const again = await normalizeImage(bytes, { imageSize: 12, resize: 'center-crop' });
    expect(again.ok && again.png.equals(bytes)).toBe(true);
  }
}, 300_000);

it('the paper preset samples with LMS; generator.resolution must suit the VAE', () => {
  // (The paper preset itself is refused until a config names its models: read the preset.)
  expect(PRESETS.paper.generator.scheduler).toBe('lms');
  expect(PRESETS.paper.generator.resolution).toBeUndefined();
  expect(resolveSweepConfig('tiny').generator.scheduler).toBeUndefined();
  expect(() => resolveSweepConfig('tiny', { generator: { resolution: 500 } })).toThrow(/resolution/);
  expect(() => resolveSweepConfig('tiny', { generator: { scheduler: 'heun' } })).toThrow(/scheduler/);
  expect(resolveSweepConfig('tiny', { generator: { resolution: 512, scheduler: 'dpm++2m' } }).generator).toMatchObject({ resolution: 512, scheduler: 'dpm++2m' });
});
