/**
 * The report's "Models used" header (issue 13): every model with its store key and sha256, read from
 * a real local store at report time, and the plain statements about stand-ins and FID. Oracles: the
 * system's `sha256sum` over the same files (for a folder: sha256sum's listing, hashed again).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../activities/report.js';
import { exampleReport } from '../lib/report/example.js';
import { escapeHtml } from '../lib/report/html.js';
import { BUILTIN_FID_STATEMENT, CLASSIFIER_STAND_IN, demoDatasetStatement, GENERATOR_STAND_IN, SHIPPED_WORDS, shippedStatement, type ModelsHeader } from '../lib/report/models.js';
import type { ReportInput } from '../lib/report/types.js';
import { createLocalStore, type LocalStore } from '../lib/store/index.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';

let tmp: string;
let files: string;
let store: LocalStore;
let base: ReportInput;

const SD_FILES = ['model_index.json', 'unet/config.json', 'unet/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.safetensors', 'scheduler/scheduler_config.json'];

/** sha256sum of one local file (the real tool). */
function sha256sum(file: string): string {
  return execFileSync('sha256sum', [file]).toString('utf8').split(' ')[0];
}

/** The folder hash as a user would make it: sha256sum over the sorted relative paths, then sha256sum of that listing. */
function folderSha256sum(dir: string, relative: string[]): string {
  const listing = execFileSync('sha256sum', [...relative].sort(), { cwd: dir });
  return execFileSync('sha256sum', { input: listing }).toString('utf8').split(' ')[0];
}

/** Write a local file and put it into the store under `key`. */
async function putLocal(relative: string, key: string, bytes: Buffer | string): Promise<void> {
  const file = path.join(files, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  await store.putFile(key, file);
}

function bytesOf(label: string, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + label.length * 7 + label.charCodeAt(i % label.length)) % 256));
}

async function report(input: ReportInput): Promise<{ models: ModelsHeader; html: string }> {
  const out = await writeReport(store, input);
  const results = JSON.parse((await store.get(`${out.prefix}/results.json`)).toString('utf8')) as { models: ModelsHeader };
  return { models: results.models, html: (await store.get(out.htmlKey)).toString('utf8') };
}

