/**
 * Image-folder datasets (`<root>/<class>/<file>`) on local disk or under a store prefix, listed
 * the same way for both so that the same files give the same listing (and the same hash).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { BadInputError } from '../errors.js';
import { hashFile, hashJson } from '../hash.js';
import { loopBeat } from '../heartbeat.js';
import type { ArtifactStore } from '../store/types.js';
import { assertSafeClassName, compareStrings } from './manifest.js';

/** Where a dataset lives: a folder on this machine, or a prefix in the artifact store. */
export type DatasetSource = { readonly kind: 'local'; readonly path: string } | { readonly kind: 'store'; readonly prefix: string };

/** File extensions (lower-cased) considered images. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp'];

/** Why a listed entry was not even looked at as an image. */
export type ListingRejectReason = 'misplaced' | 'unsupported-extension' | 'unreadable';

export interface ListedFile {
  /** `<class>/<file>`, `/`-separated, relative to the dataset root. */
  readonly relPath: string;
  readonly class: string;
  readonly sha256: string;
  readonly size: number;
  /** The whole file. */
  read(): Promise<Buffer>;
}

export interface ListingRejection {
  readonly relPath: string;
  readonly class?: string;
  readonly reason: ListingRejectReason;
  readonly detail: string;
}

export interface SourceListing {
  /** Human description, e.g. `local:/data/cifar` or `store:datasets/cifar`. */
  readonly description: string;
  /** Every class folder found (sorted), including empty ones (a local folder only). */
  readonly classes: readonly string[];
  /** Candidate image files, sorted by relPath. */
  readonly files: readonly ListedFile[];
  /** Entries rejected by name or location, sorted by relPath. */
  readonly rejected: readonly ListingRejection[];
  /** sha256 over (relPath, sha256, size) of every file and every rejection: identical for disk and store. */
  readonly hash: string;
}

export function describeSource(source: DatasetSource): string {
  return source.kind === 'local' ? `local:${source.path}` : `store:${source.prefix}`;
}

export function assertDatasetSource(source: unknown, field: string): asserts source is DatasetSource {
  const s = source as { kind?: unknown; path?: unknown; prefix?: unknown } | undefined;
  if (s && s.kind === 'local' && typeof s.path === 'string' && s.path.length > 0) return;
  if (s && s.kind === 'store' && typeof s.prefix === 'string') return;
  throw new BadInputError(`${field} must be {kind: 'local', path} or {kind: 'store', prefix}, got ${JSON.stringify(source)}`);
}

function hasImageExtension(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

function errorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e && typeof e === 'object' && e.code ? `${e.code}: ${e.message}` : String(error);
}

/** Sort and hash a listing. */
function finish(description: string, classes: Iterable<string>, files: ListedFile[], rejected: ListingRejection[]): SourceListing {
  files.sort((a, b) => compareStrings(a.relPath, b.relPath));
  rejected.sort((a, b) => compareStrings(a.relPath, b.relPath) || compareStrings(a.reason, b.reason));
  const sortedClasses = [...new Set(classes)].sort(compareStrings);
  const hash = hashJson({
    classes: sortedClasses,
    files: files.map((f) => [f.relPath, f.sha256, f.size]),
    // Details may carry machine-specific text (errno messages): hash only what is stable.
    rejected: rejected.map((r) => [r.relPath, r.reason]),
  });
  return { description, classes: sortedClasses, files, rejected, hash };
}

/** List a dataset. Throws BadInputError for a missing/empty root or an unsafe class name. */
export async function listSource(source: DatasetSource, store: ArtifactStore | undefined, field = 'source'): Promise<SourceListing> {
  assertDatasetSource(source, field);
  if (source.kind === 'local') return listLocal(source.path, field);
  if (!store) throw new BadInputError(`${field} is a store prefix but no artifact store was given`);
  return listStore(store, source.prefix, field);
}

/**
 * Hidden entries (`.DS_Store`, `.ipynb_checkpoints`, any dot-name) are what tools leave behind, not
 * data: ignored at the dataset root, in class folders and below, locally and in the store.
 */
function isHidden(name: string): boolean {
  return name.startsWith('.');
}

