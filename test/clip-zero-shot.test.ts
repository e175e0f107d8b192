/**
 * Issue 13 point 5, §6.3: the zero-shot CLIP arm. A tiny random CLIP saved by transformers'
 * `save_pretrained` (engine/tests/tiny_models.py, run in the engine venv) is put into a local store;
 * the gpu activity classifies a real test manifest of PNGs with it on the engine, stores
 * evaluate-classifier's evaluation shape plus the logits, and is memoized; `synthmix plan` refuses a
 * config whose folder is missing, naming the field; the report draws the "CLIP zero-shot" line in
 * the accuracy figures (Figs 3–5) and lists it per class. (Its logits against transformers'
 * `CLIPModel(...).logits_per_image`: engine/tests/test_clip_zero_shot.py.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBaselineActivities } from '../activities/baselines.js';
import { createReportActivities } from '../activities/report.js';
import { loadConfig } from '../lib/config/load.js';
import { makeManifest, writeManifest, type ManifestItem, type ManifestRef } from '../lib/data/manifest.js';
import { uploadOutput } from '../lib/engine/runner.js';
import { evaluationFileSchema } from '../lib/engine/results.js';
import { BadInputError } from '../lib/errors.js';
import { parseNpyFloat32 } from '../lib/npy.js';
import { exampleReport } from '../lib/report/example.js';
import type { ClipZeroShotResult } from '../lib/steps/baselines.js';
import { createLocalStore } from '../lib/store/local.js';
import { clipPrompts, clipZeroShotInput } from '../lib/sweep/baselines.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { planSweep } from '../lib/sweep/plan.js';
import { makeTinyModel } from './support/tiny-models.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-clip-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const store = createLocalStore(path.join(tmp, 'store'));
const config = loadConfig({
  env: {},
  overrides: { stateDir: path.join(tmp, 'state'), storage: { kind: 'local', dir: path.join(tmp, 'store') }, engine: { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work') } },
});
const MODEL = 'models/tiny-clip';
/** The example report's sweep: its classes name the test images, so the report lists each. */
const example = await exampleReport({ seeds: [0] });
const classes = example.input.classes;
const sweepConfig = resolveSweepConfig('tiny', { generator: { templates: ['a photo of {}', '{}'] }, baselines: { clipZeroShot: { modelPrefix: MODEL, batchSize: 4 } } });

let test: ManifestRef;
let first: ClipZeroShotResult;

beforeAll(async () => {
  const folder = path.join(tmp, 'tiny-clip');
  makeTinyModel('clip', folder);
  // Two real PNGs per class, each its own colour (12 px: the processor resizes them to the model's 16).
  const items: ManifestItem[] = [];
  for (const [c, name] of classes.entries()) {
    for (const i of [0, 1]) {
      const png = await sharp({ create: { width: 12, height: 12, channels: 3, background: { r: (c * 25) % 256, g: (i * 120 + c * 7) % 256, b: 200 - c * 10 } } }).png().toBuffer();
      const info = await store.putContentAddressed('images', png, '.png');
      items.push({ class: name, key: info.key, sha256: info.sha256, width: 12, height: 12, source: `${name}/${i}.png` });
    }
  }
  test = await writeManifest(store, 'inputs/test.json', makeManifest('test', 12, classes, items));
}, 120_000);

it('plan refuses the sweep while the CLIP folder is not in the store, naming baselines.clipZeroShot.modelPrefix; lists the stage', async () => {
  const before = await planSweep(sweepConfig, store);
  expect(before.problems).toEqual([expect.stringContaining('baselines.clipZeroShot.modelPrefix: CLIP folder (transformers layout) not found')]);
  expect(before.stages.map((s) => s.stage)).toContain('clip-zero-shot');
  expect(() => resolveSweepConfig('tiny', { baselines: { clipZeroShot: { modelPrefix: '' } } })).toThrow(/modelPrefix/);
  expect((await planSweep(resolveSweepConfig('tiny'), store)).stages.map((s) => s.stage)).not.toContain('clip-zero-shot');

  await uploadOutput(store, path.join(tmp, 'tiny-clip'), MODEL);
  const after = await planSweep(sweepConfig, store);
  expect(after.problems).toEqual([]);
  expect(after.inputs.find((i) => i.field === 'baselines.clipZeroShot.modelPrefix')?.found).toMatch(/sha256/);
});

