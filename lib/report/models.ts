/**
 * The report's header of models (issue 13): every model the sweep actually used — the base
 * generator, the classifier base, the FID extractor's weights — with its store key and sha256, and
 * in plain words each stand-in (built-in generator for Stable Diffusion, prior-domain classifier for
 * ImageNet weights, built-in FID extractor for InceptionV3). The keys travel in the report request
 * (`ReportInput.baseModels`); the sha256s are read here from the store when the report is written,
 * so workflow history never carries them and a re-rendered report shows what the store holds then.
 * A base model uploaded from the ones synthmix ships (engine/pretrained/) rather than trained for
 * the sweep is said to be so, with the shipped folder and its SHA256SUMS' sha256.
 */
import { sha256Hex } from '../hash.js';
import { folderPrefix } from '../store/common.js';
import type { ShippedOrigin } from '../shipped-models.js';
import type { ArtifactStore } from '../store/types.js';
import type { FidRow, ReportInput } from './types.js';

export type ModelRole = 'generator' | 'classifier-base' | 'fid-extractor' | 'baseline';

export const ROLE_WORDS: Record<ModelRole, string> = { generator: 'generator', 'classifier-base': 'classifier base', 'fid-extractor': 'FID extractor', baseline: 'baseline' };

export interface ModelEntry {
  role: ModelRole;
  /** What the model is, in words. */
  what: string;
  /** Where it is: a store key (`kind: object`), a store folder prefix (`folder`) or a remote model (`remote`). */
  kind: 'object' | 'folder' | 'remote';
  /** The store key or folder prefix; for a remote model, its name (no store key). */
  key: string;
  /** Hex sha256 (see `sha256Of`); null when the store has nothing there, or the model is remote. */
  sha256: string | null;
  /** What `sha256` is the hash of. */
  sha256Of: string;
  /** A folder's files and bytes, as listed. */
  files?: number;
  bytes?: number;
  /** When this model stands in for the paper's, the plain statement saying so. */
  standIn: string | null;
  /** Why no sha256 could be given (not in the store, not recorded), when so. */
  problem?: string;
  /** Set when the model was not trained for this sweep but uploaded from the ones synthmix ships (engine/pretrained/). */
  shipped?: ShippedOrigin;
}

export interface ModelsHeader {
  models: ModelEntry[];
  /** Plain statements the header makes (stand-ins, FID comparability, mismatches), in order. */
  statements: string[];
  /** Where and when the sha256s were read: at report time, from the artifact store. */
  sha256Source: string;
}

/** The folder hash, said once: a user can reproduce it with `sha256sum`. */
export const FOLDER_SHA256_OF =
  "the folder's listing: one line `<sha256>  <path>` per file (sha256sum's format; paths relative to the folder, sorted by byte order), hashed with sha256 — so it pins every file's bytes";
const OBJECT_SHA256_OF = "the object's bytes, as the store recorded them";

export const BUILTIN_FID_STATEMENT =
  'FID here comes from the built-in extractor (synthmix-builtin-v1: the features of the classifier base above), not InceptionV3: these FID values are not comparable with published FID numbers.';
export const GENERATOR_STAND_IN =
  "Stand-in: the generator is synthmix's built-in pixel diffusion model, not Stable Diffusion — the paper's generator was not used.";
export const CLASSIFIER_STAND_IN =
  "Stand-in: the classifier base is a ResNet-18 pretrained here on the demo world's prior domain, not ImageNet weights — finetune and frozen start from it.";

/** What a shipped base model's `what` adds: it was not trained for this sweep. */
export const SHIPPED_WORDS = 'shipped with synthmix, not trained for this sweep';

/** The plain statement of a base model uploaded from the ones synthmix ships rather than trained for this sweep. */
export function shippedStatement(role: ModelRole, origin: ShippedOrigin): string {
  return (
    `The ${ROLE_WORDS[role]} was not trained for this sweep: it is the output of this same pretrain step with the same inputs, ` +
    `computed once on synthmix's own machine and shipped in ${origin.folder} (its SHA256SUMS has sha256 ${origin.sha256sums}; every file was checked against it before use).`
  );
}

