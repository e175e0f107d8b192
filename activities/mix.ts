/**
 * mix: build the training and validation sets of one experiment cell from an original (curated)
 * manifest and a synthetic (generated) manifest, following the paper (§4):
 *
 *   d_total    = p · d_synthetic + (1 − p) · d_original      (per class)
 *   d_train    = (1 − valFraction) · d_total                  (paper: 0.85)
 *   d_validate = valFraction · d_total                        (paper: 0.15)
 *
 * Per class c with n_c originals (the curated `perClass`, e.g. 700):
 *   nSynthetic = roundHalfUp(p · n_c), nOriginal = n_c − nSynthetic   (p = 0.25, n = 700 → 175 + 525;
 *   p = 0.5, n = 7 → 4 synthetic + 3 original: halves round UP, towards synthetic);
 *   nVal = roundHalfUp(valFraction · |d_total,c|), nTrain = |d_total,c| − nVal.
 *
 * Arms: `mixed` (synthetic + original) and `only-original` (just the nOriginal originals, split the
 * same way: the paper's "Only original" line, a smaller set). Samples are nested across p: per class
 * the originals and the synthetic images are each put in one seeded order (independent of p and of
 * the arm) and the first nOriginal / nSynthetic are taken, so the originals used at p = 0.5 are a
 * subset of those at p = 0.25, and both arms of one p use the very same originals.
 * The train/val split is a seeded shuffle per class (stratified by construction).
 * `realValidation: true` draws the validation images from the originals of d_total only (needs
 * nOriginal ≥ nVal for every class; BadInputError otherwise, e.g. p = 1).
 *
 * Mode `balance` (for imbalanced datasets): p is ignored; every class below `target` (default: the
 * largest class) is filled up to it with synthetic images; classes at or above it keep all their
 * originals.
 *
 * Memoized (lib/memo.ts) by a hash of (both manifest sha256s, every option, code version):
 * `<outputPrefix>/<hash>/{train,val,result}.json`; a result whose manifests are not intact is recomputed.
 */
import { BadInputError } from '../lib/errors.js';
import { activityContext, type ActivityDeps } from '../lib/deps.js';
import { memoize, type StepTiming } from '../lib/memo.js';
import {
  assertManifestRef,
  compareStrings,
  itemsByClass,
  makeManifest,
  readManifest,
  writeManifest,
  type Manifest,
  type ManifestItem,
  type ManifestRef,
} from '../lib/data/manifest.js';
import { portion } from '../lib/data/rounding.js';
import { createRng, deriveSeed } from '../lib/random.js';
import type { ArtifactStore } from '../lib/store/types.js';

/** The paper's validation fraction (val_percent = 0.85 for train). */
export const DEFAULT_VAL_FRACTION = 0.15;

export type MixArm = 'mixed' | 'only-original';
export type MixMode = 'mix' | 'balance';

export interface MixInput {
  /** Curated originals (a `train` manifest from curate). */
  readonly original: ManifestRef;
  /** Generated images (same manifest format; needed whenever synthetic images are drawn). */
  readonly synthetic?: ManifestRef;
  /** Synthetic proportion in [0, 1] (mode `mix`). */
  readonly p: number;
  readonly arm: MixArm;
  readonly seed: number;
  /** Fraction of d_total per class that goes to validation (default 0.15). */
  readonly valFraction?: number;
  /** Validation only from real images (default false). */
  readonly realValidation?: boolean;
  /** Default `mix`. */
  readonly mode?: MixMode;
  /** Mode `balance`: per-class target count (default: the largest original class). */
  readonly target?: number;
  /** Default `mix`. */
  readonly outputPrefix?: string;
}

export interface MixClassCounts {
  /** Originals available in the input manifest (n_c). */
  readonly available: number;
  /** Drawn into d_total. */
  readonly original: number;
  readonly synthetic: number;
  readonly train: number;
  readonly val: number;
  readonly trainSynthetic: number;
  readonly valSynthetic: number;
}

export interface MixResult {
  readonly train: ManifestRef;
  readonly val: ManifestRef;
  readonly classes: string[];
  readonly counts: Record<string, MixClassCounts>;
  readonly p: number;
  readonly arm: MixArm;
  readonly mode: MixMode;
  readonly inputHash: string;
  /** False when an earlier complete run was returned without work (lib/memo.ts). */
  readonly computed: boolean;
  readonly wallMs: number;
}

export interface MixDeps {
  readonly store: ArtifactStore;
}

interface Options {
  readonly p: number;
  readonly arm: MixArm;
  readonly seed: number;
  readonly valFraction: number;
  readonly realValidation: boolean;
  readonly mode: MixMode;
  readonly target: number | null;
  readonly outputPrefix: string;
}

