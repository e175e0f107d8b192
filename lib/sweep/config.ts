/**
 * The sweep configuration: one experiment of the paper, from dataset to report. A preset gives
 * every field (`demo`, `paper`, `tiny`); a user's JSON file overrides any of them.
 */
import { z } from 'zod';
import { mergeLayer } from '../config/merge.js';
import { replicateConfigSchema } from '../replicate/config.js';
import { PAPER_LLM_SETTINGS, PAPER_LLM_TEMPLATES } from '../prompts/templates.js';
import type { LlmApi } from '../prompts/llm.js';
import type { SweepImageSource } from '../steps/curate.js';
import { DEFAULT_P_VALUES, INIT_MODES, SAMPLERS, SOURCES } from './cells.js';

const proportion = z.number().min(0, 'p must lie in [0, 1]').max(1, 'p must lie in [0, 1]');

const imageSourceSchema = z.discriminatedUnion('kind', [
  /** An image folder `<path>/<class>/<files>` on the worker's disk. */
  z.object({ kind: z.literal('local'), path: z.string().min(1) }).strict(),
  /** The same layout under a prefix of the artifact store. */
  z.object({ kind: z.literal('store'), prefix: z.string().min(1) }).strict(),
  /** The embedded demo world, generated deterministically from the seed. */
  z.object({ kind: z.literal('demo'), domain: z.enum(['prior', 'target']).default('target') }).strict(),
]);

/**
 * `generator.replicate`: the settings of the Replicate client (lib/replicate/config.ts: `baseUrl`,
 * `model`, `version`, `maxConcurrency`, `width`/`height` asked of the model, poll intervals, HTTP
 * retry policy...) less what the sweep sets itself (imageSize and resize from `dataset`, steps and
 * guidance from `generator`), plus the DreamBooth trainer and the model its versions go to.
 */
export const replicateSweepSchema = replicateConfigSchema
  .omit({ imageSize: true, resize: true, numInferenceSteps: true, guidanceScale: true })
  .extend({
    model: replicateConfigSchema.shape.model.unwrap(),
    /** The trainer of DreamBooth fine-tunes (source `dreambooth`), `owner/name` and a version id. */
    trainer: z.object({ model: replicateConfigSchema.shape.model.unwrap(), version: replicateConfigSchema.shape.version.unwrap() }).strict().optional(),
    /** An existing model `owner/name` that receives each class's trained version. */
    destination: replicateConfigSchema.shape.model.unwrap().optional(),
    /** Trainer inputs added to every training (the ones synthmix sets win on a clash). */
    trainerInput: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

const llmApi = z.enum(['chat', 'completions'] as const satisfies readonly LlmApi[]);

/**
 * `generator.prompts`: where the diffusion prompts come from. `templates` (the default, also when the
 * field is absent): `generator.templates` filled with the class. `llm` (the paper's §6.1): an
 * OpenAI-compatible endpoint writes `perClass` prompts per class from the LLM templates, once (stored
 * and memoized: the same settings and classes reuse them in every sweep); they are shown in the
 * report and generation uses them round-robin. The API key is the worker's `SYNTHMIX_LLM_API_KEY`,
 * never a config field, and goes only to an endpoint the worker's `endpoints` config allows.
 */
export const promptsSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('templates') }).strict(),
  z
    .object({
      kind: z.literal('llm'),
      /** API base, e.g. `https://api.openai.com/v1` (requests go to `/chat/completions` or `/completions` under it). */
      endpoint: z.string().min(1),
      model: z.string().min(1),
      /** `completions`: the paper's (davinci-002); `chat`: chat models. */
      api: llmApi,
      /** Prompts per class (templates used round-robin). */
      perClass: z.number().int().min(1).max(100).default(PAPER_LLM_TEMPLATES.length),
      temperature: z.number().min(0).max(2).default(PAPER_LLM_SETTINGS.temperature),
      maxTokens: z.number().int().min(1).max(4096).default(PAPER_LLM_SETTINGS.maxTokens),
      /** LLM templates, `{}` for the class (default: the paper's five). */
      templates: z
        .array(z.string().includes('{}', { message: 'each template needs a {} for the class name' }))
        .min(1)
        .default([...PAPER_LLM_TEMPLATES]),
      /** Sent as `seed` (reproducible only on endpoints that honour it; the prompts are stored either way). */
      seed: z.number().int().min(0).optional(),
    })
    .strict(),
]);
export type PromptsConfig = z.infer<typeof promptsSchema>;
export type LlmPromptsConfig = Extract<PromptsConfig, { kind: 'llm' }>;

