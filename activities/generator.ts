/**
 * gpu queue: the diffusion steps of the graph on the engine — pretrain the built-in generator
 * (it plays Stable Diffusion), personalise it per class (DreamBooth / textual inversion), and
 * generate synthetic images. Generated images are stored one by one as the engine writes them,
 * so a killed attempt's retry generates only the images still missing. Memoized (lib/memo.ts);
 * types: lib/steps/generator.ts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { ActivityDeps } from '../lib/deps.js';
import { makeManifest, writeManifest, type ManifestItem } from '../lib/data/manifest.js';
import { runEngine } from '../lib/engine/activity.js';
import { parseEngineOutput, parseEngineSummary } from '../lib/engine/results.js';
import { EngineRunner, uploadOutput } from '../lib/engine/runner.js';
import { localManifest } from '../lib/engine/local-manifest.js';
import { BadInputError } from '../lib/errors.js';
import { normalizeImage } from '../lib/images/normalize.js';
import { memoize } from '../lib/memo.js';
import { activityMetrics } from '../lib/metrics.js';
import { findShipped, uploadShipped } from '../lib/shipped-models.js';
import type { FinetuneInput, GeneratedImageRecord, GenerateInput, GenerateResult, ModelRef, PretrainGeneratorInput } from '../lib/steps/generator.js';
import type { StoredPrompts } from '../lib/steps/prompts.js';
import { displayName, llmPromptTemplates } from '../lib/prompts/templates.js';
import { getValue } from '../lib/store/values.js';
import type { ArtifactStore } from '../lib/store/types.js';

export type { FinetuneInput, GeneratedImageRecord, GenerateInput, GenerateResult, ModelRef, PretrainGeneratorInput, SamplingRequest } from '../lib/steps/generator.js';

/** The manifest item of a generated image: where it is, and how it was made (prompt, seed, model). */
export function syntheticItem(className: string, source: string, record: GeneratedImageRecord, extraMeta: Record<string, unknown> = {}): ManifestItem {
  return {
    class: className,
    key: record.key,
    sha256: record.sha256,
    width: record.width,
    height: record.height,
    source: `${source}/${record.modelId}/${record.index}`,
    origin: 'synthetic',
    prompt: record.prompt,
    meta: {
      index: record.index, seed: record.seed, steps: record.steps, guidance: record.guidance, negativePrompt: record.negativePrompt, modelId: record.modelId,
      ...(record.generatedWidth !== undefined ? { generatedWidth: record.generatedWidth, generatedHeight: record.generatedHeight } : {}),
      ...(record.scheduler !== undefined ? { scheduler: record.scheduler } : {}),
      ...extraMeta,
    },
  };
}

/** What a shipped generator's `model_index.json` must say (the engine wrote it; a model without an id is `shipped`). */
const shippedModelIndexSchema = z.object({ modelId: z.union([z.string(), z.number()]).transform(String).default('shipped') });

/** The engine's prompts for one class: its stored LLM prompts when given (§6.1), else the templates. */
export async function generationPrompts(store: ArtifactStore, input: Pick<GenerateInput, 'templates' | 'llmPrompts' | 'className' | 'source'>): Promise<string[]> {
  if (!input.llmPrompts) return input.templates;
  const stored = await getValue<StoredPrompts>(store, input.llmPrompts);
  const texts = stored.prompts?.[input.className];
  if (!Array.isArray(texts) || texts.length === 0) {
    throw new BadInputError(`generate ${input.className}: the stored LLM prompts ${input.llmPrompts.key} have none for class "${input.className}" (they have: ${Object.keys(stored.prompts ?? {}).join(', ')})`);
  }
  return llmPromptTemplates(texts, displayName(input.className), input.source !== 'vanilla');
}