export function demoDatasetStatement(preset: string): string {
  return `Stand-in: the dataset is the embedded demo world (preset "${preset}"), not a real dataset.`;
}

/** sha256 of a folder's listing in sha256sum's format (see FOLDER_SHA256_OF). */
export function folderListingSha256(files: ReadonlyArray<{ path: string; sha256: string }>): string {
  const lines = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => `${f.sha256}  ${f.path}\n`);
  return sha256Hex(lines.join(''));
}

async function objectEntry(store: ArtifactStore, role: ModelRole, what: string, key: string, standIn: string | null): Promise<ModelEntry> {
  const info = await store.stat(key);
  return { role, what, kind: 'object', key, sha256: info?.sha256 ?? null, sha256Of: OBJECT_SHA256_OF, standIn, ...(info ? {} : { problem: 'not in the store' }) };
}

async function folderEntry(store: ArtifactStore, role: ModelRole, what: string, prefix: string, standIn: string | null): Promise<ModelEntry> {
  const folder = folderPrefix(prefix);
  const objects = await store.list(folder);
  const base = { role, what, kind: 'folder' as const, key: folder, sha256Of: FOLDER_SHA256_OF, standIn };
  if (objects.length === 0) return { ...base, sha256: null, problem: 'no files under it in the store' };
  const files = objects.map((o) => ({ path: o.key.slice(folder.length), sha256: o.sha256 }));
  return { ...base, sha256: folderListingSha256(files), files: objects.length, bytes: objects.reduce((s, o) => s + o.size, 0) };
}

function notRecorded(role: ModelRole, what: string, standIn: string | null): ModelEntry {
  return { role, what, kind: 'object', key: '', sha256: null, sha256Of: OBJECT_SHA256_OF, standIn, problem: 'not recorded: this report input predates the recording of base models' };
}

/**
 * The models of `input`'s sweep, with sha256s read from `store` now. The decisions follow the
 * sweep's own (workflows/sweep.ts `baseModels`, `fidInput`): a given `generator.modelPrefix` /
 * `train.pretrainedKey` is used as is, else the stand-in pretrained on the prior domain.
 */