/** The problem with an LLM endpoint in a sweep config, or undefined: a URL whose credentials or query would sit in workflow history. */
export function llmEndpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `${JSON.stringify(endpoint)} is not a URL (e.g. "https://api.openai.com/v1")`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `must be an https URL, got ${url.protocol}`;
  // A key in the URL would reach workflow history, the record and the report.
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    return 'must not carry credentials, a query or a fragment: the sweep config is kept in workflow history and reports; the key is the worker\'s SYNTHMIX_LLM_API_KEY';
  }
  return undefined;
}

export const sweepConfigSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a safe name (letters, digits, . _ -)'),
    /** Seeds of the whole sweep; several seeds give a mean and confidence interval per point. */
    seeds: z.array(z.number().int().min(0)).min(1).default([0]),
    /**
     * What the seeds vary. `all`: each seed fine-tunes, generates, mixes and trains on its own (and has
     * its own FID), so intervals over seeds include the generator's variance — the paper's variance of
     * interest is generation + training. `training`: fine-tuning and generation use the first seed and
     * the seeds vary only the mix and the classifier (cheaper: one generation per source). Either way
     * the base models (pretrain) are shared: they play the paper's fixed Stable Diffusion / ImageNet weights.
     */
    seedScope: z.enum(['all', 'training']).default('all'),
    dataset: z
      .object({
        /** Required: the `paper` preset names no dataset (the demo world would silently stand in for yours). */
        source: imageSourceSchema.optional(),
        /** A separate test folder; otherwise the test set is split off the source first. */
        testSource: imageSourceSchema.optional(),
        /** The demo world's size preset when `source.kind` is `demo`. */
        demoPreset: z.enum(['tiny', 'demo', 'paper']).default('demo'),
        imageSize: z.number().int().min(8).max(1024).default(32),
        resize: z.enum(['center-crop', 'letterbox']).default('center-crop'),
        perClass: z.number().int().min(2),
        testPerClass: z.number().int().min(1),
        tooFew: z.enum(['error', 'all']).default('error'),
      })
      .strict(),
    generator: z
      .object({
        backend: z.enum(['builtin', 'stable-diffusion', 'replicate']).default('builtin'),
        /** Store prefix of the base model folder (built-in or Stable Diffusion in diffusers layout). */
        modelPrefix: z.string().optional(),
        /** Pretrain the built-in generator on the demo world's prior domain when no model is given. */
        pretrain: z.object({ steps: z.number().int().min(1), batchSize: z.number().int().min(1), lr: z.number().positive() }).strict(),
        steps: z.number().int().min(1).default(20),
        guidance: z.number().min(0).default(3),
        /**
         * The size the generator fine-tunes and samples at (default: the model's native size, read
         * from its folder: SD v1 512, the built-in model its own), apart from `dataset.imageSize`:
         * instance images are resized up to it, generated images are normalized down to the dataset's
         * size as curated originals are.
         */
        resolution: z.number().int().min(8).max(2048).multipleOf(8).optional(),
        /** The sampler (default: the model folder's own scheduler; the built-in model's: ddim). */
        scheduler: z.enum(SAMPLERS).optional(),
        batchSize: z.number().int().min(1).default(32),
        templates: z.array(z.string().includes('{}', { message: 'each template needs a {} for the class name' })).min(1).default(['a photo of a {}']),
        classPrompts: z.record(z.string(), z.array(z.string()).min(1)).default({}),
        negativePrompt: z.string().default(''),
        /**
         * Where the prompts come from (promptsSchema): absent or `{"kind": "templates"}`, the templates
         * above; `{"kind": "llm", ...}`, an LLM writes them (§6.1). `classPrompts` still wins for its classes.
         * Optional with no default: sweeps started before the field existed replay unchanged.
         */
        prompts: promptsSchema.optional(),
        /** Backend `replicate`: model and version, API base URL, DreamBooth trainer (see replicateSweepSchema). */
        replicate: replicateSweepSchema.optional(),
      })
      .strict(),
    sources: z.array(z.enum(SOURCES)).min(1).default([...SOURCES]),
    finetune: z
      .object({
        /** k instance images per class for DreamBooth / textual inversion. */
        instancesPerClass: z.number().int().min(1).default(5),
        dreambooth: z
          .object({
            steps: z.number().int().min(1),
            lr: z.number().positive(),
            priorWeight: z.number().min(0),
            numClassImages: z.number().int().min(0),
            trainTextEncoder: z.boolean().default(false),
          })
          .strict(),
        textual: z.object({ steps: z.number().int().min(1), lr: z.number().positive() }).strict(),
      })
      .strict(),
    mix: z
      .object({
        p: z.array(proportion).min(1).default([...DEFAULT_P_VALUES]),
        valFraction: z.number().gt(0).lt(1).default(0.15),
        realValidation: z.boolean().default(false),
        onlyOriginal: z.boolean().default(true),
      })
      .strict(),
    train: z
      .object({
        modes: z.array(z.enum(INIT_MODES)).min(1).default([...INIT_MODES]),
        epochs: z.object({ scratch: z.number().int().min(1), finetune: z.number().int().min(1), frozen: z.number().int().min(1) }).strict(),
        /**
         * SGD learning rate: one for every mode, or one per mode like `epochs` (training from scratch
         * wants a larger step than fine-tuning pretrained weights). `trainLr` reads it for a cell.
         */
        lr: z
          .union([z.number().positive(), z.object({ scratch: z.number().positive(), finetune: z.number().positive(), frozen: z.number().positive() }).strict()], {
            error: 'expected a positive number, or { scratch, finetune, frozen } with a positive number each',
          })
          .default(0.001),
        momentum: z.number().min(0).max(1).default(0.9),
        weightDecay: z.number().min(0).default(0),
        batchSize: z.number().int().min(1).default(32),
        width: z.number().int().min(1).default(64),
        stem: z.enum(['auto', 'cifar', 'imagenet']).default('auto'),
        checkpointEvery: z.number().int().min(1).default(1),
        /** The paper's §6.2 baseline arm: RandAugment on the originals only. */
        randAugment: z
          .object({
            n: z.number().int().min(1),
            m: z.number().min(0).max(30),
            /** Ops drawn for every image, as torchvision's `RandAugment` (a per-image transform); false: one draw per batch. */
            perImage: z.boolean().default(true),
          })
          .strict()
          .optional(),
        /**
         * Where finetune / frozen start: `weights` (a torchvision ResNet-18 state dict at `pretrainedKey`,
         * as ImageNet weights in the paper) or `prior-domain` (a stand-in: pretrained here on the demo
         * world's prior domain, with its own classes; finetune / frozen replace the head). Default: `weights`
         * when `pretrainedKey` is set, else `prior-domain`.
         */
        base: z.enum(['weights', 'prior-domain']).optional(),
        /** Store key of pretrained weights (torchvision format); needed by `base: "weights"`. */
        pretrainedKey: z.string().optional(),
        pretrainEpochs: z.number().int().min(1).default(10),
        /** The rest of that pretrain (scratch, on the prior domain's images, split like a cell's). */
        pretrain: z
          .object({
            lr: z.number().positive().default(0.01),
            momentum: z.number().min(0).max(1).default(0.9),
            weightDecay: z.number().min(0).default(5e-4),
            valFraction: z.number().gt(0).lt(1).default(0.15),
          })
          .strict()
          .prefault({}),
      })
      .strict(),
    fid: z
      .object({
        extractor: z.enum(['synthmix-builtin-v1', 'inception-v3-fid']).default('synthmix-builtin-v1'),
        /** Store key of the FID Inception weights (pt_inception-2015-12-05-6726825d.pth). */
        inceptionWeightsKey: z.string().optional(),
        kidSubsets: z.number().int().min(1).default(50),
        /**
         * Images per KID subset. Above the smaller set of a comparison (a class: `dataset.perClass` a
         * side) the engine caps it to half that set and the report says so; below, every row uses it.
         */
        kidSubsetSize: z.number().int().min(2).default(1000),
        /**
         * Resamples of the basic bootstrap over images that puts a 95 % interval on each FID (a
         * per-class FID from tens of images is noisy and biased); 0: none. Each resample is one more
         * FID of the comparison, computed from draw counts (cheap next to extracting features).
         */
        bootstrapResamples: z.number().int().min(0).default(200),
      })
      .strict(),
    /** Reference arms beside the cells (absent: none); each is drawn as a line in Figs 3–5. */
    baselines: z
      .object({
        /**
         * §6.3 zero-shot CLIP on the test set: store prefix of a CLIP folder in transformers layout
         * (e.g. openai/clip-vit-base-patch32 put there with `synthmix import`); prompts are the
         * generator's templates.
         */
        clipZeroShot: z.object({ modelPrefix: z.string().min(1), batchSize: z.number().int().min(1).default(32) }).strict().optional(),
      })
      .strict()
      .optional(),
    /** Experiment cells trained at once (bounded fan-out). */
    concurrency: z.number().int().min(1).max(1000).default(4),
  })
  .strict()
  .superRefine((config, ctx) => {
    // A repeated value would run (and pay for) the same cells twice, or collide on their ids.
    const lists: Array<[Array<string | number>, readonly unknown[]]> = [
      [['seeds'], config.seeds],
      [['mix', 'p'], config.mix.p],
      [['sources'], config.sources],
      [['train', 'modes'], config.train.modes],
    ];
    for (const [path, values] of lists) {
      const repeated = values.filter((value, i) => values.indexOf(value) !== i);
      if (repeated.length > 0) ctx.addIssue({ code: 'custom', path, message: `has duplicate values: ${[...new Set(repeated)].map((v) => JSON.stringify(v)).join(', ')}` });
    }
    // Curate keeps at most dataset.perClass training images per class: with fewer than k, no class could be fine-tuned.
    const fineTuned = config.sources.filter((source) => source !== 'vanilla');
    if (fineTuned.length > 0 && config.dataset.perClass < config.finetune.instancesPerClass) {
      ctx.addIssue({
        code: 'custom',
        path: ['finetune', 'instancesPerClass'],
        message: `is ${config.finetune.instancesPerClass}, more than dataset.perClass (${config.dataset.perClass}): sources ${fineTuned.join(', ')} fine-tune each class on that many of its curated images, and no class would have them`,
      });
    }
    // Free-form records reach workflow history, results and the report: never a secret in them.
    const replicate = config.generator.replicate;
    if (replicate) {
      for (const field of ['trainerInput', 'extraInput'] as const) reportSecretKeys(replicate[field], ['generator', 'replicate', field], ctx);
    }
    // Real models and data are given, never silently replaced by a stand-in (DESIGN §8).
    if (!config.dataset.source) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataset', 'source'],
        message: 'required: your image folder ({"kind": "local", "path": ...} or {"kind": "store", "prefix": ...}); {"kind": "demo"} runs on the embedded demo world as a stand-in',
      });
    }
    if (config.train.base === 'weights' && !config.train.pretrainedKey) {
      ctx.addIssue({ code: 'custom', path: ['train', 'pretrainedKey'], message: 'required when train.base is "weights" (store key of a torchvision ResNet-18 state dict, e.g. put there with `synthmix import`)' });
    }
    if (config.train.base === 'prior-domain' && config.train.pretrainedKey) {
      ctx.addIssue({ code: 'custom', path: ['train', 'base'], message: 'is "prior-domain" but train.pretrainedKey is set: use "weights" to start from those weights' });
    }
    if (config.fid.extractor === 'inception-v3-fid' && !config.fid.inceptionWeightsKey) {
      ctx.addIssue({ code: 'custom', path: ['fid', 'inceptionWeightsKey'], message: 'required when fid.extractor is "inception-v3-fid" (store key of pt_inception-2015-12-05-6726825d.pth)' });
    }
    if (config.generator.backend === 'stable-diffusion' && !config.generator.modelPrefix) {
      ctx.addIssue({ code: 'custom', path: ['generator', 'modelPrefix'], message: 'required when generator.backend is "stable-diffusion" (store prefix of the model folder in diffusers layout)' });
    }
    const prompts = config.generator.prompts;
    if (prompts?.kind === 'llm') {
      const problem = llmEndpointProblem(prompts.endpoint);
      if (problem) ctx.addIssue({ code: 'custom', path: ['generator', 'prompts', 'endpoint'], message: problem });
      if (config.generator.backend === 'replicate') {
        ctx.addIssue({ code: 'custom', path: ['generator', 'prompts', 'kind'], message: '"llm" is not available with generator.backend "replicate" (its predictions use generator.templates): use the builtin or stable-diffusion backend' });
      }
    }
    if (config.generator.backend !== 'replicate') return;
    if (!replicate) {
      ctx.addIssue({ code: 'custom', path: ['generator', 'replicate'], message: 'required when generator.backend is "replicate" (at least {"model": "owner/name"})' });
    }
    if (config.sources.includes('textual')) {
      ctx.addIssue({
        code: 'custom',
        path: ['sources'],
        message: 'source "textual" is not available with generator.backend "replicate" (Replicate has no standard textual-inversion trainer): use "vanilla" and/or "dreambooth"',
      });
    }
    if (replicate && config.sources.includes('dreambooth')) {
      if (!replicate.trainer) ctx.addIssue({ code: 'custom', path: ['generator', 'replicate', 'trainer'], message: 'required for source "dreambooth" with backend "replicate" ({"model": "owner/name", "version": "..."})' });
      if (!replicate.destination) ctx.addIssue({ code: 'custom', path: ['generator', 'replicate', 'destination'], message: 'required for source "dreambooth" with backend "replicate" (an existing model "owner/name" that receives the trained versions)' });
    }
  });