function checkInput(input: MixInput): Options {
  if (!input || typeof input !== 'object') throw new BadInputError('mix: input must be an object');
  assertManifestRef(input.original, 'mix: original');
  if (input.synthetic !== undefined) assertManifestRef(input.synthetic, 'mix: synthetic');
  const mode = input.mode ?? 'mix';
  if (mode !== 'mix' && mode !== 'balance') throw new BadInputError(`mix: mode must be "mix" or "balance", got ${JSON.stringify(mode)}`);
  const p = input.p;
  if (mode === 'mix' && (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1)) {
    throw new BadInputError(`mix: p must be a number in [0, 1], got p=${JSON.stringify(p)}`);
  }
  const arm = input.arm;
  if (arm !== 'mixed' && arm !== 'only-original') throw new BadInputError(`mix: arm must be "mixed" or "only-original", got ${JSON.stringify(arm)}`);
  if (typeof input.seed !== 'number' || !Number.isSafeInteger(input.seed)) throw new BadInputError(`mix: seed must be a safe integer, got ${JSON.stringify(input.seed)}`);
  const valFraction = input.valFraction ?? DEFAULT_VAL_FRACTION;
  if (typeof valFraction !== 'number' || !Number.isFinite(valFraction) || valFraction < 0 || valFraction >= 1) {
    throw new BadInputError(`mix: valFraction must be a number in [0, 1), got ${JSON.stringify(valFraction)}`);
  }
  const target = input.target ?? null;
  if (target !== null && (typeof target !== 'number' || !Number.isSafeInteger(target) || target < 1)) {
    throw new BadInputError(`mix: target must be a positive integer, got ${JSON.stringify(target)}`);
  }
  const outputPrefix = (input.outputPrefix ?? 'mix').replace(/\/+$/, '');
  if (outputPrefix === '' || outputPrefix.startsWith('/') || outputPrefix.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new BadInputError(`mix: outputPrefix ${JSON.stringify(input.outputPrefix)} is not a safe store prefix`);
  }
  return {
    p: mode === 'mix' ? p : 0,
    arm,
    seed: input.seed,
    valFraction,
    realValidation: input.realValidation ?? false,
    mode,
    target: mode === 'balance' ? target : null,
    outputPrefix,
  };
}

/** How many synthetic images class c gets in d_total (mode mix): roundHalfUp(p · n). */
export function syntheticCount(p: number, n: number): number {
  return portion(p, n);
}

/** How many of `total` images go to validation: roundHalfUp(valFraction · total). */
export function validationCount(valFraction: number, total: number): number {
  return portion(valFraction, total);
}

/** The per-class plan before sampling. */
interface ClassPlan {
  readonly available: number;
  readonly nOriginal: number;
  readonly nSynthetic: number;
}

function plan(opts: Options, originals: Map<string, ManifestItem[]>): Map<string, ClassPlan> {
  const plans = new Map<string, ClassPlan>();
  const largest = Math.max(0, ...[...originals.values()].map((items) => items.length));
  for (const [cls, items] of originals) {
    const n = items.length;
    if (opts.mode === 'mix') {
      const nSyntheticFull = syntheticCount(opts.p, n);
      plans.set(cls, { available: n, nOriginal: n - nSyntheticFull, nSynthetic: opts.arm === 'mixed' ? nSyntheticFull : 0 });
    } else {
      const target = opts.target ?? largest;
      const fill = Math.max(0, target - n);
      plans.set(cls, { available: n, nOriginal: n, nSynthetic: opts.arm === 'mixed' ? fill : 0 });
    }
  }
  return plans;
}

/** The mix step. See the module comment. */
export async function mix(input: MixInput, deps: MixDeps): Promise<MixResult> {
  const opts = checkInput(input);
  const key = {
    original: input.original.sha256,
    // The only-original arm never reads the synthetic set: its cells are shared by every source.
    synthetic: opts.arm === 'only-original' ? null : (input.synthetic?.sha256 ?? null),
    options: { ...opts, outputPrefix: undefined },
  };
  return memoize(deps.store, 'mix', key, (base, inputHash) => mixOnce(input, opts, deps.store, base, inputHash), {
    under: opts.outputPrefix,
    references: (r) => [r.train, r.val],
  });
}