it('classifies the test set on the engine: evaluate-classifier\'s evaluation shape and the logits, stored and memoized', async () => {
  const input = clipZeroShotInput(sweepConfig, test, classes);
  expect(input).toEqual({ test, classes, modelPrefix: MODEL, templates: ['a photo of {}', '{}'], batchSize: 4 });
  expect(clipPrompts(['sea_turtle'], input!.templates)).toEqual({ sea_turtle: ['a photo of sea turtle', 'sea turtle'] });
  const { clipZeroShot } = createBaselineActivities({ store, config });
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 600_000 });
  first = await env.run(clipZeroShot, input!);
  expect(first.computed).toBe(true);
  expect(first.testImages).toBe(2 * classes.length);

  const evaluation = evaluationFileSchema.parse(await store.getJson<unknown>(first.evaluationKey));
  expect(evaluation.classes).toEqual(classes);
  expect(evaluation.labels).toEqual(classes.flatMap((_, c) => [c, c]));
  const logits = parseNpyFloat32(await store.get(first.logitsKey), first.logitsKey);
  expect([logits.rows, logits.cols]).toEqual([2 * classes.length, classes.length]);
  // Predictions are the logits' argmax; the accuracies count them (whatever a random model predicts).
  const argmax = Array.from({ length: logits.rows }, (_, r) => {
    const row = Array.from(logits.data.subarray(r * logits.cols, (r + 1) * logits.cols));
    return row.indexOf(Math.max(...row));
  });
  expect(evaluation.predictions).toEqual(argmax);
  const correct = argmax.filter((p, i) => p === evaluation.labels![i]).length;
  expect(evaluation.overallAccuracy).toBeCloseTo(correct / argmax.length, 12);
  expect(first.overallAccuracy).toBe(evaluation.overallAccuracy);
  for (const [c, name] of classes.entries()) {
    const mine = [0, 1].filter((i) => argmax[2 * c + i] === c).length;
    expect(evaluation.perClass[name]).toEqual({ correct: mine, total: 2, accuracy: mine / 2 });
  }

  const again: ClipZeroShotResult = await env.run(clipZeroShot, input!);
  expect(again.computed).toBe(false);
  expect(again.evaluationKey).toBe(first.evaluationKey);
}, 180_000);

it('a missing model folder is bad input naming the config field, before the engine runs', async () => {
  const { clipZeroShot } = createBaselineActivities({ store, config });
  const input = { ...clipZeroShotInput(sweepConfig, test, classes)!, modelPrefix: 'models/no-such-clip' };
  const error = await new MockActivityEnvironment().run(clipZeroShot, input).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BadInputError);
  expect((error as Error).message).toMatch(/baselines\.clipZeroShot\.modelPrefix.*models\/no-such-clip/);
});

it('the report draws the "CLIP zero-shot" line in Figs 3–5 and lists the baseline per class', async () => {
  expect(first).toBeDefined();
  for (const [key, bytes] of example.images) await store.putContentAddressed('images', bytes, '.png').then((info) => expect(info.key).toBe(key));
  const output = await createReportActivities({ store, config }).report({
    ...example.input,
    baselines: { clipZeroShot: { evaluationKey: first.evaluationKey, modelPrefix: first.modelPrefix } },
  });
  const evaluation = evaluationFileSchema.parse(await store.getJson<unknown>(first.evaluationKey));
  for (const mode of example.input.config.train.modes) {
    const spec = await store.getJson<{ layer: Array<{ data?: { values: Array<Record<string, unknown>> }; mark: { type: string } }> }>(`${output.prefix}/accuracy-${mode}.vl.json`);
    const rule = spec.layer.find((l) => l.mark.type === 'rule' && l.data?.values.some((v) => v.reference === 'CLIP zero-shot'));
    expect(rule?.data?.values).toEqual([expect.objectContaining({ reference: 'CLIP zero-shot', mean: evaluation.overallAccuracy })]);
    const svg = (await store.get(`${output.prefix}/accuracy-${mode}.svg`)).toString('utf8');
    expect(svg).toContain(`CLIP zero-shot ${(evaluation.overallAccuracy * 100).toFixed(1)}%`);
    // Fig 6 (per class) has no such line: the per-class numbers are listed instead.
    expect((await store.get(`${output.prefix}/per-class-${mode}.svg`)).toString('utf8')).not.toContain('CLIP zero-shot');
  }
  const html = (await store.get(output.htmlKey)).toString('utf8');
  const section = html.slice(html.indexOf('<h2 id="baselines">'), html.indexOf('<h2 id="per-class">'));
  expect(section).toContain(MODEL);
  for (const name of classes) {
    const row = evaluation.perClass[name];
    expect(section).toContain(`<tr><td class="l">${name}</td><td>${(row.accuracy * 100).toFixed(1)}%</td><td>${row.correct} / ${row.total}</td></tr>`);
  }
  const results = await store.getJson<{ baselines?: { clipZeroShot?: { overallAccuracy: number } }; models?: { models: Array<{ role: string; key: string; sha256: string | null }> } }>(`${output.prefix}/results.json`);
  expect(results.baselines?.clipZeroShot?.overallAccuracy).toBe(evaluation.overallAccuracy);
  // The "Models used" header names the CLIP folder with its sha256, as every other model.
  expect(results.models?.models.find((m) => m.role === 'baseline')).toMatchObject({ key: `${MODEL}/`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
}, 120_000);
