// Over 400 lines: curate() is one pass (list, decode, dedupe, split, store) whose stages share its counters and report.
/**
 * curate: read an image-folder dataset (`<root>/<class>/*.{png,jpg,jpeg,webp}`) from disk or a store
 * prefix, validate and normalise every file, drop and report the bad and duplicate ones, balance to
 * `perClass` train and `testPerClass` test images per class (seeded), write each kept image once,
 * content-addressed, and write one manifest per split plus a curation report.
 *
 * Memoized: outputs live under `<outputPrefix>/<inputHash>/` where inputHash covers the listing
 * of the source(s) (relative paths, sha256s, sizes), every option that changes the output and the
 * code version. A complete earlier run (its `result.json`, written last) is returned as is.
 *
 * Use `curate(input, { store })` directly, or `createCurateActivities(store)` to register the
 * activity with a worker (it heartbeats progress and follows cancellation when run in an activity).
 */
import { Context } from '@temporalio/activity';
import { BadInputError, CorruptObjectError, NotFoundError, SynthmixError } from '../lib/errors.js';
import { hashJson, sha256Hex, stableStringify } from '../lib/hash.js';
import { IMAGE_CODE_VERSION } from '../lib/images/png.js';
import {
  checkNormalizeOptions,
  normalizeImage,
  type AlphaBackground,
  type ColourPolicy,
  type ImageRejectReason,
  type ResizePolicy,
} from '../lib/images/normalize.js';
import {
  compareStrings,
  makeManifest,
  writeManifest,
  type ManifestItem,
  type ManifestRef,
} from '../lib/data/manifest.js';
import { mapLimit } from '../lib/concurrency.js';
import { portion } from '../lib/data/rounding.js';
import { assertDatasetSource, listSource, type DatasetSource, type ListedFile, type ListingRejectReason, type SourceListing } from '../lib/data/source.js';
import { createRng, deriveSeed } from '../lib/random.js';
import type { ArtifactStore } from '../lib/store/types.js';

export type { DatasetSource } from '../lib/data/source.js';

/** Bump when curation logic changes in a way that changes outputs. */
export const CURATE_CODE_VERSION = `curate-v1+${IMAGE_CODE_VERSION}`;

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
  /** True when an earlier complete run was returned without work. */
  readonly reused: boolean;
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

export interface CurateDeps {
  readonly store: ArtifactStore;
  readonly onProgress?: (progress: CurateProgress) => void;
  readonly signal?: AbortSignal;
}

