import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mix, type MixArm, type MixInput } from '../activities/mix.js';
import { DEFAULT_P_VALUES } from '../lib/sweep/cells.js';
import { makeManifest, readManifest, writeManifest, type Manifest, type ManifestItem, type ManifestRef } from '../lib/data/manifest.js';
import { BadInputError, CorruptObjectError } from '../lib/errors.js';
import { sha256Hex } from '../lib/hash.js';
import { createLocalStore, type LocalStore } from '../lib/store/index.js';

let tmp: string;
let store: LocalStore;
let n = 0;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-mix-'));
  store = createLocalStore(path.join(tmp, 'store'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Manifest items that name images (mix only reads manifests, never image bytes). */
function items(cls: string, count: number, kind: 'original' | 'synthetic'): ManifestItem[] {
  return Array.from({ length: count }, (_, i) => {
    const sha256 = sha256Hex(`${kind}/${cls}/${i}`);
    return kind === 'original'
      ? { class: cls, key: `images/${sha256}.png`, sha256, width: 8, height: 8, source: `${cls}/${String(i).padStart(4, '0')}.png` }
      : { class: cls, key: `images/${sha256}.png`, sha256, width: 8, height: 8, source: `generate/${cls}/${i}`, origin: 'synthetic' as const, prompt: `a photo of a ${cls}` };
  });
}

async function manifest(split: Manifest['split'], perClass: Record<string, number>, kind: 'original' | 'synthetic'): Promise<ManifestRef> {
  const all = Object.entries(perClass).flatMap(([cls, count]) => items(cls, count, kind));
  return writeManifest(store, `inputs/${kind}-${n++}.json`, makeManifest(split, 8, Object.keys(perClass), all));
}

const roundHalfUp = (x: number) => Math.floor(x + 0.5 + 1e-9);

describe('mix', () => {
  it('exact per-class counts for every p of the sweep and both arms; no duplicates; stratified', async () => {
    const sizes = { a: 20, b: 7, c: 13 };
    const original = await manifest('train', sizes, 'original');
    const synthetic = await manifest('synthetic', { a: 25, b: 10, c: 13 }, 'synthetic');
    expect(DEFAULT_P_VALUES).toEqual([0, 0.25, 0.5, 0.75, 1]);
    for (const p of DEFAULT_P_VALUES) {
      for (const arm of ['mixed', 'only-original'] as MixArm[]) {
        const result = await mix({ original, synthetic, p, arm, seed: 3 }, { store });
        const train = await readManifest(store, result.train);
        const val = await readManifest(store, result.val);
        expect(train.split).toBe('train');
        expect(val.split).toBe('val');
        const keys = [...train.items, ...val.items].map((i) => i.key);
        expect(new Set(keys).size).toBe(keys.length); // no duplicates within or between
        for (const [cls, size] of Object.entries(sizes)) {
          const nSyn = arm === 'mixed' ? roundHalfUp(p * size) : 0;
          const nOrig = size - roundHalfUp(p * size);
          const total = nSyn + nOrig;
          const nVal = roundHalfUp(0.15 * total);
          const t = train.items.filter((i) => i.class === cls);
          const v = val.items.filter((i) => i.class === cls);
          expect([t.length, v.length], `${cls} p=${p} ${arm}`).toEqual([total - nVal, nVal]);
          expect([...t, ...v].filter((i) => i.origin === 'synthetic').length).toBe(nSyn);
          expect([...t, ...v].filter((i) => i.origin === 'original').length).toBe(nOrig);
          expect(result.counts[cls]).toMatchObject({ available: size, original: nOrig, synthetic: nSyn, train: total - nVal, val: nVal });
        }
      }
    }
  });

  it("the paper's example: p = 0.25 of 700 => 175 synthetic + 525 original, 595 train / 105 val", async () => {
    const original = await manifest('train', { cat: 700 }, 'original');
    const synthetic = await manifest('synthetic', { cat: 700 }, 'synthetic');
    const result = await mix({ original, synthetic, p: 0.25, arm: 'mixed', seed: 1 }, { store });
    expect(result.counts.cat).toEqual({ available: 700, original: 525, synthetic: 175, train: 595, val: 105, trainSynthetic: expect.any(Number), valSynthetic: expect.any(Number) });
    expect(result.counts.cat.trainSynthetic + result.counts.cat.valSynthetic).toBe(175);
    const only = await mix({ original, synthetic, p: 0.25, arm: 'only-original', seed: 1 }, { store });
    expect(only.counts.cat).toMatchObject({ original: 525, synthetic: 0, train: 446, val: 79 }); // 0.15 · 525 = 78.75 -> 79
  });

  it('halves round up (towards synthetic)', async () => {
    const original = await manifest('train', { odd: 7, two: 2 }, 'original');
    const synthetic = await manifest('synthetic', { odd: 7, two: 2 }, 'synthetic');
    const half = await mix({ original, synthetic, p: 0.5, arm: 'mixed', seed: 1, valFraction: 0.5 }, { store });
    expect(half.counts.odd).toMatchObject({ synthetic: 4, original: 3, val: 4, train: 3 }); // 3.5 -> 4 both times
    expect(half.counts.two).toMatchObject({ synthetic: 1, original: 1, val: 1, train: 1 });
    const quarter = await mix({ original, synthetic, p: 0.25, arm: 'mixed', seed: 1 }, { store });
    expect(quarter.counts.two).toMatchObject({ synthetic: 1, original: 1 }); // 0.5 -> 1
  });

  it('same seed => identical manifest bytes; another seed => other samples; samples nest across p and arms', async () => {
    const original = await manifest('train', { x: 30, y: 30 }, 'original');
    const synthetic = await manifest('synthetic', { x: 30, y: 30 }, 'synthetic');
    const input: MixInput = { original, synthetic, p: 0.5, arm: 'mixed', seed: 9 };
    const first = await mix(input, { store });
    const otherStore = createLocalStore(path.join(tmp, 'other'));
    for (const ref of [original, synthetic]) await otherStore.put(ref.key, await store.get(ref.key));
    const second = await mix(input, { store: otherStore });
    expect(second.computed).toBe(true);
    expect(second.train).toEqual(first.train);
    expect(second.val).toEqual(first.val);
    expect((await otherStore.get(second.train.key)).equals(await store.get(first.train.key))).toBe(true);
    const memo = await mix(input, { store });
    expect(memo.computed).toBe(false);
    expect(memo.train).toEqual(first.train);

    const reseeded = await mix({ ...input, seed: 10 }, { store });
    const keysOf = async (ref: ManifestRef) => (await readManifest(store, ref)).items.map((i) => i.key).sort();
    expect(await keysOf(reseeded.train)).not.toEqual(await keysOf(first.train));

    const originalsOf = async (ref: { train: ManifestRef; val: ManifestRef }) => {
      const all = [...(await readManifest(store, ref.train)).items, ...(await readManifest(store, ref.val)).items];
      return new Set(all.filter((i) => i.origin === 'original').map((i) => i.key));
    };
    const at25 = await originalsOf(await mix({ ...input, p: 0.25 }, { store }));
    const at50 = await originalsOf(first);
    const at50only = await originalsOf(await mix({ ...input, arm: 'only-original' }, { store }));
    expect([...at50].every((k) => at25.has(k))).toBe(true);
    expect(at50only).toEqual(at50);

    // Only-original cells do not depend on the synthetic set: shared by every source.
    const otherSynthetic = await manifest('synthetic', { x: 31, y: 30 }, 'synthetic');
    const onlyA = await mix({ ...input, arm: 'only-original', p: 0.75 }, { store });
    const onlyB = await mix({ ...input, arm: 'only-original', p: 0.75, synthetic: otherSynthetic }, { store });
    expect(onlyB.computed).toBe(false);
    expect(onlyB.train).toEqual(onlyA.train);
  });

  it('realValidation keeps validation purely real', async () => {
    const original = await manifest('train', { r: 40 }, 'original');
    const synthetic = await manifest('synthetic', { r: 40 }, 'synthetic');
    const result = await mix({ original, synthetic, p: 0.75, arm: 'mixed', seed: 2, realValidation: true }, { store });
    const val = await readManifest(store, result.val);
    expect(val.items).toHaveLength(6);
    expect(val.items.every((i) => i.origin === 'original')).toBe(true);
    expect(result.counts.r).toMatchObject({ original: 10, synthetic: 30, train: 34, val: 6, valSynthetic: 0, trainSynthetic: 30 });
    await expect(mix({ original, synthetic, p: 1, arm: 'mixed', seed: 2, realValidation: true }, { store })).rejects.toThrow(/realValidation.*class "r": 6 validation images needed, only 0 originals/s);
  });

  it('balance mode fills only the classes below the target', async () => {
    const original = await manifest('train', { big: 10, mid: 7, tiny: 4 }, 'original');
    const synthetic = await manifest('synthetic', { big: 5, mid: 5, tiny: 6 }, 'synthetic');
    const result = await mix({ original, synthetic, p: 0, arm: 'mixed', mode: 'balance', seed: 1 }, { store });
    expect(result.counts.big).toMatchObject({ original: 10, synthetic: 0 });
    expect(result.counts.mid).toMatchObject({ original: 7, synthetic: 3 });
    expect(result.counts.tiny).toMatchObject({ original: 4, synthetic: 6 });
    const targeted = await mix({ original, synthetic, p: 0, arm: 'mixed', mode: 'balance', target: 8, seed: 1 }, { store });
    expect(targeted.counts.big.synthetic).toBe(0);
    expect(targeted.counts.mid.synthetic).toBe(1);
    await expect(mix({ original, synthetic, p: 0, arm: 'mixed', mode: 'balance', target: 12, seed: 1 }, { store })).rejects.toThrow(/class "tiny": needs 8 synthetic images, the synthetic manifest has 6/);
  });

  it('bad input: p outside [0,1], too few synthetic images, no synthetic manifest, corrupt ref', async () => {
    const original = await manifest('train', { k: 8 }, 'original');
    const synthetic = await manifest('synthetic', { k: 3 }, 'synthetic');
    for (const p of [-0.1, 1.5, Number.NaN]) {
      const error = await mix({ original, synthetic, p, arm: 'mixed', seed: 1 }, { store }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadInputError);
      expect((error as Error).message).toContain('p must be a number in [0, 1]');
    }
    await expect(mix({ original, synthetic, p: 0.5, arm: 'mixed', seed: 1 }, { store })).rejects.toThrow(/class "k": needs 4 synthetic images, the synthetic manifest has 3/);
    await expect(mix({ original, p: 0.5, arm: 'mixed', seed: 1 }, { store })).rejects.toThrow(/no synthetic manifest/);
    const only = await mix({ original, p: 0.5, arm: 'only-original', seed: 1 }, { store });
    expect(only.counts.k).toMatchObject({ original: 4, synthetic: 0 });
    await expect(mix({ original: { ...original, sha256: sha256Hex('other') }, p: 0, arm: 'mixed', seed: 1 }, { store })).rejects.toBeInstanceOf(CorruptObjectError);
    await expect(mix({ original, p: 0, arm: 'mixed' as MixArm, seed: 1, valFraction: 1 }, { store })).rejects.toThrow(/valFraction/);
    await expect(mix({ original, p: 0, arm: 'both' as MixArm, seed: 1 }, { store })).rejects.toThrow(/arm/);
  });
});
