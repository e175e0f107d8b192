/**
 * Dataset manifests: the one format every step (curate, generate, mix, train, evaluate, fid) uses to
 * name a set of images in the artifact store.
 *
 * On the wire (JSON, keys sorted, 2-space indent, trailing newline; see `serializeManifest`):
 * ```json
 * {
 *   "classes": ["airplane", "automobile"],
 *   "imageSize": 32,
 *   "items": [
 *     { "class": "airplane", "height": 32, "key": "images/<sha256>.png", "sha256": "<sha256>",
 *       "source": "airplane/0001.png", "width": 32 },
 *     { "class": "automobile", "height": 32, "key": "images/<sha256>.png", "origin": "synthetic",
 *       "prompt": "a photo of a automobile", "sha256": "<sha256>", "source": "generate/<run>/automobile/17", "width": 32 }
 *   ],
 *   "split": "train",
 *   "version": 1
 * }
 * ```
 * `items` are sorted by (class, source, key); `classes` sorted. `source` says where the image came
 * from: for curated originals the path relative to the dataset root (`<class>/<file>`), the same for
 * a disk folder and an S3 prefix; for generated images whatever the generator records
 * (with `prompt` and optional `meta`). `origin` is set by mix (`original` | `synthetic`) and by
 * generators (`synthetic`).
 */
import { CorruptObjectError, BadInputError } from '../errors.js';
import { isSha256Hex, sha256Hex, stableStringify } from '../hash.js';
import type { ArtifactStore } from '../store/types.js';

export const MANIFEST_VERSION = 1 as const;

export type ManifestSplit = 'train' | 'val' | 'test' | 'synthetic';
export const MANIFEST_SPLITS: readonly ManifestSplit[] = ['train', 'val', 'test', 'synthetic'];

export type ItemOrigin = 'original' | 'synthetic';

export interface ManifestItem {
  readonly class: string;
  /** Store key of the image (PNG, content-addressed: `images/<sha256>.png`). */
  readonly key: string;
  /** sha256 of the image bytes, hex. */
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  /** Provenance: `<class>/<file>` relative to the dataset root, or a generator's id. */
  readonly source: string;
  readonly origin?: ItemOrigin;
  /** The prompt a synthetic image was generated from. */
  readonly prompt?: string;
  /** Small extra provenance (seed, model, step...). */
  readonly meta?: Readonly<Record<string, string | number | boolean>>;
}

export interface Manifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly split: ManifestSplit;
  /** Side of the (square) images, pixels. */
  readonly imageSize: number;
  /** Sorted, unique; every item's class is one of them (a class may have no items only if listed on purpose). */
  readonly classes: readonly string[];
  readonly items: readonly ManifestItem[];
}

/** How steps pass a manifest around: its key and the sha256 of its bytes. */
export interface ManifestRef {
  readonly key: string;
  readonly sha256: string;
}

/** Safe class names: one path segment, no dot-only names. */
export const CLASS_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isSafeClassName(name: string): boolean {
  return CLASS_NAME_PATTERN.test(name) && name !== '.' && name !== '..';
}

/** Throws BadInputError naming the class (and where it came from) when it is not a safe path segment. */
export function assertSafeClassName(name: string, where: string): void {
  if (!isSafeClassName(name)) {
    throw new BadInputError(
      `unsafe class name ${JSON.stringify(name)} in ${where}: class names must match ${CLASS_NAME_PATTERN.source} (letters, digits, . _ -; at most 64 characters; not starting with . _ or -)`,
    );
  }
}

/** UTF-16 code-unit order (locale-independent, the same everywhere). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareItems(a: ManifestItem, b: ManifestItem): number {
  return compareStrings(a.class, b.class) || compareStrings(a.source, b.source) || compareStrings(a.key, b.key);
}

/** A copy of the items in manifest order. */
export function sortItems(items: readonly ManifestItem[]): ManifestItem[] {
  return [...items].sort(compareItems);
}

/** Build a manifest: sorts classes and items, validates everything. */
export function makeManifest(split: ManifestSplit, imageSize: number, classes: Iterable<string>, items: readonly ManifestItem[]): Manifest {
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    split,
    imageSize,
    classes: [...new Set(classes)].sort(compareStrings),
    items: sortItems(items),
  };
  return validateManifest(manifest, `${split} manifest`);
}

/** Canonical bytes of a manifest: stable key order, 2-space indent, trailing newline. */
export function serializeManifest(manifest: Manifest): Buffer {
  const checked = validateManifest(manifest, `${manifest.split} manifest`);
  return Buffer.from(`${stableStringify(checked, 2)}\n`, 'utf8');
}

/** Write a manifest under `key`; returns its ref (key + sha256 of the bytes written). */
export async function writeManifest(store: ArtifactStore, key: string, manifest: Manifest): Promise<ManifestRef> {
  const bytes = serializeManifest(manifest);
  const info = await store.put(key, bytes, { contentType: 'application/json' });
  const sha256 = sha256Hex(bytes);
  if (info.sha256 !== sha256) throw new CorruptObjectError(key, sha256, info.sha256);
  return { key, sha256 };
}