interface Options {
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

function checkInput(input: CurateInput): Options {
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

/** A candidate file with where it came from. */
interface Candidate {
  readonly from: 'source' | 'testSource';
  readonly file: ListedFile;
}

/** A decoded, usable image. */
interface Usable {
  readonly from: 'source' | 'testSource';
  readonly file: ListedFile;
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  /** Kept in memory while under the budget; otherwise re-normalised when written. */
  png?: Buffer;
}

/** PNG bytes kept in memory between decoding and writing; beyond it images are decoded again. */
const PNG_MEMORY_BUDGET = 256 * 1024 * 1024;

async function loadMemoized(store: ArtifactStore, resultKey: string): Promise<CurateResult | undefined> {
  try {
    if (!(await store.exists(resultKey))) return undefined;
    const result = await store.getJson<CurateResult>(resultKey);
    for (const ref of [result.trainManifest, result.testManifest]) {
      const info = await store.stat(ref.key);
      if (!info || info.sha256 !== ref.sha256) return undefined;
    }
    if (!(await store.exists(result.reportKey))) return undefined;
    return { ...result, reused: true };
  } catch (error) {
    // A damaged earlier run is recomputed, never trusted.
    if (error instanceof CorruptObjectError || error instanceof NotFoundError || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** The curation step. See the module comment. */
export async function curate(input: CurateInput, deps: CurateDeps): Promise<CurateResult> {
  const opts = checkInput(input);
  const { store, onProgress, signal } = deps;
  const progress = (phase: CurateProgress['phase'], done: number, total: number): void => onProgress?.({ phase, done, total });

  progress('list', 0, 1);
  const listing = await listSource(input.source, store, 'source');
  const testListing = input.testSource ? await listSource(input.testSource, store, 'testSource') : undefined;
  progress('list', 1, 1);

  const hashedOptions = {
    perClass: opts.perClass,
    testPerClass: opts.testPerClass,
    seed: opts.seed,
    imageSize: opts.imageSize,
    resize: opts.resize,
    alphaBackground: opts.alphaBackground,
    colour: opts.colour,
    strict: opts.strict,
    maxInputPixels: opts.maxInputPixels,
    tooFew: opts.tooFew,
    imagePrefix: opts.imagePrefix,
  };
  const inputHash = hashJson({
    code: CURATE_CODE_VERSION,
    source: listing.hash,
    testSource: testListing?.hash ?? null,
    options: hashedOptions,
  });
  const base = `${opts.outputPrefix}/${inputHash}`;
  const resultKey = `${base}/result.json`;
  const memo = await loadMemoized(store, resultKey);
  if (memo) {
    progress('done', 1, 1);
    return memo;
  }

  const rejected: RejectedFile[] = [];
  const addListingRejections = (from: RejectedFile['from'], l: SourceListing): void => {
    for (const r of l.rejected) rejected.push({ from, path: r.relPath, ...(r.class ? { class: r.class } : {}), reason: r.reason, detail: r.detail });
  };
  addListingRejections('source', listing);
  if (testListing) addListingRejections('testSource', testListing);

  // Candidates in priority order: the explicit test set first (a train image equal to a test image is
  // the one dropped, so the test set stays as given), then the source; each sorted by path.
  const candidates: Candidate[] = [
    ...(testListing?.files ?? []).map((file) => ({ from: 'testSource' as const, file })),
    ...listing.files.map((file) => ({ from: 'source' as const, file })),
  ];
  const label = (c: { from: RejectedFile['from']; file: ListedFile }): string => (c.from === 'testSource' ? `test source ${c.file.relPath}` : c.file.relPath);

  // 1. Exact byte duplicates (from the listing hashes, no decoding needed).
  const firstByBytes = new Map<string, Candidate>();
  const unique: Candidate[] = [];
  for (const c of candidates) {
    const first = firstByBytes.get(c.file.sha256);
    if (first) {
      rejected.push({ from: c.from, path: c.file.relPath, class: c.file.class, reason: 'duplicate', detail: `same bytes as ${label(first)}` });
    } else {
      firstByBytes.set(c.file.sha256, c);
      unique.push(c);
    }
  }

  // 2. Decode and normalise (bounded concurrency; sharp itself is multi-threaded).
  const normalizeOptions = { imageSize: opts.imageSize, resize: opts.resize, alphaBackground: opts.alphaBackground, colour: opts.colour, strict: opts.strict, maxInputPixels: opts.maxInputPixels };
  let done = 0;
  let retainedBytes = 0;
  const decoded = await mapLimit(
    unique,
    opts.concurrency,
    async (c): Promise<Usable | RejectedFile> => {
      let bytes: Buffer;
      try {
        bytes = await c.file.read();
      } catch (error) {
        if (error instanceof SynthmixError && !error.nonRetryable) throw error; // store down: retry the step
        progress('decode', ++done, unique.length);
        return { from: c.from, path: c.file.relPath, class: c.file.class, reason: 'unreadable', detail: error instanceof Error ? error.message : String(error) };
      }
      if (sha256Hex(bytes) !== c.file.sha256) {
        // Retryable on purpose: the listing (and so the memo key) is stale; a new attempt lists again.
        throw new Error(`curate: ${label(c)} changed while curating (sha256 differs from the listing); retry`);
      }
      const result = await normalizeImage(bytes, normalizeOptions);
      progress('decode', ++done, unique.length);
      if (!result.ok) return { from: c.from, path: c.file.relPath, class: c.file.class, reason: result.reason, detail: result.detail };
      const usable: Usable = { from: c.from, file: c.file, sha256: result.sha256, width: result.width, height: result.height };
      if (retainedBytes + result.png.length <= PNG_MEMORY_BUDGET) {
        retainedBytes += result.png.length;
        usable.png = result.png;
      }
      return usable;
    },
    signal,
  );

  // 3. Duplicates after normalisation (same picture in two encodings, or two sizes that shrink alike).
  const firstByImage = new Map<string, Usable>();
  const usable: Usable[] = [];
  for (const d of decoded) {
    if ('reason' in d) {
      rejected.push(d);
      continue;
    }
    const first = firstByImage.get(d.sha256);
    if (first) {
      rejected.push({ from: d.from, path: d.file.relPath, class: d.file.class, reason: 'duplicate', detail: `same normalised image as ${label(first)}` });
    } else {
      firstByImage.set(d.sha256, d);
      usable.push(d);
    }
  }

  // 4. Per class: split (if no test source) and balance, seeded.
  const pools = new Map<string, { source: Usable[]; test: Usable[]; files: number; testFiles: number }>();
  const pool = (cls: string) => {
    let p = pools.get(cls);
    if (!p) pools.set(cls, (p = { source: [], test: [], files: 0, testFiles: 0 }));
    return p;
  };
  for (const cls of listing.classes) pool(cls);
  for (const f of listing.files) pool(f.class).files++;
  for (const u of usable) {
    if (u.from === 'source') pool(u.file.class).source.push(u);
  }
  const testOnlyClasses: string[] = [];
  if (testListing) {
    for (const f of testListing.files) {
      if (pools.has(f.class)) pool(f.class).testFiles++;
      else if (!testOnlyClasses.includes(f.class)) testOnlyClasses.push(f.class);
    }
    for (const u of usable) {
      if (u.from !== 'testSource') continue;
      if (pools.has(u.file.class)) pool(u.file.class).test.push(u);
      else rejected.push({ from: 'testSource', path: u.file.relPath, class: u.file.class, reason: 'class-only-in-test-source', detail: `class ${JSON.stringify(u.file.class)} has no folder in the source` });
    }
  }

  const classesSorted = [...pools.keys()].sort(compareStrings);
  const shortfalls: string[] = [];
  const selections = new Map<string, { train: Usable[]; test: Usable[] }>();
  const perClassReport: Record<string, ClassReport> = {};
  for (const cls of classesSorted) {
    const p = pools.get(cls)!;
    const rng = createRng(deriveSeed(opts.seed, 'curate', cls));
    let train: Usable[];
    let test: Usable[];
    if (!testListing) {
      const need = opts.perClass + opts.testPerClass;
      if (p.source.length >= need) {
        const sample = rng.sampleWithoutReplacement(p.source, need);
        test = sample.slice(0, opts.testPerClass);
        train = sample.slice(opts.testPerClass);
      } else {
        shortfalls.push(
          `class ${JSON.stringify(cls)}: ${p.source.length} usable images (${p.files} image files, ${p.files - p.source.length} rejected), need ${need} (perClass ${opts.perClass} + testPerClass ${opts.testPerClass})`,
        );
        // Policy `all`: keep every image, split in the requested proportion (test rounded half up).
        const all = rng.shuffled(p.source);
        const nTest = portion(opts.testPerClass / need, all.length);
        test = all.slice(0, nTest);
        train = all.slice(nTest);
      }
    } else {
      const trainRng = createRng(deriveSeed(opts.seed, 'curate', 'train', cls));
      const testRng = createRng(deriveSeed(opts.seed, 'curate', 'test', cls));
      if (p.source.length < opts.perClass) {
        shortfalls.push(`class ${JSON.stringify(cls)}: ${p.source.length} usable train images (${p.files} image files, ${p.files - p.source.length} rejected), need perClass ${opts.perClass}`);
      }
      if (p.test.length < opts.testPerClass) {
        shortfalls.push(`class ${JSON.stringify(cls)}: ${p.test.length} usable test images in the test source (${p.testFiles} image files, ${p.testFiles - p.test.length} rejected), need testPerClass ${opts.testPerClass}`);
      }
      train = trainRng.sampleWithoutReplacement(p.source, Math.min(opts.perClass, p.source.length));
      test = testRng.sampleWithoutReplacement(p.test, Math.min(opts.testPerClass, p.test.length));
    }
    const dropped = train.length === 0 ? 'no usable training images' : undefined;
    perClassReport[cls] = {
      files: p.files,
      usable: p.source.length,
      ...(testListing ? { testFiles: p.testFiles, testUsable: p.test.length } : {}),
      train: dropped ? 0 : train.length,
      test: dropped ? 0 : test.length,
      ...(dropped ? { dropped } : {}),
    };
    if (!dropped) selections.set(cls, { train, test });
  }
  if (shortfalls.length > 0 && opts.tooFew === 'error') {
    throw new BadInputError(`curate: too few images (policy tooFew="error"; use "all" to keep what there is):\n  ${shortfalls.join('\n  ')}`);
  }
  if (selections.size === 0) {
    const reasons = summarise(rejected);
    throw new BadInputError(
      `curate: no class survives in ${listing.description}: ${classesSorted.length} class folder(s), ${listing.files.length} candidate file(s), ` +
        `${rejected.length} rejected${reasons ? ` (${reasons})` : ''}`,
    );
  }
  for (const cls of testOnlyClasses) perClassReport[cls] = { files: 0, usable: 0, testFiles: testListing!.files.filter((f) => f.class === cls).length, testUsable: 0, train: 0, test: 0, dropped: 'class only in the test source' };

  // 5. Write the kept images, once each, content-addressed (I/O-bound: twice the decode concurrency).
  const kept = [...selections.values()].flatMap((s) => [...s.train, ...s.test]);
  let written = 0;
  const keys = new Map<Usable, string>();
  await mapLimit(
    kept,
    opts.concurrency * 2,
    async (u) => {
      let png = u.png;
      if (!png) {
        const again = await normalizeImage(await u.file.read(), normalizeOptions);
        if (!again.ok || again.sha256 !== u.sha256) throw new Error(`curate: normalising ${label(u)} again gave different bytes`);
        png = again.png;
      }
      const info = await store.putContentAddressed(opts.imagePrefix, png, '.png');
      if (info.sha256 !== u.sha256) throw new CorruptObjectError(info.key, u.sha256, info.sha256);
      keys.set(u, info.key);
      progress('write', ++written, kept.length);
    },
    signal,
  );

  // 6. Manifests, report, and the completion marker (last).
  const toItem = (u: Usable): ManifestItem => ({ class: u.file.class, key: keys.get(u)!, sha256: u.sha256, width: u.width, height: u.height, source: u.file.relPath });
  const classes = [...selections.keys()].sort(compareStrings);
  const trainManifest = makeManifest('train', opts.imageSize, classes, [...selections.values()].flatMap((s) => s.train.map(toItem)));
  const testManifest = makeManifest('test', opts.imageSize, classes, [...selections.values()].flatMap((s) => s.test.map(toItem)));
  const trainRef = await writeManifest(store, `${base}/train.json`, trainManifest);
  const testRef = await writeManifest(store, `${base}/test.json`, testManifest);

  rejected.sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.path, b.path) || compareStrings(a.reason, b.reason));
  const report: CurationReport = {
    version: 1,
    codeVersion: CURATE_CODE_VERSION,
    inputHash,
    options: hashedOptions,
    classes,
    perClass: perClassReport,
    rejectedByReason: countBy(rejected),
    rejected,
  };
  const reportKey = `${base}/report.json`;
  await store.put(reportKey, Buffer.from(`${stableStringify(report, 2)}\n`), { contentType: 'application/json' });

  const counts: Record<string, ClassCounts> = {};
  for (const cls of classes) {
    const s = selections.get(cls)!;
    counts[cls] = { train: s.train.length, test: s.test.length };
  }
  const result: CurateResult = { trainManifest: trainRef, testManifest: testRef, classes, counts, rejected: rejected.length, reportKey, inputHash, reused: false };
  await store.put(resultKey, Buffer.from(`${stableStringify(result, 2)}\n`), { contentType: 'application/json' });
  progress('done', 1, 1);
  return result;
}

function countBy(rejected: readonly RejectedFile[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of rejected) counts[r.reason] = (counts[r.reason] ?? 0) + 1;
  return counts;
}

function summarise(rejected: readonly RejectedFile[]): string {
  return Object.entries(countBy(rejected))
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
}

/** The activity context when running inside a Temporal activity, else undefined. */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export interface CurateActivities {
  curate(input: CurateInput): Promise<CurateResult>;
}

/**
 * Activities for a worker: `Worker.create({ activities: { ...createCurateActivities(store) } })`.
 * Inside an activity, progress becomes heartbeats (`{phase, done, total}`, at most every 2 s) and
 * cancellation stops the work at the next file.
 */
export function createCurateActivities(store: ArtifactStore): CurateActivities {
  return {
    async curate(input: CurateInput): Promise<CurateResult> {
      const ctx = activityContext();
      let last = 0;
      return curate(input, {
        store,
        signal: ctx?.cancellationSignal,
        onProgress: ctx
          ? (p) => {
              const now = Date.now();
              if (p.phase === 'done' || now - last >= 2000) {
                last = now;
                ctx.heartbeat(p);
              }
            }
          : undefined,
      });
    },
  };
}
