/**
 * The one memoization of every graph step (DESIGN §2 "Memoization"). A step's outputs live under a
 * prefix derived from a hash of its inputs and code version; its result is written last, as the
 * completion marker, to `<prefix>/result.json` (with the computing call's `{ computed: true, wallMs }`). A later call with the same inputs returns that
 * result at once, after checking that the objects it references are still in the store with the
 * bytes it recorded: a missing or corrupt one makes the result a miss, recomputed (the step is
 * deterministic, so the outputs are the same), never a permanent failure.
 *
 * Every step reports `{ computed, wallMs }`: whether this call computed (false: an earlier complete
 * run was returned) and how long the call took.
 *
 * Shared use (issue 14): two sweeps computing the same step at once, or a zombie attempt after a
 * heartbeat timeout, write the same keys. So the marker is published with one conditional write
 * (of two writers exactly one wins; the loser returns the winner's result), and it pins the sha256
 * of every object it references as the store recorded them at publish time: if another writer's
 * bytes replace one of them later, the marker no longer matches and is a miss (recomputed), never a
 * description of other bytes. Store objects a step reads by name (`reads`: weights, model folders)
 * have their sha256 hashed into the step's key, so weights replaced under the same name are a new
 * step, never silently reused.
 */
import { createHash } from 'node:crypto';
import { CorruptObjectError, NotFoundError } from './errors.js';
import { hashJson } from './hash.js';
import { IMAGE_CODE_VERSION } from './images/png.js';
import { loopBeat } from './heartbeat.js';
import { folderPrefix } from './store/common.js';
import type { ArtifactStore } from './store/types.js';
import { recordWrites } from './store/write-log.js';

/**
 * Bumped when a step's code changes what it computes: part of every output key, so old outputs
 * are not reused by new code. One entry per memoized step.
 */
export const CODE_VERSIONS = {
  /** curate writes normalised images: the image code (and libvips) version is part of its own. */
  curate: `curate-v1+${IMAGE_CODE_VERSION}`,
  mix: 'mix-v1',
  'pretrain-generator': '1',
  finetune: '2', // 2: SD class images sample with the folder's scheduler and latent settings, at generator.resolution
  generate: '3', // 3: sampler by name (SD: the folder's, not DDIM); images normalized as curated originals (lib/images/normalize.ts)
  'replicate-finetune': '1',
  'replicate-generate': '1',
  fid: '3', // 2: KID subset size capped to half the smaller set when it did not fit; 3: KID and FID (basic bootstrap) intervals over images
  train: '1',
  evaluate: '2', // 2: evaluation.json has labels and predictions per test image
  'llm-prompts': '1',
  'clip-zero-shot': '1',
} as const;

export type StepName = keyof typeof CODE_VERSIONS;

/** What every step returns besides its own result. */
export interface StepTiming {
  /** False when an earlier complete run's result was returned without recomputing. */
  computed: boolean;
  /** Wall time of this call (of the lookup alone when nothing was computed). */
  wallMs: number;
}

/** An object a memoized result points at; with a sha256 its bytes are checked, else only that it exists. */
export interface MemoReference {
  key: string;
  sha256?: string;
}

export interface MemoOptions<T> {
  /**
   * Where the step's outputs go: `<under>/<hash of { code, ...inputs }>` instead of the default
   * `steps/<step>/<hash>`. curate and mix keep the folders they had before this module, so the
   * outputs already in stores (and the shipped generator, trained on curate's output) are found.
   */
  under?: string;
  /** The objects of a result that must still be intact for it to be reused. */
  references?: (value: T) => ReadonlyArray<MemoReference>;
  /** When the step began (default: now), for `wallMs` when it did work before the lookup. */
  startedAt?: number;
  /**
   * Store objects the step reads by name: their content (sha256; for a prefix, every key below it
   * with its sha256) is part of the step's key. Undefined entries are skipped.
   */
  reads?: { keys?: ReadonlyArray<string | undefined>; prefixes?: ReadonlyArray<string | undefined> };
}

/** The field of a stored marker that pins its references' sha256s (stripped from what memoize returns). */
const PINS = 'memoPins';

/** What `reads` names, by content: key → sha256 (null: absent), prefix → [[relative key, sha256]...]. */
async function readContents(store: ArtifactStore, reads: NonNullable<MemoOptions<object>['reads']>): Promise<Record<string, unknown>> {
  const keys: Record<string, string | null> = {};
  for (const key of reads.keys ?? []) if (key !== undefined) keys[key] = (await store.stat(key))?.sha256 ?? null;
  const prefixes: Record<string, Array<[string, string]>> = {};
  for (const raw of reads.prefixes ?? []) {
    if (raw === undefined) continue;
    const prefix = folderPrefix(raw);
    prefixes[prefix] = (await store.list(prefix)).map((o) => [o.key.slice(prefix.length), o.sha256]);
  }
  return { keys, prefixes };
}

