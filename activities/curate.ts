// Over 400 lines: curate() is one pass (list, decode, dedupe, split, store) whose stages share its counters and report.
/**
 * curate: read an image-folder dataset (`<root>/<class>/*.{png,jpg,jpeg,webp}`) from disk or a store
 * prefix, validate and normalise every file, drop and report the bad and duplicate ones, balance to
 * `perClass` train and `testPerClass` test images per class (seeded), write each kept image once,
 * content-addressed, and write one manifest per split plus a curation report.
 *
 * Memoized (lib/memo.ts): outputs live under `<outputPrefix>/<inputHash>/` where inputHash covers
 * the listing of the source(s) (relative paths, sha256s, sizes), every option that changes the
 * output and the code version. A complete earlier run whose manifests and report are intact is
 * returned as is. Types: lib/steps/curate.ts.
 *
 * Use `curate(input, { store })` directly, or `createCurateActivities(deps)` to register the
 * activity with a worker (it heartbeats progress and follows cancellation when run in an activity).
 */
import { BadInputError, CorruptObjectError, SynthmixError } from '../lib/errors.js';
import { sha256Hex, stableStringify } from '../lib/hash.js';
import { normalizeImage } from '../lib/images/normalize.js';
import { compareStrings, makeManifest, writeManifest, type ManifestItem } from '../lib/data/manifest.js';
import { mapLimit } from '../lib/concurrency.js';
import { portion } from '../lib/data/rounding.js';
import { listSource, type ListedFile, type SourceListing } from '../lib/data/source.js';
import { activityContext, type ActivityDeps } from '../lib/deps.js';
import { CODE_VERSIONS, memoize, type StepTiming } from '../lib/memo.js';
import { createRng, deriveSeed } from '../lib/random.js';
import type { ArtifactStore } from '../lib/store/types.js';
import {
  checkCurateInput,
  type ClassCounts,
  type ClassReport,
  type CurateInput,
  type CurateOptions,
  type CurateProgress,
  type CurateResult,
  type CurationReport,
  type RejectedFile,
} from '../lib/steps/curate.js';

export type { CurateInput, CurateResult } from '../lib/steps/curate.js';

export interface CurateDeps {
  readonly store: ArtifactStore;
  readonly onProgress?: (progress: CurateProgress) => void;
  readonly signal?: AbortSignal;
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

/** The curation step. See the module comment. */
export async function curate(input: CurateInput, deps: CurateDeps): Promise<CurateResult> {
  const startedAt = Date.now();
  const opts = checkCurateInput(input);
  const { store, onProgress } = deps;
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
  const curated = await memoize(
    store,
    'curate',
    { source: listing.hash, testSource: testListing?.hash ?? null, options: hashedOptions },
    (base, inputHash) => curateListed({ opts, hashedOptions, listing, testListing, base, inputHash }, deps),
    { under: opts.outputPrefix, startedAt, references: (r) => [r.trainManifest, r.testManifest, { key: r.reportKey }] },
  );
  progress('done', 1, 1);
  return curated;
}

/** What `curate` has decided before the work: its options, the listings, where the outputs go. */
interface Listed {
  readonly opts: CurateOptions;
  readonly hashedOptions: Record<string, unknown>;
  readonly listing: SourceListing;
  readonly testListing: SourceListing | undefined;
  readonly base: string;
  readonly inputHash: string;
}

/** The work of a curate call that its memo did not answer. */
async function curateListed({ opts, hashedOptions, listing, testListing, base, inputHash }: Listed, deps: CurateDeps): Promise<Omit<CurateResult, keyof StepTiming>> {
  const { store, onProgress, signal } = deps;
  const progress = (phase: CurateProgress['phase'], done: number, total: number): void => onProgress?.({ phase, done, total });
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
    codeVersion: CODE_VERSIONS.curate,
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
  return { trainManifest: trainRef, testManifest: testRef, classes, counts, rejected: rejected.length, reportKey, inputHash };
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

/**
 * Activities for a worker: `Worker.create({ activities: { ...createCurateActivities(deps) } })`.
 * Inside an activity, progress becomes heartbeats (`{phase, done, total}`, at most every 2 s) and
 * cancellation stops the work at the next file.
 */
export function createCurateActivities({ store }: Pick<ActivityDeps, 'store'>) {
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