/** The work of a mix call that its memo did not answer. */
async function mixOnce(input: MixInput, opts: Options, store: ArtifactStore, base: string, inputHash: string): Promise<Omit<MixResult, keyof StepTiming>> {
  const original = await readManifest(store, input.original);
  const originals = itemsByClass(original);
  const plans = plan(opts, originals);
  const needSynthetic = [...plans.values()].some((pl) => pl.nSynthetic > 0);

  let synthetic: Manifest | undefined;
  const syntheticPools = new Map<string, ManifestItem[]>();
  if (needSynthetic) {
    if (!input.synthetic) {
      throw new BadInputError(`mix: p=${opts.p} with arm "${opts.arm}" (mode ${opts.mode}) draws synthetic images, but no synthetic manifest was given`);
    }
    synthetic = await readManifest(store, input.synthetic);
    if (synthetic.imageSize !== original.imageSize) {
      throw new BadInputError(`mix: synthetic manifest ${input.synthetic.key} has imageSize ${synthetic.imageSize}, the original ${input.original.key} has ${original.imageSize}`);
    }
    // A synthetic image identical to an original (or to another synthetic one) would be a duplicate.
    const seen = new Set(original.items.map((it) => it.sha256));
    for (const [cls, items] of itemsByClass(synthetic)) {
      const pool: ManifestItem[] = [];
      for (const it of items) {
        if (seen.has(it.sha256)) continue;
        seen.add(it.sha256);
        pool.push(it);
      }
      syntheticPools.set(cls, pool);
    }
    const short: string[] = [];
    for (const [cls, pl] of plans) {
      const have = syntheticPools.get(cls)?.length ?? 0;
      if (pl.nSynthetic > have) {
        const listed = synthetic.items.filter((i) => i.class === cls).length;
        const unique = have !== listed ? ` (${listed} listed, ${listed - have} duplicates of other images)` : '';
        short.push(`class ${JSON.stringify(cls)}: needs ${pl.nSynthetic} synthetic images, the synthetic manifest has ${have}${unique}`);
      }
    }
    if (short.length > 0) {
      throw new BadInputError(`mix: not enough synthetic images (p=${opts.p}, mode ${opts.mode}, synthetic ${input.synthetic.key}):\n  ${short.join('\n  ')}`);
    }
  }

  const trainItems: ManifestItem[] = [];
  const valItems: ManifestItem[] = [];
  const counts: Record<string, MixClassCounts> = {};
  const classes = [...plans.keys()].sort(compareStrings);
  const realValShort: string[] = [];
  for (const cls of classes) {
    const pl = plans.get(cls)!;
    // One fixed order per class and pool (independent of p and arm): samples nest across p.
    const origOrder = createRng(deriveSeed(opts.seed, 'mix', 'original', cls)).shuffled(originals.get(cls)!);
    const synOrder = pl.nSynthetic > 0 ? createRng(deriveSeed(opts.seed, 'mix', 'synthetic', cls)).shuffled(syntheticPools.get(cls)!) : [];
    const origPart = origOrder.slice(0, pl.nOriginal).map((it) => withOrigin(it, 'original'));
    const synPart = synOrder.slice(0, pl.nSynthetic).map((it) => withOrigin(it, 'synthetic'));
    const total = origPart.length + synPart.length;
    const nVal = validationCount(opts.valFraction, total);
    const splitRng = createRng(deriveSeed(opts.seed, 'mix', 'split', cls, opts.realValidation ? 'real-val' : 'any-val'));
    let val: ManifestItem[];
    let train: ManifestItem[];
    if (opts.realValidation) {
      if (origPart.length < nVal) {
        realValShort.push(`class ${JSON.stringify(cls)}: ${nVal} validation images needed, only ${origPart.length} originals in d_total`);
        continue;
      }
      const shuffledOrig = splitRng.shuffled(origPart);
      val = shuffledOrig.slice(0, nVal);
      train = [...shuffledOrig.slice(nVal), ...synPart];
    } else {
      const all = splitRng.shuffled([...origPart, ...synPart]);
      val = all.slice(0, nVal);
      train = all.slice(nVal);
    }
    trainItems.push(...train);
    valItems.push(...val);
    counts[cls] = {
      available: pl.available,
      original: origPart.length,
      synthetic: synPart.length,
      train: train.length,
      val: val.length,
      trainSynthetic: train.filter((it) => it.origin === 'synthetic').length,
      valSynthetic: val.filter((it) => it.origin === 'synthetic').length,
    };
  }
  if (realValShort.length > 0) {
    throw new BadInputError(`mix: realValidation needs enough originals in d_total (p=${opts.p}):\n  ${realValShort.join('\n  ')}`);
  }

  const trainManifest = makeManifest('train', original.imageSize, classes, trainItems);
  const valManifest = makeManifest('val', original.imageSize, classes, valItems);
  const train = await writeManifest(store, `${base}/train.json`, trainManifest);
  const val = await writeManifest(store, `${base}/val.json`, valManifest);
  return { train, val, classes, counts, p: opts.p, arm: opts.arm, mode: opts.mode, inputHash };
}

function withOrigin(item: ManifestItem, origin: 'original' | 'synthetic'): ManifestItem {
  return { ...item, origin };
}

/** Activities for a worker: `Worker.create({ activities: { ...createMixActivities(deps) } })`. */
export function createMixActivities({ store }: Pick<ActivityDeps, 'store'>) {
  return {
    async mix(input: MixInput): Promise<MixResult> {
      activityContext()?.heartbeat({ phase: 'mix' });
      return mix(input, { store });
    },
  };
}