export function createGeneratorActivities({ store, config }: ActivityDeps) {
  const runner = new EngineRunner(store, config.engine);

  async function pretrainGenerator(input: PretrainGeneratorInput): Promise<ModelRef> {
    return memoize(store, 'pretrain-generator', input, async (prefix) => {
      // The demo and tiny presets' generators ship with synthmix (lib/shipped-models.ts): uploaded, and said so in the result.
      const shipped = await findShipped(prefix);
      if (shipped) {
        await uploadShipped(store, shipped, prefix);
        const index = parseEngineOutput('pretrain-generator', 'model/model_index.json', shippedModelIndexSchema, JSON.parse(await readFile(path.join(shipped.dir, 'model', 'model_index.json'), 'utf8')));
        return { prefix: `${prefix}/model`, id: index.modelId, shipped: shipped.origin };
      }
      const prior = await localManifest(store, runner, config.engine.cacheDir, input.prior);
      const result = await runEngine(store, config.engine, {
        command: 'pretrain-generator',
        params: { steps: input.steps, batchSize: input.batchSize, lr: input.lr, seed: input.seed, imageSize: input.imageSize, checkpointEvery: Math.max(10, Math.min(200, Math.ceil(input.steps / 5))) },
        inputs: { images: { localPath: prior.path } },
        checkpointKey: `${prefix}/checkpoint`,
      });
      const summary = parseEngineSummary('pretrain-generator', result.summary);
      await uploadOutput(store, result.outputs.model, `${prefix}/model`);
      await result.cleanup();
      return { prefix: `${prefix}/model`, id: summary.modelId };
    });
  }

  async function finetune(input: FinetuneInput): Promise<ModelRef> {
    return memoize(store, 'finetune', input, async (prefix) => {
      const instances = await localManifest(store, runner, config.engine.cacheDir, input.instances);
      const result = await runEngine(store, config.engine, {
        command: 'finetune-generator',
        params: {
          method: input.method,
          className: input.className,
          steps: input.steps,
          lr: input.lr,
          seed: input.seed,
          ...(input.priorPreservation
            ? {
                priorPreservation: { weight: input.priorPreservation.weight, numClassImages: input.priorPreservation.numClassImages },
                classImageSteps: input.priorPreservation.steps,
                classImageGuidance: input.priorPreservation.guidance,
              }
            : // Explicitly off: the engine's DreamBooth default is prior preservation on.
              { priorPreservation: null }),
          ...(input.trainTextEncoder ? { trainTextEncoder: true } : {}),
          // Instances are curated at the classifier's size: the engine resizes them to the generator's
          // (generator.resolution, else the model's native size; SD v1: 512).
          resizeInputs: true,
          ...(input.resolution !== undefined ? { resolution: input.resolution } : {}),
          ...(input.scheduler !== undefined ? { scheduler: input.scheduler } : {}),
          checkpointEvery: Math.max(10, Math.ceil(input.steps / 4)),
        },
        inputs: { base: { prefix: input.baseModelPrefix }, instances: { localPath: instances.path } },
        checkpointKey: `${prefix}/checkpoint`,
      });
      const summary = parseEngineSummary('finetune-generator', result.summary);
      await uploadOutput(store, result.outputs.adapter, `${prefix}/adapter`);
      await result.cleanup();
      return { prefix: `${prefix}/adapter`, id: summary.adapterId, resumedFromStep: summary.resumedFrom ?? 0 };
    }, { reads: { prefixes: [input.baseModelPrefix] } });
  }

  async function generate(input: GenerateInput): Promise<GenerateResult> {
    let generated = 0;
    const metrics = activityMetrics();
    const memo = await memoize(store, 'generate', input, async (prefix) => {
      // Image i is a pure function of (seed, i): what an earlier attempt stored is kept as is.
      const recordKey = (i: number) => `${prefix}/records/${i}.json`;
      const stored = new Set((await store.list(`${prefix}/records/`)).map((o) => Number(o.key.slice(`${prefix}/records/`.length, -5))));
      const missing = Array.from({ length: input.count }, (_, i) => i).filter((i) => !stored.has(i));
      if (missing.length > 0) {
        const prompts = await generationPrompts(store, input);
        const result = await runEngine(store, config.engine, {
          command: 'generate-images',
          params: {
            source: input.source,
            className: input.className,
            prompts,
            negativePrompt: input.negativePrompt,
            indices: missing,
            seed: input.seed,
            steps: input.steps,
            guidance: input.guidance,
            batchSize: input.batchSize,
            // No imageSize: the engine writes images as sampled; they are normalized here, as curated originals are.
            ...(input.resolution !== undefined ? { resolution: input.resolution } : {}),
            ...(input.scheduler !== undefined ? { scheduler: input.scheduler } : {}),
          },
          inputs: { base: { prefix: input.baseModelPrefix }, ...(input.adapterPrefix ? { adapter: { prefix: input.adapterPrefix } } : {}) },
          onArtifact: async (event, localPath) => {
            // The same decode, colour and resize policy as every curated original, so the classifier and FID see both alike.
            const normalized = await normalizeImage(await readFile(localPath), { imageSize: input.imageSize, resize: input.resize });
            if (!normalized.ok) throw new BadInputError(`generate ${input.className}: generated image ${String(event.index)} (${localPath}) is unusable: ${normalized.reason} ${normalized.detail}`);
            const image = await store.putContentAddressed('images', normalized.png, '.png');
            const record: GeneratedImageRecord = {
              index: Number(event.index),
              key: image.key,
              sha256: image.sha256,
              prompt: String(event.prompt),
              negativePrompt: String(event.negativePrompt ?? ''),
              seed: Number(event.seed),
              steps: Number(event.steps),
              guidance: Number(event.guidance),
              modelId: String(event.modelId),
              width: normalized.width,
              height: normalized.height,
              generatedWidth: normalized.original.width,
              generatedHeight: normalized.original.height,
              scheduler: String(event.scheduler),
            };
            await store.putJson(recordKey(record.index), record);
            generated += 1;
            metrics?.imagesGenerated(1);
          },
        });
        await result.cleanup();
      }
      const items: ManifestItem[] = [];
      for (let i = 0; i < input.count; i += 1) {
        items.push(syntheticItem(input.className, input.source, await store.getJson<GeneratedImageRecord>(recordKey(i))));
      }
      const manifest = await writeManifest(store, `${prefix}/manifest.json`, makeManifest('synthetic', input.imageSize, [input.className], items));
      return { manifest, count: items.length, generated };
    }, { references: (r) => [r.manifest], reads: { prefixes: [input.baseModelPrefix, input.adapterPrefix] } });
    return { ...memo, generated };
  }

  return { pretrainGenerator, finetune, generate };
}

