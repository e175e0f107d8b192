/**
 * The curate step's contract (activities/curate.ts computes it; workflows and lib/sweep build its
 * inputs): what it reads, what it returns, and the curation report it writes.
 */
import { BadInputError } from '../errors.js';
import { checkNormalizeOptions, type AlphaBackground, type ColourPolicy, type ImageRejectReason, type ResizePolicy } from '../images/normalize.js';
import type { ManifestRef } from '../data/manifest.js';
import { assertDatasetSource, type DatasetSource, type ListingRejectReason } from '../data/source.js';
import type { DemoPreset } from '../data/demo-world.js';

/** What to do when a class has fewer usable images than asked for. */
export type TooFewPolicy = 'error' | 'all';

export interface CurateInput {
  /** The dataset: `<root>/<class>/<files>`. */
  readonly source: DatasetSource;
  /** A separate test set with the same layout; without it the test set is split off `source` first. */
  readonly testSource?: DatasetSource;
  /** Train originals per class (paper: 700). */
  readonly perClass: number;
  /** Test images per class (paper: 300). 0 gives an empty test manifest. */
  readonly testPerClass: number;
  readonly seed: number;
  /** Output side, pixels (default 32). */
  readonly imageSize?: number;
  /** Default `center-crop`. */
  readonly resize?: ResizePolicy;
  /** Transparent pixels are flattened onto this (default `black`). */
  readonly alphaBackground?: AlphaBackground;
  /** `convert` (default: grey/palette/CMYK/16-bit become 8-bit RGB) or `rgb-only` (reject them). */
  readonly colour?: ColourPolicy;
  /** Also reject images that decode only with warnings. Default false. */
  readonly strict?: boolean;
  /** Default `error`: a class with too few usable images fails the step (BadInputError naming it). */
  readonly tooFew?: TooFewPolicy;
  /** Where manifests and the report go (default `curate`). */
  readonly outputPrefix?: string;
  /** Where the images go, content-addressed (default `images`). */
  readonly imagePrefix?: string;
  /** Files processed at once (default 4). */
  readonly concurrency?: number;
}

export interface ClassCounts {
  readonly train: number;
  readonly test: number;
}

export interface CurateResult {
  readonly trainManifest: ManifestRef;
  readonly testManifest: ManifestRef;
  /** Classes that survived, sorted. */
  readonly classes: string[];
  readonly counts: Record<string, ClassCounts>;
  /** How many files were rejected (details in the report). */
  readonly rejected: number;
  readonly reportKey: string;
  /** The memoization hash; outputs live under `<outputPrefix>/<inputHash>/`. */
  readonly inputHash: string;
  /** False when an earlier complete run was returned without work (lib/memo.ts). */
  readonly computed: boolean;
  readonly wallMs: number;
}

export type RejectReason = ImageRejectReason | ListingRejectReason | 'duplicate' | 'class-only-in-test-source';

export interface RejectedFile {
  /** Which input it came from. */
  readonly from: 'source' | 'testSource';
  /** Relative to that input's root. */
  readonly path: string;
  readonly class?: string;
  readonly reason: RejectReason;
  readonly detail: string;
}

export interface ClassReport {
  /** Candidate image files found (right place and extension). */
  readonly files: number;
  /** Of them, usable (decoded, not duplicates). */
  readonly usable: number;
  readonly testFiles?: number;
  readonly testUsable?: number;
  readonly train: number;
  readonly test: number;
  readonly dropped?: string;
}

export interface CurationReport {
  readonly version: 1;
  readonly codeVersion: string;
  readonly inputHash: string;
  readonly options: Record<string, unknown>;
  readonly classes: string[];
  readonly perClass: Record<string, ClassReport>;
  readonly rejectedByReason: Record<string, number>;
  readonly rejected: RejectedFile[];
}

export interface CurateProgress {
  readonly phase: 'list' | 'decode' | 'write' | 'done';
  readonly done: number;
  readonly total: number;
}

/** A dataset source as a sweep config names it: a folder, a store prefix, or the demo world. */
export type SweepImageSource = DatasetSource | { kind: 'demo'; domain: 'prior' | 'target' };

/** `curateDataset` (activities/dataset.ts): curate, with the demo world drawn first when asked for. */
export interface CurateDatasetInput extends Omit<CurateInput, 'source' | 'testSource'> {
  source: SweepImageSource;
  testSource?: SweepImageSource;
  demoPreset: DemoPreset;
}

/** A curate input checked, with its defaults filled. */
export interface CurateOptions {
  readonly perClass: number;
  readonly testPerClass: number;
  readonly seed: number;
  readonly imageSize: number;
  readonly resize: ResizePolicy;
  readonly alphaBackground: AlphaBackground;
  readonly colour: ColourPolicy;
  readonly strict: boolean;
  readonly maxInputPixels: number;
  readonly tooFew: TooFewPolicy;
  readonly outputPrefix: string;
  readonly imagePrefix: string;
  readonly concurrency: number;
}

/** Check a curate input (BadInputError naming the field) and fill its defaults. */
export function checkCurateInput(input: CurateInput): CurateOptions {
  if (!input || typeof input !== 'object') throw new BadInputError('curate: input must be an object');
  assertDatasetSource(input.source, 'source');
  if (input.testSource !== undefined) assertDatasetSource(input.testSource, 'testSource');
  const int = (v: unknown, field: string, min: number): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new BadInputError(`curate: ${field} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  const perClass = int(input.perClass, 'perClass', 1);
  const testPerClass = int(input.testPerClass, 'testPerClass', 0);
  const seed = int(input.seed, 'seed', Number.MIN_SAFE_INTEGER);
  const concurrency = int(input.concurrency ?? 4, 'concurrency', 1);
  const tooFew = input.tooFew ?? 'error';
  if (tooFew !== 'error' && tooFew !== 'all') throw new BadInputError(`curate: tooFew must be "error" or "all", got ${JSON.stringify(tooFew)}`);
  let image;
  try {
    image = checkNormalizeOptions({
      imageSize: input.imageSize ?? 32,
      resize: input.resize,
      alphaBackground: input.alphaBackground,
      colour: input.colour,
      strict: input.strict,
    });
  } catch (error) {
    throw new BadInputError(`curate: ${error instanceof Error ? error.message : String(error)}`);
  }
  const prefix = (v: string | undefined, fallback: string, field: string): string => {
    const p = (v ?? fallback).replace(/\/+$/, '');
    if (p === '' || p.startsWith('/') || p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new BadInputError(`curate: ${field} ${JSON.stringify(v)} is not a safe store prefix`);
    }
    return p;
  };
  return {
    perClass,
    testPerClass,
    seed,
    ...image,
    tooFew,
    outputPrefix: prefix(input.outputPrefix, 'curate', 'outputPrefix'),
    imagePrefix: prefix(input.imagePrefix, 'images', 'imagePrefix'),
    concurrency,
  };
}
