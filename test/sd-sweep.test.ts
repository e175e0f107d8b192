/**
 * Issue 13 point 4: a Stable-Diffusion-shaped model through a whole sweep on the real servers. A
 * tiny random folder made by diffusers' `save_pretrained` in the engine venv (UNet2DConditionModel +
 * AutoencoderKL + CLIPTextModel + CLIPTokenizer + a scheduler config; native size 16 px) is put into
 * the store as `synthmix import` does, and a sweep with `generator.backend: "stable-diffusion"` over
 * a real image folder at `dataset.imageSize` 32 runs DreamBooth, textual inversion and vanilla
 * generation at the model's own resolution, FID, the cells and the report.
 *
 * What is checked is the path, not the numbers (the weights are random): every cell trains; every
 * generated image was sampled at 16 px and stored at 32 px; both fine-tunes ran per class; the
 * report names the model folder as the generator, with no stand-in statement for it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sweep } from '../workflows/index.js';
import { uploadOutput } from '../lib/engine/runner.js';
import type { ModelsHeader } from '../lib/report/models.js';
import { enumerateCells } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { makeTinyModel, patternPng } from './support/tiny-models.js';
import { startTestWorld, type TestWorld } from './support/world.js';

let world: TestWorld;

beforeAll(async () => {
  world = await startTestWorld({ name: 'sd-sweep', workers: ['cpu', 'gpu'], overrides: () => ({ engine: { threads: 1 } }) });
});

afterAll(() => world?.stop());

interface StoredManifest {
  items: Array<{ width: number; height: number; class: string; meta?: { generatedWidth?: number; generatedHeight?: number; source?: string } }>;
}

it('DreamBooth, textual inversion and generation run on a Stable-Diffusion folder at its own resolution, through cells and report', async () => {
  // The model, as a user has it on disk, then into the store.
  const folder = path.join(world.tmp, 'tiny-sd');
  makeTinyModel('sd', folder);
  await uploadOutput(world.store, folder, 'models/tiny-sd');

  const root = path.join(world.tmp, 'dataset');
  for (const [c, name] of ['alpha', 'beta'].entries()) {
    await mkdir(path.join(root, name), { recursive: true });
    for (let i = 0; i < 6; i += 1) await writeFile(path.join(root, name, `${i}.png`), await patternPng(c, i));
  }
  const config = resolveSweepConfig('tiny', {
    name: 'sd-sweep',
    dataset: { source: { kind: 'local', path: root }, perClass: 4, testPerClass: 2, imageSize: 32 },
    sources: ['vanilla', 'dreambooth', 'textual'],
    // No generator.resolution: the default is the folder's own size (16 px), not the dataset's 32.
    generator: { backend: 'stable-diffusion', modelPrefix: 'models/tiny-sd', steps: 2, batchSize: 4 },
    finetune: { dreambooth: { steps: 2, lr: 5e-4, priorWeight: 1, numClassImages: 2 }, textual: { steps: 2, lr: 5e-3 } },
    fid: { kidSubsets: 2, kidSubsetSize: 2, bootstrapResamples: 10 },
    mix: { p: [0.5], onlyOriginal: false },
    // The classifier base is the tiny preset's prior-domain stand-in, which ships (engine/pretrained/).
    train: { modes: ['scratch'], epochs: { scratch: 1, finetune: 1, frozen: 1 } },
  });
  const sweepId = 'sd-sweep';
  const result = await world.client.workflow.execute(sweep, { taskQueue: world.config.queues.cpu, workflowId: sweepId, args: [{ sweepId, config, queues: world.config.queues }] });
  // Stage timings for the CI-time record (printed, never asserted).
  console.log(`tiny SD sweep:\n${result.stages.map((st) => `  ${st.stage.padEnd(12)} ${(st.wallMs / 1000).toFixed(1)} s wall, ${(st.activityMs / 1000).toFixed(1)} s in ${st.activities} activities`).join('\n')}`);

  const cells = enumerateCells(config);
  expect(cells).toHaveLength(3);
  expect(result.cells).toMatchObject({ total: 3, done: 3, failed: 0 });
  // No base generator was pretrained: the folder is the model.
  expect(result.stages.find((s) => s.stage === 'pretrain')?.activities).toBe(1);

  // Every generated image: sampled at the folder's 16 px, stored at the dataset's 32 px.
  const manifests = (await world.store.list('steps/generate/')).filter((o) => o.key.endsWith('/manifest.json'));
  expect(manifests).toHaveLength(3 * 2); // three sources × two classes
  for (const { key } of manifests) {
    const manifest = await world.store.getJson<StoredManifest>(key);
    expect(manifest.items.length).toBeGreaterThan(0);
    for (const item of manifest.items) {
      expect([item.width, item.height]).toEqual([32, 32]);
      expect([item.meta?.generatedWidth, item.meta?.generatedHeight]).toEqual([16, 16]);
    }
  }
  // Both fine-tunes ran once per class, on the folder.
  const adapters = new Set((await world.store.list('steps/finetune/')).map((o) => o.key.split('/')[2]));
  expect(adapters.size).toBe(2 * 2);

  const reported = await world.store.getJson<{ cells: Array<{ status: string; overallAccuracy: number | null }>; models: ModelsHeader }>(
    result.report.files.find((key) => key.endsWith('/results.json')) as string,
  );
  expect(reported.cells.every((c) => c.status === 'done' && typeof c.overallAccuracy === 'number')).toBe(true);
  const generator = reported.models.models.find((m) => m.role === 'generator');
  expect(generator).toMatchObject({ key: 'models/tiny-sd/', kind: 'folder', what: expect.stringContaining('Stable Diffusion folder') });
  expect(generator?.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(generator?.shipped).toBeUndefined();
  expect(reported.models.statements.join('\n')).not.toMatch(/not Stable Diffusion/);
}, 900_000);