/** Where a step's outputs for these inputs live: `steps/<step>/<hash of inputs + code version>`. */
export function stepPrefix(step: StepName, inputs: unknown): string {
  return `steps/${step}/${hashJson({ step, codeVersion: CODE_VERSIONS[step], inputs })}`;
}

/**
 * Where `memoize` puts a step's outputs for these inputs and options (`under`, `reads`): so a caller
 * that must know the folder before the step runs (the shipped models: infra/ship-pretrained.ts, its
 * test) computes it the one way memoize does.
 */
export async function memoPrefix(store: ArtifactStore, step: StepName, inputs: unknown, options: Pick<MemoOptions<object>, 'under' | 'reads'> = {}): Promise<string> {
  // Steps without `reads` keep the keys they had (the shipped generator is found by its pretrain key).
  const keyed = options.reads ? { inputs, reads: await readContents(store, options.reads) } : inputs;
  if (options.under !== undefined) return `${options.under}/${hashJson({ code: CODE_VERSIONS[step], ...(keyed as object) })}`;
  return stepPrefix(step, keyed);
}

/**
 * Run `compute` once per distinct (step, inputs): see the module comment. `compute` gets the
 * output prefix and the inputs' hash (its last segment). Outputs written under the prefix by an
 * interrupted attempt are simply overwritten.
 */
export async function memoize<T extends object>(
  store: ArtifactStore,
  step: StepName,
  inputs: unknown,
  compute: (prefix: string, hash: string) => Promise<T>,
  options: MemoOptions<T> = {},
): Promise<T & StepTiming> {
  const started = options.startedAt ?? Date.now();
  const prefix = await memoPrefix(store, step, inputs, options);
  const hash = prefix.slice(prefix.lastIndexOf('/') + 1);
  const marker = `${prefix}/result.json`;
  const earlier = await loadIntact(store, marker, options.references);
  if (earlier) return { ...earlier, computed: false, wallMs: Date.now() - started };
  const { value, writes } = await recordWrites(() => compute(prefix, hash));
  // The record keeps how it was made: computed, and the computing call's wall time.
  const result = { ...value, computed: true, wallMs: Date.now() - started };
  // Pinned to the bytes this computation wrote (another writer may have replaced them since).
  const record = { ...result, [PINS]: await pinReferences(store, options.references?.(result) ?? [], writes) };
  if (await store.putJsonIfAbsent(marker, record)) return result;
  // Another writer published first: its result stands if its bytes are still the ones it pinned.
  const winner = await loadIntact(store, marker, options.references);
  if (winner) return { ...winner, computed: true, wallMs: Date.now() - started };
  // What is there is damaged, or its bytes were replaced (by ours): publish ours, pinned to what is stored now.
  await store.putJson(marker, record);
  return result;
}

/**
 * The sha256 of each referenced object: its own, else what this computation wrote under its key,
 * else (an object the step did not write, e.g. reused) what the store records now.
 */
async function pinReferences(store: ArtifactStore, refs: ReadonlyArray<MemoReference>, writes: ReadonlyMap<string, string>): Promise<Record<string, string>> {
  const pins: Record<string, string> = {};
  for (const ref of refs) {
    const sha = ref.sha256 ?? writes.get(ref.key) ?? (await store.stat(ref.key))?.sha256;
    if (sha !== undefined) pins[ref.key] = sha;
  }
  return pins;
}

/** The stored result if it and every object it references are intact; undefined (a miss) otherwise. */
async function loadIntact<T>(store: ArtifactStore, marker: string, references: MemoOptions<T>['references']): Promise<T | undefined> {
  try {
    if (!(await store.exists(marker))) return undefined;
    const { [PINS]: pins, ...value } = await store.getJson<T & { [PINS]?: Record<string, string> }>(marker);
    const refs = references?.(value as T) ?? [];
    for (const [index, ref] of refs.entries()) {
      if (!(await isIntact(store, ref, pins?.[ref.key]))) return undefined;
      loopBeat('check-references', index + 1, refs.length);
    }
    return value as T;
  } catch (error) {
    // A damaged earlier run is recomputed, never trusted; a store outage is thrown (retried).
    if (error instanceof CorruptObjectError || error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/**
 * A reference without its own sha256 is checked against the sha256 pinned at publish time (the
 * store's record, a head: cheap); markers written before pins existed are checked for presence.
 */
async function isIntact(store: ArtifactStore, ref: MemoReference, pinned: string | undefined): Promise<boolean> {
  if (ref.sha256 === undefined) {
    if (pinned === undefined) return store.exists(ref.key);
    return (await store.stat(ref.key))?.sha256 === pinned;
  }
  const info = await store.stat(ref.key);
  if (!info || info.sha256 !== ref.sha256) return false;
  // The recorded hash matches: read the bytes through (the store verifies them as they stream).
  const hash = createHash('sha256');
  for await (const chunk of await store.getStream(ref.key)) hash.update(chunk as Buffer);
  return hash.digest('hex') === ref.sha256;
}
