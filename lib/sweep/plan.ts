/**
 * `synthmix plan`: what a sweep would run, checked against the store before anything starts.
 * Every model and dataset the config names must exist (a missing one is a problem naming its
 * field); every stand-in the config asks for is listed, so nothing stands in silently.
 *
 * What is reused is decided at run time by content (lib/memo.ts: a step's key hashes the sha256 of
 * its inputs, which are known only once the step before has run), so the plan says which stages
 * run, how many steps each has, and which inputs they read — not which results are cached. The
 * one exception, because it changes what a stand-in is: a base model the sweep would upload from
 * those synthmix ships (engine/pretrained/) instead of pretraining it, which the caller finds the
 * way the step does (shipped-base-models.ts) and hands in.
 */
import { readdir, stat } from 'node:fs/promises';
import type { ShippedOrigin } from '../shipped-models.js';
import { folderPrefix } from '../store/common.js';
import type { ArtifactStore } from '../store/types.js';
import { needsPriorDomain } from './base-model-inputs.js';
import { CLIP_MODEL_FIELD } from './baselines.js';
import { enumerateCells, generationSeeds } from './cells.js';
import type { SweepConfig } from './config.js';
import type { ShippedBaseModels } from './shipped-base-models.js';

/** A model or dataset the sweep reads, as found (or not) where the config says it is. */
export interface PlannedInput {
  /** The config field that names it, e.g. `train.pretrainedKey`. */
  readonly field: string;
  readonly what: string;
  readonly where: string;
  /** What was found there (objects, bytes, sha256), or undefined when missing. */
  readonly found?: string;
}

export interface PlannedStage {
  readonly stage: string;
  /** Steps the stage runs (activities or child workflows). */
  readonly steps: number;
  readonly detail: string;
}

export interface SweepPlan {
  readonly name: string;
  readonly cells: number;
  readonly stages: readonly PlannedStage[];
  readonly inputs: readonly PlannedInput[];
  /** Stand-ins the config asks for, in words (the report says the same). */
  readonly standIns: readonly string[];
  /** Missing inputs: `field: why` — a sweep with any would fail, so `plan` exits 2. */
  readonly problems: readonly string[];
}

/** The number of classes, when it can be known without curating (the demo world, a local folder, a store prefix). */
type ClassCount = { count: number; exact: boolean };

/**
 * `shipped`: the base models found shipped for this config (`findShippedBaseModels`); the CLI
 * always looks. Without it the plan has not looked, and says of each stand-in base model that it
 * is pretrained here.
 */