/** Read a manifest, verify its bytes against `ref.sha256` (CorruptObjectError) and its structure (BadInputError). */
export async function readManifest(store: ArtifactStore, ref: ManifestRef): Promise<Manifest> {
  assertManifestRef(ref, 'manifest ref');
  const bytes = await store.get(ref.key);
  const actual = sha256Hex(bytes);
  if (actual !== ref.sha256) throw new CorruptObjectError(ref.key, ref.sha256, actual);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new BadInputError(`manifest ${ref.key} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return validateManifest(value, `manifest ${ref.key}`);
}

export function assertManifestRef(ref: unknown, what: string): asserts ref is ManifestRef {
  const r = ref as Partial<ManifestRef> | undefined;
  if (!r || typeof r !== 'object' || typeof r.key !== 'string' || r.key.length === 0 || !isSha256Hex(r.sha256)) {
    throw new BadInputError(`${what} must be {key, sha256} with a non-empty key and a lowercase hex sha256, got ${JSON.stringify(ref)}`);
  }
}

/** Per-class item counts, for every listed class (0 for a class without items). */
export function classCounts(manifest: Manifest): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of manifest.classes) counts[c] = 0;
  for (const item of manifest.items) counts[item.class] = (counts[item.class] ?? 0) + 1;
  return counts;
}

/** Items grouped by class, in manifest order. */
export function itemsByClass(manifest: Manifest): Map<string, ManifestItem[]> {
  const groups = new Map<string, ManifestItem[]>();
  for (const c of manifest.classes) groups.set(c, []);
  for (const item of manifest.items) groups.get(item.class)?.push(item);
  return groups;
}

function fail(where: string, problem: string): never {
  throw new BadInputError(`${where}: ${problem}`);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Check that `value` is a well-formed manifest; returns it typed (with only the known fields, so a
 * round trip through serializeManifest is canonical). Throws BadInputError naming `where` and the field.
 */
export function validateManifest(value: unknown, where: string): Manifest {
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail(where, 'not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.version !== MANIFEST_VERSION) fail(where, `version must be ${MANIFEST_VERSION}, got ${JSON.stringify(m.version)}`);
  if (!MANIFEST_SPLITS.includes(m.split as ManifestSplit)) fail(where, `split must be one of ${MANIFEST_SPLITS.join(', ')}, got ${JSON.stringify(m.split)}`);
  if (!isPositiveInt(m.imageSize)) fail(where, `imageSize must be a positive integer, got ${JSON.stringify(m.imageSize)}`);
  if (!Array.isArray(m.classes)) fail(where, 'classes must be an array');
  const classes = m.classes as unknown[];
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    if (typeof c !== 'string' || !isSafeClassName(c)) fail(where, `classes[${i}] ${JSON.stringify(c)} is not a safe class name`);
    if (i > 0 && compareStrings(classes[i - 1] as string, c) >= 0) fail(where, `classes must be sorted and unique (at ${i}: ${JSON.stringify(c)})`);
  }
  const classSet = new Set(classes as string[]);
  if (!Array.isArray(m.items)) fail(where, 'items must be an array');
  const items: ManifestItem[] = [];
  const keys = new Set<string>();
  const rawItems = m.items as unknown[];
  for (let i = 0; i < rawItems.length; i++) {
    const it = rawItems[i] as Record<string, unknown> | null;
    const at = `items[${i}]`;
    if (!it || typeof it !== 'object' || Array.isArray(it)) fail(where, `${at} is not an object`);
    if (typeof it.class !== 'string' || !classSet.has(it.class)) fail(where, `${at}.class ${JSON.stringify(it.class)} is not one of the manifest's classes`);
    if (typeof it.key !== 'string' || it.key.length === 0 || it.key.startsWith('/') || it.key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      fail(where, `${at}.key ${JSON.stringify(it.key)} is not a safe store key`);
    }
    if (!isSha256Hex(it.sha256)) fail(where, `${at}.sha256 must be a lowercase hex sha256`);
    if (!isPositiveInt(it.width) || !isPositiveInt(it.height)) fail(where, `${at} width/height must be positive integers`);
    if (typeof it.source !== 'string') fail(where, `${at}.source must be a string`);
    if (it.origin !== undefined && it.origin !== 'original' && it.origin !== 'synthetic') fail(where, `${at}.origin must be original or synthetic`);
    if (it.prompt !== undefined && typeof it.prompt !== 'string') fail(where, `${at}.prompt must be a string`);
    let meta: Record<string, string | number | boolean> | undefined;
    if (it.meta !== undefined) {
      if (!it.meta || typeof it.meta !== 'object' || Array.isArray(it.meta)) fail(where, `${at}.meta must be an object`);
      meta = {};
      for (const [k, v] of Object.entries(it.meta as Record<string, unknown>)) {
        if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) fail(where, `${at}.meta.${k} must be a string, finite number or boolean`);
        meta[k] = v;
      }
    }
    if (keys.has(it.key)) fail(where, `${at}.key ${it.key} appears twice (duplicate image)`);
    keys.add(it.key);
    items.push({
      class: it.class,
      key: it.key,
      sha256: it.sha256,
      width: it.width,
      height: it.height,
      source: it.source,
      ...(it.origin !== undefined ? { origin: it.origin as ItemOrigin } : {}),
      ...(it.prompt !== undefined ? { prompt: it.prompt as string } : {}),
      ...(meta !== undefined ? { meta } : {}),
    });
  }
  for (let i = 1; i < items.length; i++) {
    if (compareItems(items[i - 1], items[i]) > 0) fail(where, `items must be sorted by (class, source, key) (at ${i})`);
  }
  return { version: MANIFEST_VERSION, split: m.split as ManifestSplit, imageSize: m.imageSize, classes: classes as string[], items };
}
