/**
 * A user's own files into the store, then a sweep checked against them before anything runs:
 *   synthmix import PATH KEY        (a weights file; an image folder)
 *   synthmix plan --config F --preset P
 * as child processes, the way the README shows them. No Temporal: plan starts nothing.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectRoot } from '../lib/config/load.js';
import { createLocalStore } from '../lib/store/local.js';

let tmp: string;

function synthmix(...args: string[]): { code: number | null; output: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'cli', 'synthmix.ts'), ...args], {
    cwd: projectRoot,
    env: { ...process.env, SYNTHMIX_STORE_DIR: path.join(tmp, 'store'), SYNTHMIX_STATE_DIR: path.join(tmp, 'state') },
    encoding: 'utf8',
  });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-plan-'));
  writeFileSync(path.join(tmp, 'resnet18.pth'), Buffer.from('not really weights, but bytes with a sha256'));
  for (const digit of ['zero', 'one']) {
    mkdirSync(path.join(tmp, 'digits', digit), { recursive: true });
    for (let i = 0; i < 3; i += 1) {
      await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 40 * i, g: digit === 'one' ? 200 : 0, b: 0 } } })
        .png()
        .toFile(path.join(tmp, 'digits', digit, `${i}.png`));
    }
  }
  writeFileSync(path.join(tmp, 'digits', '.DS_Store'), 'finder junk');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('import puts a file and a folder into the store with their sha256', () => {
  expect(synthmix('import', path.join(tmp, 'resnet18.pth'), 'models/resnet18.pth').code).toBe(0);
  const folder = synthmix('import', path.join(tmp, 'digits'), 'datasets/digits');
  expect(folder.code, folder.output).toBe(0);
  expect(folder.output).toContain('6 file(s)');
  const store = createLocalStore(path.join(tmp, 'store'));
  return Promise.all([
    store.stat('models/resnet18.pth').then((info) => expect(info?.sha256).toBe(createHash('sha256').update(readFileSync(path.join(tmp, 'resnet18.pth'))).digest('hex'))),
    store.list('datasets/digits/').then((objects) => expect(objects.map((o) => o.key)).toEqual([0, 1, 2].flatMap((i) => [`datasets/digits/one/${i}.png`]).concat([0, 1, 2].map((i) => `datasets/digits/zero/${i}.png`)))),
  ]);
}, 120_000);

it('import refuses a missing path and an unsafe key (exit 2)', () => {
  const missing = synthmix('import', path.join(tmp, 'nothing-here'), 'models/x.pth');
  expect(missing.code).toBe(2);
  expect(missing.output).toContain('nothing-here does not exist');
  const unsafe = synthmix('import', path.join(tmp, 'resnet18.pth'), '../outside.pth');
  expect(unsafe.code).toBe(2);
  expect(unsafe.output).toContain('../outside.pth');
}, 120_000);

it('plan checks the models and data a sweep names, prints its stages, and starts nothing', () => {
  const good = path.join(tmp, 'good.json');
  writeFileSync(good, JSON.stringify({ dataset: { source: { kind: 'store', prefix: 'datasets/digits' } }, train: { pretrainedKey: 'models/resnet18.pth' } }));
  const ok = synthmix('plan', '--config', good, '--preset', 'tiny');
  expect(ok.code, ok.output).toBe(0);
  expect(ok.output).toMatch(/ok +dataset\.source\.prefix .*6 objects in 2 class folders/);
  expect(ok.output).toMatch(/ok +train\.pretrainedKey .*sha256/);
  // The generator and FID extractor this config leaves to the stand-ins are listed as such.
  expect(ok.output).toContain('generator: the built-in pixel diffusion model');
  expect(ok.output).not.toContain('classifier base: a ResNet pretrained here');
  expect(ok.output).toMatch(/experiments +22 step\(s\)/);
  // tiny's KID subsets (12) fit its 24 images a class: not capped; each FID gets its interval over images.
  expect(ok.output).toContain('KID subsets of 12), each FID with a 200-resample bootstrap interval over images');
  expect(ok.output).not.toContain('per-class subsets capped');

  const bad = path.join(tmp, 'bad.json');
  writeFileSync(bad, JSON.stringify({ dataset: { source: { kind: 'store', prefix: 'datasets/nope' } }, train: { pretrainedKey: 'models/missing.pth' } }));
  const refused = synthmix('plan', '--config', bad, '--preset', 'tiny');
  expect(refused.code).toBe(2);
  expect(refused.output).toMatch(/MISSING dataset\.source\.prefix/);
  expect(refused.output).toContain('train.pretrainedKey: classifier weights (torchvision ResNet-18 state dict) not found');
}, 120_000);

it('plan says which base models the sweep would upload from those synthmix ships, and which it pretrains', () => {
  // The folder a stand-in line names as shipped, checked to be one of engine/pretrained/'s.
  const shippedFolder = (output: string, line: RegExp, step: string) => {
    const folder = line.exec(output)?.[1];
    expect(folder, output).toMatch(new RegExp(`^engine/pretrained/steps/${step}/[0-9a-f]{64}$`));
    expect(existsSync(path.join(projectRoot, folder as string, 'SHA256SUMS'))).toBe(true);
    return folder;
  };
  const classifierShipped = /classifier base: a ResNet pretrained on the demo world's prior domain \(it plays ImageNet\), shipped with synthmix \(([^)]+)\), not trained/;
  const generatorShipped = /generator: the built-in pixel diffusion model pretrained on the demo world's prior domain \(it plays Stable Diffusion\), shipped with synthmix \(([^)]+)\), not trained/;

  const demo = synthmix('plan', '--preset', 'demo');
  expect(demo.code, demo.output).toBe(0);
  shippedFolder(demo.output, classifierShipped, 'train');
  shippedFolder(demo.output, generatorShipped, 'pretrain-generator');
  expect(demo.output).not.toContain('pretrained here');

  // Another classifier pretrain (its memo inputs change): that one is trained, the generator still ships.
  const epochs = path.join(tmp, 'epochs.json');
  writeFileSync(epochs, JSON.stringify({ train: { pretrainEpochs: 3 } }));
  const classifierTrained = synthmix('plan', '--config', epochs, '--preset', 'tiny');
  expect(classifierTrained.code, classifierTrained.output).toBe(0);
  expect(classifierTrained.output).toContain("classifier base: a ResNet pretrained here on the demo world's prior domain (it plays ImageNet)");
  expect(classifierTrained.output).not.toMatch(classifierShipped);
  const tinyGenerator = shippedFolder(classifierTrained.output, generatorShipped, 'pretrain-generator');

  // And the other way round: a shorter generator pretrain is trained, the tiny classifier ships.
  const steps = path.join(tmp, 'generator-steps.json');
  writeFileSync(steps, JSON.stringify({ generator: { pretrain: { steps: 20, batchSize: 32, lr: 2e-3 } } }));
  const generatorTrained = synthmix('plan', '--config', steps, '--preset', 'tiny');
  expect(generatorTrained.code, generatorTrained.output).toBe(0);
  expect(generatorTrained.output).toContain("generator: the built-in pixel diffusion model pretrained here on the demo world's prior domain (it plays Stable Diffusion)");
  expect(generatorTrained.output).not.toMatch(generatorShipped);
  shippedFolder(generatorTrained.output, classifierShipped, 'train');
  // Each preset has its own shipped models: tiny's generator is not the demo's.
  expect(tinyGenerator).not.toBe(generatorShipped.exec(demo.output)?.[1]);
}, 180_000);

it('plan --preset paper names every real model and the dataset it needs (exit 2)', () => {
  const paper = synthmix('plan', '--preset', 'paper');
  expect(paper.code).toBe(2);
  for (const field of ['dataset.source: required', 'generator.modelPrefix: required', 'train.pretrainedKey: required', 'fid.inceptionWeightsKey: required']) {
    expect(paper.output).toContain(field);
  }
}, 120_000);
