import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertSafeClassName,
  isSafeClassName,
  makeManifest,
  readManifest,
  serializeManifest,
  validateManifest,
  writeManifest,
  type ManifestItem,
} from '../lib/data/manifest.js';
import { mapLimit } from '../lib/concurrency.js';
import { BadInputError, CorruptObjectError } from '../lib/errors.js';
import { sha256Hex } from '../lib/hash.js';
import { createLocalStore, type LocalStore } from '../lib/store/index.js';

let tmp: string;
let store: LocalStore;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-manifest-'));
  store = createLocalStore(tmp);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const item = (cls: string, i: number, extra: Partial<ManifestItem> = {}): ManifestItem => {
  const sha256 = sha256Hex(`${cls}${i}`);
  return { class: cls, key: `images/${sha256}.png`, sha256, width: 8, height: 8, source: `${cls}/${i}.png`, ...extra };
};

describe('manifests', () => {
  it('canonical bytes: sorted classes and items, stable keys, round trip', async () => {
    const a = makeManifest('train', 8, ['dog', 'cat'], [item('dog', 1), item('cat', 2), item('cat', 1, { origin: 'synthetic', prompt: 'a cat', meta: { seed: 3 } })]);
    const b = makeManifest('train', 8, ['cat', 'dog'], [item('cat', 1, { origin: 'synthetic', prompt: 'a cat', meta: { seed: 3 } }), item('dog', 1), item('cat', 2)]);
    expect(serializeManifest(a).equals(serializeManifest(b))).toBe(true);
    expect(a.classes).toEqual(['cat', 'dog']);
    expect(a.items.map((i) => i.source)).toEqual(['cat/1.png', 'cat/2.png', 'dog/1.png']);
    const text = serializeManifest(a).toString();
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.indexOf('"classes"')).toBeLessThan(text.indexOf('"version"'));

    const ref = await writeManifest(store, 'm/train.json', a);
    expect(ref.sha256).toBe(sha256Hex(serializeManifest(a)));
    expect(await readManifest(store, ref)).toEqual(a);
  });

  it('readManifest verifies the sha256 in the ref and the structure', async () => {
    const ref = await writeManifest(store, 'm/x.json', makeManifest('test', 8, ['a'], [item('a', 1)]));
    await expect(readManifest(store, { ...ref, sha256: sha256Hex('nope') })).rejects.toBeInstanceOf(CorruptObjectError);
    await expect(readManifest(store, { key: ref.key, sha256: 'xyz' })).rejects.toBeInstanceOf(BadInputError);

    const bad = Buffer.from(JSON.stringify({ version: 1, split: 'train', imageSize: 8, classes: ['a'], items: [{ ...item('b', 1) }] }));
    await store.put('m/bad.json', bad);
    await expect(readManifest(store, { key: 'm/bad.json', sha256: sha256Hex(bad) })).rejects.toThrow(/items\[0\]\.class "b" is not one of the manifest's classes/);
  });

  it('validation names the field', () => {
    const ok = { version: 1, split: 'val', imageSize: 8, classes: ['a'], items: [item('a', 1)] };
    expect(validateManifest(ok, 'm').split).toBe('val');
    expect(() => validateManifest({ ...ok, version: 2 }, 'm')).toThrow(/version must be 1/);
    expect(() => validateManifest({ ...ok, split: 'dev' }, 'm')).toThrow(/split/);
    expect(() => validateManifest({ ...ok, classes: ['b', 'a'], items: [] }, 'm')).toThrow(/sorted/);
    expect(() => validateManifest({ ...ok, items: [item('a', 1), item('a', 1)] }, 'm')).toThrow(/appears twice/);
    expect(() => validateManifest({ ...ok, items: [{ ...item('a', 1), key: '../etc/passwd' }] }, 'm')).toThrow(/safe store key/);
    expect(() => validateManifest({ ...ok, items: [{ ...item('a', 1), sha256: 'ABC' }] }, 'm')).toThrow(/sha256/);
    expect(() => validateManifest({ ...ok, classes: ['..'] }, 'm')).toThrow(/safe class name/);
  });

  it('class names must be safe path segments', () => {
    for (const name of ['cat', 'Cat_2', 'a.b-c', '0']) expect(isSafeClassName(name)).toBe(true);
    for (const name of ['', '.', '..', '.hidden', '-x', 'a/b', 'a b', 'é', 'x'.repeat(65)]) expect(isSafeClassName(name), name).toBe(false);
    expect(() => assertSafeClassName('a b', 'folder /d')).toThrow(/unsafe class name "a b" in folder \/d/);
  });

  it('mapLimit keeps order, bounds concurrency and rethrows', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, x));
      active--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
    await expect(mapLimit([1, 2, 3], 2, async (x) => { if (x === 2) throw new Error('boom'); return x; })).rejects.toThrow('boom');
  });
});