/** A key that names a secret (`api_token`, `apiKey`, `client_secret`, `password`...), case-insensitive. */
export const SECRET_KEY_PATTERN = /token|key|secret|password/i;

/** Add an issue for every secret-looking key in a free-form value (nested objects and arrays included). */
function reportSecretKeys(value: unknown, path: Array<string | number>, ctx: z.RefinementCtx): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => reportSecretKeys(item, [...path, i], ctx));
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [key, child] of Object.entries(value)) {
    if (SECRET_KEY_PATTERN.test(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, key],
        message: 'looks like a secret (its name contains token, key, secret or password): the sweep config is kept in workflow history and reports; secrets belong in the worker\'s environment',
      });
    } else {
      reportSecretKeys(child, [...path, key], ctx);
    }
  }
}

type ParsedSweepConfig = z.infer<typeof sweepConfigSchema>;
/** A checked sweep config: its `superRefine` made `dataset.source` required. */
export type SweepConfig = Omit<ParsedSweepConfig, 'dataset'> & { dataset: ParsedSweepConfig['dataset'] & { source: SweepImageSource } };
export type SweepConfigInput = z.input<typeof sweepConfigSchema>;

const paperTrain = { base: 'weights' as const, epochs: { scratch: 200, finetune: 20, frozen: 20 }, width: 64, stem: 'imagenet' as const, batchSize: 32 };