export async function resolveModels(store: ArtifactStore, input: Pick<ReportInput, 'config' | 'baseModels' | 'fid' | 'baselines'>): Promise<ModelsHeader> {
  const { config } = input;
  const models: ModelEntry[] = [];
  const statements: string[] = [];

  // Generator.
  const gen = config.generator;
  const generatorPrefix = input.baseModels?.generatorPrefix ?? gen.modelPrefix;
  // Replicate generates remotely (the sweep pretrains nothing and reads no folder for it).
  if (gen.backend === 'replicate') {
    const remote = gen.replicate ? `${gen.replicate.model}${gen.replicate.version ? `:${gen.replicate.version}` : ''}` : 'the configured Replicate model';
    models.push({ role: 'generator', what: 'remote model on Replicate (its weights are Replicate\'s: no store key, no sha256)', kind: 'remote', key: remote, sha256: null, sha256Of: 'nothing: the model runs remotely', standIn: null });
  } else {
    const builtin = gen.backend !== 'stable-diffusion';
    const given = Boolean(gen.modelPrefix);
    const shipped = given ? undefined : input.baseModels?.shipped?.generator;
    const what = builtin
      ? given
        ? 'built-in pixel diffusion model folder (given: generator.modelPrefix)'
        : shipped
          ? `built-in pixel diffusion model, pretrained on the demo world's prior domain (${SHIPPED_WORDS})`
          : "built-in pixel diffusion model, pretrained here on the demo world's prior domain"
      : 'Stable Diffusion folder in diffusers layout (given: generator.modelPrefix)';
    const standIn = builtin ? GENERATOR_STAND_IN : null;
    const entry = generatorPrefix ? await folderEntry(store, 'generator', what, generatorPrefix, standIn) : notRecorded('generator', what, standIn);
    models.push(shipped ? { ...entry, shipped } : entry);
  }

  // Classifier base.
  const classifierKey = input.baseModels?.classifierKey ?? config.train.pretrainedKey;
  const classifierStandIn = config.train.pretrainedKey ? null : CLASSIFIER_STAND_IN;
  const classifierShipped = config.train.pretrainedKey ? undefined : input.baseModels?.shipped?.classifier;
  const classifierWhat = config.train.pretrainedKey
    ? 'ResNet-18 weights (torchvision state dict; given: train.pretrainedKey)'
    : classifierShipped
      ? `ResNet-18 pretrained on the demo world's prior domain (${config.train.pretrainEpochs} epochs, its own classes; the head is replaced; ${SHIPPED_WORDS})`
      : `ResNet-18 pretrained here on the demo world's prior domain (${config.train.pretrainEpochs} epochs, its own classes; the head is replaced)`;
  const classifierEntry = classifierKey ? await objectEntry(store, 'classifier-base', classifierWhat, classifierKey, classifierStandIn) : notRecorded('classifier-base', classifierWhat, classifierStandIn);
  const classifier = classifierShipped ? { ...classifierEntry, shipped: classifierShipped } : classifierEntry;
  models.push(classifier);

  // FID extractor: InceptionV3 weights, or the built-in extractor over the classifier base's weights.
  let fidEntry: ModelEntry;
  if (config.fid.extractor === 'inception-v3-fid' && config.fid.inceptionWeightsKey) {
    fidEntry = await objectEntry(store, 'fid-extractor', 'InceptionV3 FID weights (pt_inception-2015-12-05; given: fid.inceptionWeightsKey)', config.fid.inceptionWeightsKey, null);
  } else {
    const what = 'built-in extractor synthmix-builtin-v1: the classifier base\'s weights';
    // Its shipped origin, if any, is said once: on the classifier base.
    const { shipped: _shipped, ...weights } = classifier;
    fidEntry = { ...weights, role: 'fid-extractor', what, standIn: BUILTIN_FID_STATEMENT };
  }
  models.push(fidEntry);

  // Baselines (§6.3): the model folder the sweep's arm read, as it is in the store now.
  const clip = input.baselines?.clipZeroShot;
  if (clip) models.push(await folderEntry(store, 'baseline', 'zero-shot CLIP, transformers layout (given: baselines.clipZeroShot.modelPrefix)', clip.modelPrefix, null));

  // Not a model, but a stand-in all the same (as `synthmix plan` lists it): the data the numbers are about.
  if (config.dataset.source.kind === 'demo') statements.push(demoDatasetStatement(config.dataset.demoPreset));
  for (const model of models) if (model.standIn) statements.push(model.standIn);
  for (const model of models) if (model.shipped) statements.push(shippedStatement(model.role, model.shipped));
  statements.push(...fidMismatches(input.fid, fidEntry));
  // A key named twice (the built-in extractor's weights are the classifier base's) is said once.
  const said = new Set<string>();
  for (const model of models) {
    if (!model.problem || said.has(model.key)) continue;
    said.add(model.key);
    statements.push(`The ${ROLE_WORDS[model.role]} ${model.key ? `at ${model.key} ` : ''}has no sha256 here: ${model.problem}.`);
  }
  // Not the store's description: the same sweep reported from a copy of the store gives the same bytes.
  return { models, statements, sha256Source: 'the artifact store, when this report was written' };
}

/** FID rows record the weights' sha256 the fid step used; say so when the store holds other bytes now. */
function fidMismatches(rows: readonly FidRow[], extractor: ModelEntry): string[] {
  if (!extractor.sha256) return [];
  const used = [...new Set(rows.map((r) => r.weightsSha256).filter((s) => s && s !== extractor.sha256))].sort();
  return used.map((sha) => `The FID rows were computed with extractor weights of sha256 ${sha}; ${extractor.key} holds ${extractor.sha256} now: it was replaced after the FID step.`);
}