export async function planSweep(config: SweepConfig, store: ArtifactStore, shipped: ShippedBaseModels = {}): Promise<SweepPlan> {
  const inputs: PlannedInput[] = [];
  const standIns: string[] = [];

  const source = config.dataset.source;
  let classes: ClassCount = { count: 0, exact: false };
  if (source.kind === 'demo') {
    standIns.push(`dataset: the embedded demo world (preset "${config.dataset.demoPreset}"), not a real dataset`);
    classes = { count: config.dataset.demoPreset === 'tiny' ? 4 : 10, exact: true };
  } else if (source.kind === 'local') {
    const found = await localFolder(source.path);
    inputs.push({ field: 'dataset.source.path', what: 'image folder <class>/<file>', where: source.path, ...(found ? { found: `${found} class folders (on this machine; workers read it at the same path)` } : {}) });
    classes = { count: found ?? 0, exact: found !== undefined };
  } else {
    const objects = await store.list(folderPrefix(source.prefix));
    const names = new Set(objects.map((o) => o.key.slice(folderPrefix(source.prefix).length).split('/')[0]));
    inputs.push({ field: 'dataset.source.prefix', what: 'image folder <class>/<file>', where: `${store.description} ${source.prefix}`, ...(objects.length ? { found: `${objects.length} objects in ${names.size} class folders` } : {}) });
    classes = { count: names.size, exact: objects.length > 0 };
  }

  const base = config.train.base ?? (config.train.pretrainedKey ? 'weights' : 'prior-domain');
  if (base === 'weights' && config.train.pretrainedKey) {
    inputs.push(await storeObject(store, 'train.pretrainedKey', 'classifier weights (torchvision ResNet-18 state dict)', config.train.pretrainedKey));
  } else {
    standIns.push(
      shipped.classifier
        ? `classifier base: a ResNet pretrained on the demo world's prior domain (it plays ImageNet), ${shippedWords(shipped.classifier)}`
        : 'classifier base: a ResNet pretrained here on the demo world\'s prior domain (it plays ImageNet)',
    );
  }
  // Replicate's model is remote (its client checks it); a local base model is given or a stand-in.
  if (config.generator.backend !== 'replicate' && config.generator.modelPrefix) {
    const what = config.generator.backend === 'stable-diffusion' ? 'Stable Diffusion folder (diffusers layout)' : 'built-in generator folder';
    inputs.push(await storeObject(store, 'generator.modelPrefix', what, `${folderPrefix(config.generator.modelPrefix)}model_index.json`));
  } else if (config.generator.backend !== 'replicate') {
    standIns.push(
      shipped.generator
        ? `generator: the built-in pixel diffusion model pretrained on the demo world's prior domain (it plays Stable Diffusion), ${shippedWords(shipped.generator)}`
        : 'generator: the built-in pixel diffusion model pretrained here on the demo world\'s prior domain (it plays Stable Diffusion)',
    );
  }
  if (config.fid.extractor === 'inception-v3-fid' && config.fid.inceptionWeightsKey) {
    inputs.push(await storeObject(store, 'fid.inceptionWeightsKey', 'FID InceptionV3 weights (pt_inception-2015-12-05)', config.fid.inceptionWeightsKey));
  } else {
    standIns.push('FID features: the built-in extractor (the classifier base), not InceptionV3: FID values are not comparable with published ones');
  }
  const clip = config.baselines?.clipZeroShot;
  if (clip) inputs.push(await storeObject(store, CLIP_MODEL_FIELD, 'CLIP folder (transformers layout)', `${folderPrefix(clip.modelPrefix)}config.json`));
  const problems = inputs.filter((i) => i.found === undefined).map((i) => `${i.field}: ${i.what} not found at ${i.where}`);

  const cells = enumerateCells(config);
  const classCount = classes.exact ? String(classes.count) : 'C';
  const perClassSteps = (n: number) => (classes.exact ? n * classes.count : n);
  const fineTuned = config.sources.filter((s) => s !== 'vanilla').length;
  const stages: PlannedStage[] = [
    { stage: 'curate', steps: 1, detail: `${classCount} classes × ${config.dataset.perClass} originals + ${config.dataset.testPerClass} test images, ${config.dataset.imageSize} px (${config.dataset.resize})` },
  ];
  const llm = config.generator.prompts?.kind === 'llm' ? config.generator.prompts : undefined;
  if (llm) {
    // The key is the worker's (SYNTHMIX_LLM_API_KEY): the plan cannot see it, the stage checks it before any request.
    stages.push({ stage: 'prompts', steps: 1, detail: `${llm.perClass} prompts per class from ${llm.model} (${llm.api} API at ${llm.endpoint}), unless already stored; classes with generator.classPrompts keep theirs` });
  }
  const priorDomain = needsPriorDomain(config);
  if (priorDomain) stages.push({ stage: 'curate-prior', steps: 1, detail: 'every image of the demo world\'s prior domain (for the stand-in base models)' });
  if (clip) stages.push({ stage: 'clip-zero-shot', steps: 1, detail: `zero-shot CLIP on the test set (§6.3), ${config.generator.templates.length} prompt(s) per class; beside the stages up to fid` });
  const pretrains = (base === 'prior-domain' ? 1 : 0) + (!config.generator.modelPrefix && config.generator.backend === 'builtin' ? 1 : 0);
  stages.push({ stage: 'pretrain', steps: pretrains, detail: pretrains ? `${pretrains} base model(s) on the prior domain` : 'none: base models given' });
  stages.push({
    stage: 'generate',
    steps: perClassSteps(config.sources.length * generationSeeds(config).length),
    detail: `per class, source and generation seed (${generationSeeds(config).join(', ')}; seed scope ${config.seedScope}): ${fineTuned ? `${fineTuned} fine-tune(s) (${config.sources.filter((s) => s !== 'vanilla').join(', ')}) with ${config.finetune.instancesPerClass} images, then ` : ''}${config.dataset.perClass} images (${config.generator.backend}, ${config.generator.steps} steps)`,
  });
  // A class has dataset.perClass images a side: a KID subset that large is capped (said here, before it runs).
  const kidCapped = config.fid.kidSubsetSize >= config.dataset.perClass ? `, per-class subsets capped to ${Math.max(2, Math.floor(config.dataset.perClass / 2))} (kidSubsetSize ${config.fid.kidSubsetSize} ≥ ${config.dataset.perClass} images per class)` : '';
  const boot = config.fid.bootstrapResamples > 0 ? `, each FID with a ${config.fid.bootstrapResamples}-resample bootstrap interval over images` : '';
  stages.push({ stage: 'fid', steps: generationSeeds(config).length, detail: `FID/KID per class and source (${config.fid.extractor}; KID subsets of ${config.fid.kidSubsetSize}${kidCapped})${boot}` });
  stages.push({ stage: 'experiments', steps: cells.length, detail: `${cells.length} cells: mix → train → evaluate (${config.train.modes.join(', ')}; p ${config.mix.p.join(', ')}; seeds ${config.seeds.join(', ')})` });
  stages.push({ stage: 'report', steps: 1, detail: 'report, figures, findings' });
  return { name: config.name, cells: cells.length, stages, inputs, standIns, problems };
}

/** The plan in words, for the terminal. */
export function formatPlan(plan: SweepPlan): string[] {
  const lines = [`sweep "${plan.name}": ${plan.cells} cells`, 'stages:'];
  for (const s of plan.stages) lines.push(`  ${s.stage.padEnd(12)} ${String(s.steps).padStart(5)} step(s)  ${s.detail}`);
  lines.push('models and data:');
  if (plan.inputs.length === 0) lines.push('  (none from the store)');
  for (const i of plan.inputs) lines.push(`  ${i.found ? 'ok     ' : 'MISSING'} ${i.field.padEnd(24)} ${i.where}${i.found ? `: ${i.found}` : ''}`);
  if (plan.standIns.length) {
    lines.push('stand-ins (asked for by this config; the report says so):');
    for (const s of plan.standIns) lines.push(`  - ${s}`);
  }
  return lines;
}

/** What a shipped base model's stand-in line adds (the report's "Models used" says the same: lib/report/models.ts). */
function shippedWords(origin: ShippedOrigin): string {
  return `shipped with synthmix (${origin.folder}), not trained`;
}

async function storeObject(store: ArtifactStore, field: string, what: string, key: string): Promise<PlannedInput> {
  const info = await store.stat(key);
  return { field, what, where: `${store.description} ${key}`, ...(info ? { found: `${info.size} bytes, sha256 ${info.sha256.slice(0, 12)}…` } : {}) };
}

async function localFolder(dir: string): Promise<number | undefined> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).length;
}
