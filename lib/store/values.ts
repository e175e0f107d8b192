/**
 * Large workflow values as store references. Workflow history holds every payload it passes
 * (2 MB per payload, a few MB before Temporal suggests `continueAsNew`), so a list that grows with
 * the classes or the cells (per-class manifests, cell outcomes) is written to the store in pages
 * and travels as `{ pages: [{ key, sha256 }] }`. The sha256 pins the exact bytes: a page that was
 * replaced or damaged after it was referenced is a CorruptObjectError naming its key, never a
 * silently different list.
 */
import { BadInputError, CorruptObjectError } from '../errors.js';
import type { ArtifactStore } from './types.js';

/** One stored JSON value: its key and the sha256 of its bytes. */
export interface StoredValue {
  key: string;
  sha256: string;
}

/** A list stored as pages (in order); the list is the pages' items concatenated. */
export interface StoredList {
  pages: StoredValue[];
}

export function isStoredList(value: unknown): value is StoredList {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Array.isArray((value as StoredList).pages);
}

/** Store `value` as JSON under `<prefix>/<sha256>.json` (the same value twice is one object). */
export async function putValue(store: ArtifactStore, prefix: string, value: unknown): Promise<StoredValue> {
  const info = await store.putContentAddressed(prefix, Buffer.from(JSON.stringify(value), 'utf8'), '.json');
  return { key: info.key, sha256: info.sha256 };
}

/** Read a stored value back; throws CorruptObjectError when the object is not the referenced bytes. */
export async function getValue<T>(store: ArtifactStore, ref: StoredValue): Promise<T> {
  const info = await store.stat(ref.key);
  if (info && info.sha256 !== ref.sha256) {
    throw new CorruptObjectError(ref.key, ref.sha256, info.sha256);
  }
  return store.getJson<T>(ref.key);
}

/** Every item of a stored list, in order (a plain array is returned as it is). */
export async function readList<T>(store: ArtifactStore, list: readonly T[] | StoredList): Promise<T[]> {
  if (!isStoredList(list)) return [...list];
  const items: T[] = [];
  for (const page of list.pages) {
    const values = await getValue<unknown>(store, page);
    if (!Array.isArray(values)) throw new BadInputError(`${page.key}: a stored list page must be a JSON array`);
    items.push(...(values as T[]));
  }
  return items;
}