export const PRESETS: Record<'tiny' | 'demo' | 'paper', SweepConfigInput> = {
  /**
   * CI-sized: the whole graph in a few minutes on 2 cores. Four classes of the demo world, enough
   * images and epochs that the p = 0 cells land well above chance (0.25) on any CPU; checkpoints
   * every 5 epochs, since an epoch here takes a fraction of a second.
   */
  tiny: {
    name: 'tiny',
    dataset: { source: { kind: 'demo', domain: 'target' }, demoPreset: 'tiny', perClass: 24, testPerClass: 12, imageSize: 32 },
    generator: { pretrain: { steps: 150, batchSize: 32, lr: 2e-3 }, steps: 8, guidance: 2, batchSize: 64 },
    finetune: { instancesPerClass: 3, dreambooth: { steps: 8, lr: 5e-4, priorWeight: 1, numClassImages: 4 }, textual: { steps: 8, lr: 5e-3 } },
    mix: { p: [0, 0.5, 1] },
    train: { modes: ['scratch', 'frozen'], epochs: { scratch: 20, finetune: 10, frozen: 10 }, lr: 0.05, width: 8, stem: 'cifar', batchSize: 32, pretrainEpochs: 10, checkpointEvery: 5 },
    // Subsets of half a class (24 images a side), so per-class KID is never capped.
    fid: { kidSubsets: 10, kidSubsetSize: 12 },
    concurrency: 2,
  },
  /**
   * `npm run demo`: the full graph (3 sources × 5 p × 3 modes + only-original) for three seeds, each
   * fine-tuning, generating, mixing and training on its own (`seedScope: "all"`), on 2 CPU cores. The
   * classifier is a width-8 ResNet-18, where a cell's time is all convolution: measured on the demo
   * world (one seed, 2-core CPU), from scratch at lr 0.05 for 8 epochs it reaches ≈ 45 % test accuracy
   * in 16 s, where width 16 at lr 0.001 for 12 epochs reached ≈ 36 % in 52 s; fine-tuning keeps the
   * paper's lr 0.001 (≈ 52 % against width 16's ≈ 59 %), the frozen head takes 0.05.
   */
  demo: {
    name: 'demo',
    seeds: [0, 1, 2],
    seedScope: 'all',
    dataset: { source: { kind: 'demo', domain: 'target' }, demoPreset: 'demo', perClass: 60, testPerClass: 40, imageSize: 32 },
    generator: { pretrain: { steps: 1500, batchSize: 64, lr: 2e-3 }, steps: 10, guidance: 2, batchSize: 64 },
    finetune: { instancesPerClass: 5, dreambooth: { steps: 60, lr: 1e-3, priorWeight: 1, numClassImages: 10 }, textual: { steps: 100, lr: 2e-2 } },
    mix: { p: [...DEFAULT_P_VALUES] },
    train: { epochs: { scratch: 8, finetune: 4, frozen: 4 }, lr: { scratch: 0.05, finetune: 0.001, frozen: 0.05 }, width: 8, stem: 'cifar', batchSize: 32, pretrainEpochs: 10 },
    // Subsets of half a class (60 images a side): 100 did not fit, every per-class row was capped.
    fid: { kidSubsets: 20, kidSubsetSize: 30 },
    concurrency: 2,
  },
  /**
   * The paper's numbers: 700 originals and 300 test images per class, ResNet-18 at full width. It
   * names no dataset and asks for the real models (Stable Diffusion, torchvision weights, the FID
   * Inception): a config over it gives `dataset.source`, `generator.modelPrefix`, `train.pretrainedKey`
   * and `fid.inceptionWeightsKey`, or it is refused naming each.
   */
  paper: {
    name: 'paper',
    dataset: { demoPreset: 'paper', perClass: 700, testPerClass: 300, imageSize: 224 },
    // LMS: the sampler the paper's code used.
    generator: { backend: 'stable-diffusion', pretrain: { steps: 20000, batchSize: 64, lr: 1e-4 }, steps: 50, guidance: 7.5, batchSize: 8, scheduler: 'lms' },
    finetune: { instancesPerClass: 5, dreambooth: { steps: 800, lr: 5e-6, priorWeight: 1, numClassImages: 200 }, textual: { steps: 3000, lr: 5e-4 } },
    mix: { p: [...DEFAULT_P_VALUES] },
    train: paperTrain,
    fid: { extractor: 'inception-v3-fid', kidSubsets: 100, kidSubsetSize: 1000 },
    concurrency: 8,
  },
};

export type PresetName = keyof typeof PRESETS;

/** Parse a sweep config layered over a preset; errors name the field (`dataset.perClass: ...`). */
export function resolveSweepConfig(preset: PresetName, overrides: Record<string, unknown> = {}): SweepConfig {
  const merged = mergeLayer(structuredClone(PRESETS[preset]) as Record<string, unknown>, overrides);
  // The checks passed, `dataset.source` among them.
  return sweepConfigSchema.parse(merged) as SweepConfig;
}