async function listLocal(root: string, field: string): Promise<SourceListing> {
  const description = `local:${root}`;
  let rootStat;
  try {
    rootStat = await stat(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new BadInputError(`${field}: dataset root ${root} does not exist`);
    throw new BadInputError(`${field}: dataset root ${root} cannot be read (${errorText(error)})`);
  }
  if (!rootStat.isDirectory()) throw new BadInputError(`${field}: dataset root ${root} is not a directory`);

  const classes: string[] = [];
  const files: ListedFile[] = [];
  const rejected: ListingRejection[] = [];
  const entries = await readdir(root, { withFileTypes: true });
  entries.sort((a, b) => compareStrings(a.name, b.name));

  for (const entry of entries) {
    if (isHidden(entry.name)) continue;
    const full = path.join(root, entry.name);
    let st;
    try {
      st = await stat(full); // follows symlinks
    } catch (error) {
      rejected.push({ relPath: entry.name, reason: 'unreadable', detail: `cannot stat: ${errorText(error)}` });
      continue;
    }
    if (!st.isDirectory()) {
      rejected.push({ relPath: entry.name, reason: 'misplaced', detail: `not inside a class folder (expected ${root}/<class>/<file>)` });
      continue;
    }
    assertSafeClassName(entry.name, `${field} ${root}`);
    classes.push(entry.name);
    await listClassFolder(full, entry.name, entry.name, 0, files, rejected);
  }
  if (classes.length === 0 && files.length === 0) {
    throw new BadInputError(`${field}: dataset root ${root} has no class folders (expected ${root}/<class>/<image files>)`);
  }
  return finish(description, classes, files, rejected);
}

async function listClassFolder(dir: string, className: string, rel: string, depth: number, files: ListedFile[], rejected: ListingRejection[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    rejected.push({ relPath: `${rel}/`, class: className, reason: 'unreadable', detail: `cannot list folder: ${errorText(error)}` });
    return;
  }
  entries.sort((a, b) => compareStrings(a.name, b.name));
  for (const entry of entries) {
    if (isHidden(entry.name)) continue;
    const full = path.join(dir, entry.name);
    const relPath = `${rel}/${entry.name}`;
    let st;
    try {
      st = await stat(full);
    } catch (error) {
      rejected.push({ relPath, class: className, reason: 'unreadable', detail: `cannot stat: ${errorText(error)}` });
      continue;
    }
    if (st.isDirectory()) {
      if (depth >= 8) {
        rejected.push({ relPath: `${relPath}/`, class: className, reason: 'misplaced', detail: 'nested folder too deep; contents not listed' });
      } else {
        await listClassFolder(full, className, relPath, depth + 1, files, rejected);
      }
      continue;
    }
    if (depth > 0) {
      rejected.push({ relPath, class: className, reason: 'misplaced', detail: 'inside a nested folder; images must sit directly in <root>/<class>/' });
      continue;
    }
    if (!st.isFile()) {
      rejected.push({ relPath, class: className, reason: 'unreadable', detail: 'not a regular file' });
      continue;
    }
    if (!hasImageExtension(entry.name)) {
      rejected.push({ relPath, class: className, reason: 'unsupported-extension', detail: `extension ${JSON.stringify(path.extname(entry.name))} is not one of ${IMAGE_EXTENSIONS.join(' ')}` });
      continue;
    }
    let digest;
    try {
      digest = await hashFile(full);
    } catch (error) {
      rejected.push({ relPath, class: className, reason: 'unreadable', detail: errorText(error) });
      continue;
    }
    files.push({ relPath, class: className, sha256: digest.sha256, size: digest.size, read: () => readFile(full) });
    loopBeat('hash-source', files.length);
  }
}

async function listStore(store: ArtifactStore, rawPrefix: string, field: string): Promise<SourceListing> {
  const prefix = rawPrefix.replace(/\/+$/, '');
  const listPrefix = prefix === '' ? '' : `${prefix}/`;
  const description = `store:${store.description}/${prefix}`;
  const objects = await store.list(listPrefix);
  if (objects.length === 0) throw new BadInputError(`${field}: no objects under store prefix ${JSON.stringify(listPrefix)} in ${store.description}`);

  const classes = new Set<string>();
  const files: ListedFile[] = [];
  const rejected: ListingRejection[] = [];
  for (const object of objects) {
    const relPath = object.key.slice(listPrefix.length);
    const segments = relPath.split('/');
    if (segments.some(isHidden)) continue;
    if (segments.length === 1) {
      rejected.push({ relPath, reason: 'misplaced', detail: `not inside a class folder (expected ${listPrefix}<class>/<file>)` });
      continue;
    }
    const className = segments[0];
    assertSafeClassName(className, `${field} ${store.description}/${listPrefix}`);
    classes.add(className);
    if (segments.length > 2) {
      rejected.push({ relPath, class: className, reason: 'misplaced', detail: 'inside a nested folder; images must sit directly in <root>/<class>/' });
      continue;
    }
    if (!hasImageExtension(segments[1])) {
      rejected.push({ relPath, class: className, reason: 'unsupported-extension', detail: `extension ${JSON.stringify(path.extname(segments[1]))} is not one of ${IMAGE_EXTENSIONS.join(' ')}` });
      continue;
    }
    const key = object.key;
    files.push({ relPath, class: className, sha256: object.sha256, size: object.size, read: () => store.get(key) });
  }
  return finish(description, classes, files, rejected);
}