function entry(models: ModelsHeader, role: string) {
  const found = models.models.find((m) => m.role === role);
  expect(found, role).toBeDefined();
  return found!;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-report-models-'));
  files = path.join(tmp, 'files');
  store = createLocalStore(path.join(tmp, 'store'));
  ({ input: base } = await exampleReport({ seeds: [0], samplesPerCell: 1, sweepId: 'models-sweep' }));
  for (const name of SD_FILES) await putLocal(`sd/${name}`, `models/sd/${name}`, name.endsWith('.json') ? `{"name": "${name}"}\n` : bytesOf(name, 4096));
  await putLocal('resnet18.pth', 'weights/resnet18.pth', bytesOf('resnet18', 8192));
  await putLocal('inception.pth', 'weights/inception.pth', bytesOf('inception', 8192));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('the report header names the models used', () => {
  it('given models: store keys and sha256s (objects and a folder), no stand-in; they change when the objects change', async () => {
    const config = resolveSweepConfig('demo', {
      name: 'models',
      seeds: [0],
      dataset: { source: { kind: 'store', prefix: 'datasets/mine' } },
      generator: { backend: 'stable-diffusion', modelPrefix: 'models/sd' },
      train: { base: 'weights', pretrainedKey: 'weights/resnet18.pth' },
      fid: { extractor: 'inception-v3-fid', inceptionWeightsKey: 'weights/inception.pth' },
    });
    const inceptionSha = sha256sum(path.join(files, 'inception.pth'));
    const input: ReportInput = {
      ...base,
      config,
      fid: base.fid.map((row) => ({ ...row, extractorId: 'inception-v3-fid', weightsSha256: inceptionSha })),
      baseModels: { generatorPrefix: 'models/sd', classifierKey: 'weights/resnet18.pth' },
    };

    const first = await report(input);
    const generator = entry(first.models, 'generator');
    expect(generator.kind).toBe('folder');
    expect(generator.key).toBe('models/sd/');
    expect(generator.files).toBe(SD_FILES.length);
    expect(generator.sha256).toBe(folderSha256sum(path.join(files, 'sd'), SD_FILES));
    expect(entry(first.models, 'classifier-base')).toMatchObject({ key: 'weights/resnet18.pth', sha256: sha256sum(path.join(files, 'resnet18.pth')), standIn: null });
    expect(entry(first.models, 'fid-extractor')).toMatchObject({ key: 'weights/inception.pth', sha256: inceptionSha, standIn: null });
    expect(first.models.models.every((m) => m.standIn === null)).toBe(true);
    expect(first.models.statements).toEqual([]);
    for (const m of first.models.models) {
      expect(first.html).toContain(escapeHtml(m.key));
      expect(first.html).toContain(m.sha256!);
    }
    expect(first.html).not.toContain(escapeHtml(BUILTIN_FID_STATEMENT));

    // Other bytes under the same names: a weight file of the folder and the Inception weights.
    await putLocal('sd/unet/diffusion_pytorch_model.safetensors', 'models/sd/unet/diffusion_pytorch_model.safetensors', bytesOf('changed unet', 4096));
    await putLocal('inception.pth', 'weights/inception.pth', bytesOf('other inception', 8192));
    const second = await report(input);
    const newGenerator = entry(second.models, 'generator');
    expect(newGenerator.sha256).not.toBe(generator.sha256);
    expect(newGenerator.sha256).toBe(folderSha256sum(path.join(files, 'sd'), SD_FILES));
    const newInception = sha256sum(path.join(files, 'inception.pth'));
    expect(newInception).not.toBe(inceptionSha);
    expect(entry(second.models, 'fid-extractor').sha256).toBe(newInception);
    expect(entry(second.models, 'classifier-base').sha256).toBe(entry(first.models, 'classifier-base').sha256);
    expect(second.html).toContain(newGenerator.sha256!);
    expect(second.html).not.toContain(generator.sha256!);
    // The FID rows were computed with the old weights: the header says so.
    expect(second.models.statements).toEqual([expect.stringContaining(`computed with extractor weights of sha256 ${inceptionSha}`)]);
    expect(second.models.statements[0]).toContain(newInception);
  });

  it('stand-ins: built-in generator, prior-domain classifier and built-in FID extractor are said plainly', async () => {
    // The demo config: no modelPrefix, no pretrainedKey, the built-in extractor (the sweep pretrains both bases).
    const generatorPrefix = 'steps/pretrain-generator/0123abcd';
    const classifierKey = 'steps/train/4567cdef/best.pt';
    await putLocal('gen/model.safetensors', `${generatorPrefix}/model.safetensors`, bytesOf('builtin generator', 2048));
    await putLocal('gen/config.json', `${generatorPrefix}/config.json`, '{"kind": "builtin"}\n');
    await putLocal('prior-best.pt', classifierKey, bytesOf('prior classifier', 2048));
    const classifierSha = sha256sum(path.join(files, 'prior-best.pt'));
    const input: ReportInput = { ...base, fid: base.fid.map((row) => ({ ...row, weightsSha256: classifierSha })), baseModels: { generatorPrefix, classifierKey } };

    const { models, html } = await report(input);
    expect(entry(models, 'generator')).toMatchObject({ key: `${generatorPrefix}/`, sha256: folderSha256sum(path.join(files, 'gen'), ['model.safetensors', 'config.json']), standIn: GENERATOR_STAND_IN });
    expect(entry(models, 'classifier-base')).toMatchObject({ key: classifierKey, sha256: classifierSha, standIn: CLASSIFIER_STAND_IN });
    // The built-in extractor's weights are the classifier base's.
    expect(entry(models, 'fid-extractor')).toMatchObject({ key: classifierKey, sha256: classifierSha, standIn: BUILTIN_FID_STATEMENT });
    expect(models.statements).toEqual([demoDatasetStatement(base.config.dataset.demoPreset), GENERATOR_STAND_IN, CLASSIFIER_STAND_IN, BUILTIN_FID_STATEMENT]);
    expect(BUILTIN_FID_STATEMENT).toContain('not comparable with published FID numbers');
    for (const statement of models.statements) expect(html).toContain(escapeHtml(statement));
    // The header comes before the findings.
    expect(html.indexOf('id="models"')).toBeGreaterThan(0);
    expect(html.indexOf('id="models"')).toBeLessThan(html.indexOf('id="findings"'));
  });

  it('base models shipped with synthmix rather than trained for the sweep are said to be so, with their folder and SHA256SUMS sha256', async () => {
    const generatorPrefix = 'steps/pretrain-generator/89abcdef';
    const classifierKey = 'steps/train/fedcba98/best.pt';
    await putLocal('shipped-gen/config.json', `${generatorPrefix}/config.json`, '{"kind": "builtin"}\n');
    await putLocal('shipped-best.pt', classifierKey, bytesOf('shipped classifier', 2048));
    const shipped = {
      generator: { folder: 'engine/pretrained/steps/pretrain-generator/89abcdef', sha256sums: sha256sum(path.join(files, 'shipped-gen/config.json')) },
      classifier: { folder: 'engine/pretrained/steps/train/fedcba98', sha256sums: sha256sum(path.join(files, 'shipped-best.pt')) },
    };
    // (Trained here, the same header has no such statement: the stand-ins test above lists them all.)
    const { models, html } = await report({ ...base, baseModels: { generatorPrefix, classifierKey, shipped } });
    expect(entry(models, 'generator')).toMatchObject({ shipped: shipped.generator, what: expect.stringContaining(SHIPPED_WORDS), standIn: GENERATOR_STAND_IN });
    expect(entry(models, 'classifier-base')).toMatchObject({ shipped: shipped.classifier, what: expect.stringContaining(SHIPPED_WORDS), sha256: sha256sum(path.join(files, 'shipped-best.pt')) });
    // The built-in FID extractor is the classifier base's weights: its origin is said once, on the base.
    expect(entry(models, 'fid-extractor').shipped).toBeUndefined();
    expect(models.statements).toEqual(expect.arrayContaining([shippedStatement('generator', shipped.generator), shippedStatement('classifier-base', shipped.classifier)]));
    expect(models.statements.filter((st) => st.includes('was not trained for this sweep'))).toHaveLength(2);
    for (const origin of Object.values(shipped)) {
      expect(html).toContain(escapeHtml(origin.folder));
      expect(html).toContain(origin.sha256sums);
    }
  });

  it('a model missing from the store is named, not hashed', async () => {
    const input: ReportInput = { ...base, baseModels: { generatorPrefix: 'steps/pretrain-generator/gone', classifierKey: 'steps/train/gone/best.pt' } };
    const { models } = await report(input);
    expect(entry(models, 'generator')).toMatchObject({ sha256: null });
    expect(entry(models, 'classifier-base')).toMatchObject({ sha256: null });
    expect(models.statements).toEqual(expect.arrayContaining([expect.stringContaining('steps/pretrain-generator/gone/'), expect.stringContaining('steps/train/gone/best.pt')]));
  });
});
