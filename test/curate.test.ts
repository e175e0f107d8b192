import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curate, type CurateInput } from '../activities/curate.js';
import type { CurationReport } from '../lib/steps/curate.js';
import { classCounts, readManifest } from '../lib/data/manifest.js';
import { BadInputError } from '../lib/errors.js';
import { sha256Hex } from '../lib/hash.js';
import { createRng } from '../lib/random.js';
import { createLocalStore } from '../lib/store/index.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-curate-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function noise(size: number, seed: number): Buffer {
  const rng = createRng(seed);
  const data = Buffer.alloc(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return data;
}

type Format = 'png' | 'jpeg' | 'webp';
async function image(seed: number, format: Format = 'png', size = 24): Promise<Buffer> {
  const s = sharp(noise(size, seed), { raw: { width: size, height: size, channels: 3 } });
  return format === 'png' ? s.png().toBuffer() : format === 'jpeg' ? s.jpeg({ quality: 90 }).toBuffer() : s.webp({ quality: 90 }).toBuffer();
}

async function put(root: string, rel: string, bytes: Buffer | string): Promise<void> {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), bytes);
}

/** `n` good images per class, formats rotating png/jpeg/webp; seeds unique per class. */
async function goodDataset(root: string, perClass: Record<string, number>, seedBase = 1000): Promise<void> {
  let k = seedBase;
  for (const [cls, n] of Object.entries(perClass)) {
    for (let i = 0; i < n; i++) {
      const format = (['png', 'jpeg', 'webp'] as const)[i % 3];
      await put(root, `${cls}/img${String(i).padStart(2, '0')}.${format === 'jpeg' ? 'jpg' : format}`, await image(k++, format));
    }
  }
}

function newStore(name: string) {
  return createLocalStore(path.join(tmp, 'stores', name));
}

describe('curate from a local folder', () => {
  it('keeps the good images, reports every bad one with its reason, counts exact', async () => {
    const root = path.join(tmp, 'messy');
    await goodDataset(root, { cat: 6, dog: 6 });
    const goodPng = await readFile(path.join(root, 'cat/img00.png'));
    const goodJpg = await readFile(path.join(root, 'cat/img01.jpg'));
    await put(root, 'cat/truncated.png', goodPng.subarray(0, goodPng.length >> 1));
    await put(root, 'cat/truncated.jpg', goodJpg.subarray(0, goodJpg.length >> 1));
    await put(root, 'cat/text.png', 'hello, I am not an image\n');
    await put(root, 'cat/zero.jpg', Buffer.alloc(0));
    await put(root, 'cat/x-copy.png', goodPng); // byte duplicate (the first in path order is kept)
    // Same pixels, different PNG bytes: a duplicate after normalisation.
    const recompressed = await sharp(goodPng).png({ compressionLevel: 1 }).toBuffer();
    expect(recompressed.equals(goodPng)).toBe(false);
    await put(root, 'cat/recompressed.png', recompressed);
    const corrupt = Buffer.from(goodPng);
    for (let i = 60; i < 300; i += 4) corrupt[i] ^= 0x5a;
    await put(root, 'cat/corrupt.png', corrupt);
    await put(root, 'cat/notes.txt', 'labels');
    await put(root, 'cat/anim.gif', await sharp(noise(8, 3), { raw: { width: 8, height: 8, channels: 3 } }).gif().toBuffer());
    await put(root, 'dog/gif-named-png.png', await sharp(noise(8, 4), { raw: { width: 8, height: 8, channels: 3 } }).gif().toBuffer());
    await put(root, 'dog/same-as-cat.png', goodPng); // cross-class duplicate
    await put(root, 'dog/grey.png', await sharp(noise(24, 5), { raw: { width: 24, height: 24, channels: 3 } }).toColourspace('b-w').png().toBuffer());
    await put(root, 'dog/nested/deep.png', await image(77));
    await put(root, 'README.md', 'a dataset');
    await symlink(path.join(root, 'does-not-exist.png'), path.join(root, 'dog/dangling.png'));

    const store = newStore('messy');
    const input: CurateInput = { source: { kind: 'local', path: root }, perClass: 4, testPerClass: 2, seed: 7, imageSize: 16 };
    const result = await curate(input, { store });

    expect(result.classes).toEqual(['cat', 'dog']);
    expect(result.counts).toEqual({ cat: { train: 4, test: 2 }, dog: { train: 4, test: 2 } });
    expect(result.computed).toBe(true);

    const report = await store.getJson<CurationReport>(result.reportKey);
    const got = report.rejected.map((r) => `${r.path} ${r.reason}`).sort();
    expect(got).toEqual(
      [
        'README.md misplaced',
        'cat/anim.gif unsupported-extension',
        'cat/x-copy.png duplicate',
        'cat/corrupt.png corrupt',
        'cat/notes.txt unsupported-extension',
        'cat/recompressed.png duplicate',
        'cat/text.png not-an-image',
        'cat/truncated.jpg truncated',
        'cat/truncated.png truncated',
        'cat/zero.jpg zero-size',
        'dog/dangling.png unreadable',
        'dog/gif-named-png.png unsupported-format',
        'dog/nested/deep.png misplaced',
        'dog/same-as-cat.png duplicate',
      ].sort(),
    );
    expect(result.rejected).toBe(14);
    expect(report.rejected.find((r) => r.path === 'dog/same-as-cat.png')?.detail).toContain('cat/img00.png');
    expect(report.rejected.find((r) => r.path === 'cat/recompressed.png')?.detail).toContain('normalised');
    expect(report.perClass.cat).toMatchObject({ files: 13, usable: 6, train: 4, test: 2 });
    expect(report.perClass.dog).toMatchObject({ usable: 7, train: 4, test: 2 });

    const train = await readManifest(store, result.trainManifest);
    const test = await readManifest(store, result.testManifest);
    expect(train.split).toBe('train');
    expect(test.split).toBe('test');
    expect(train.imageSize).toBe(16);
    expect(classCounts(train)).toEqual({ cat: 4, dog: 4 });
    expect(classCounts(test)).toEqual({ cat: 2, dog: 2 });
    const trainKeys = new Set(train.items.map((i) => i.key));
    expect(trainKeys.size).toBe(8);
    for (const item of test.items) expect(trainKeys.has(item.key)).toBe(false);
    for (const item of [...train.items, ...test.items]) {
      expect(item.source.startsWith(`${item.class}/`)).toBe(true);
      expect(item.key).toBe(`images/${item.sha256}.png`);
      const bytes = await store.get(item.key);
      expect(sha256Hex(bytes)).toBe(item.sha256);
      const meta = await sharp(bytes).metadata();
      expect([meta.width, meta.height, meta.channels]).toEqual([16, 16, 3]);
    }
    // Each kept image stored once.
    expect((await store.list('images/')).length).toBe(12);
  });

  it('same inputs + seed => byte-identical manifests; memoized; another seed samples differently', async () => {
    const root = path.join(tmp, 'plain');
    await goodDataset(root, { a: 8, b: 8 });
    const input: CurateInput = { source: { kind: 'local', path: root }, perClass: 3, testPerClass: 2, seed: 1, imageSize: 8 };
    const s1 = newStore('det1');
    const s2 = newStore('det2');
    const r1 = await curate(input, { store: s1 });
    const r2 = await curate(input, { store: s2 });
    expect(r2.trainManifest).toEqual(r1.trainManifest);
    expect(r2.testManifest).toEqual(r1.testManifest);
    expect((await s1.get(r1.trainManifest.key)).equals(await s2.get(r2.trainManifest.key))).toBe(true);

    const again = await curate(input, { store: s1 });
    expect(again.computed).toBe(false);
    expect(again.trainManifest).toEqual(r1.trainManifest);

    const other = await curate({ ...input, seed: 2 }, { store: s1 });
    expect(other.computed).toBe(true);
    const m1 = await readManifest(s1, r1.trainManifest);
    const m2 = await readManifest(s1, other.trainManifest);
    expect(m2.items.map((i) => i.key)).not.toEqual(m1.items.map((i) => i.key));

    // Letterbox is a different output.
    const boxed = await curate({ ...input, resize: 'letterbox' }, { store: s1 });
    expect(boxed.inputHash).not.toBe(r1.inputHash);
  });

  it('too few images: policy error names class and counts; policy all keeps everything', async () => {
    const root = path.join(tmp, 'few');
    await goodDataset(root, { big: 10, small: 4 });
    await put(root, 'small/broken.png', 'nope');
    const input: CurateInput = { source: { kind: 'local', path: root }, perClass: 5, testPerClass: 3, seed: 3, imageSize: 8 };
    const store = newStore('few');
    const error = await curate(input, { store }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as BadInputError).nonRetryable).toBe(true);
    expect((error as Error).message).toContain('class "small": 4 usable images (5 image files, 1 rejected), need 8');
    expect((error as Error).message).not.toContain('"big"');

    const all = await curate({ ...input, tooFew: 'all' }, { store });
    // 4 usable, test share 3/8 of 4 = 1.5 -> 2 (half up), train 2.
    expect(all.counts).toEqual({ big: { train: 5, test: 3 }, small: { train: 2, test: 2 } });
  });

  it('a separate test source: no split, cross-split duplicates dropped from train', async () => {
    const trainRoot = path.join(tmp, 'sep-train');
    const testRoot = path.join(tmp, 'sep-test');
    await goodDataset(trainRoot, { x: 5, y: 5 }, 1);
    await goodDataset(testRoot, { x: 3, y: 3 }, 500);
    await copyFile(path.join(testRoot, 'x/img00.png'), path.join(trainRoot, 'x/leak.png'));
    const store = newStore('sep');
    const result = await curate(
      { source: { kind: 'local', path: trainRoot }, testSource: { kind: 'local', path: testRoot }, perClass: 5, testPerClass: 3, seed: 1, imageSize: 8 },
      { store },
    );
    expect(result.counts).toEqual({ x: { train: 5, test: 3 }, y: { train: 5, test: 3 } });
    const report = await store.getJson<CurationReport>(result.reportKey);
    expect(report.rejected).toEqual([
      { from: 'source', path: 'x/leak.png', class: 'x', reason: 'duplicate', detail: 'same bytes as test source x/img00.png' },
    ]);
    const test = await readManifest(store, result.testManifest);
    expect(test.items.every((i) => !i.source.includes('leak'))).toBe(true);
  });

  it('clear errors: unsafe class name, missing root, no class folders, nothing survives, bad options', async () => {
    const store = newStore('errors');
    const unsafe = path.join(tmp, 'unsafe');
    await goodDataset(unsafe, { ok: 2, 'bad name': 2 });
    await expect(curate({ source: { kind: 'local', path: unsafe }, perClass: 1, testPerClass: 0, seed: 1 }, { store })).rejects.toThrow(/unsafe class name "bad name"/);

    const missing = path.join(tmp, 'nope');
    const e = await curate({ source: { kind: 'local', path: missing }, perClass: 1, testPerClass: 0, seed: 1 }, { store }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BadInputError);
    expect((e as Error).message).toContain(`${missing} does not exist`);

    const flat = path.join(tmp, 'flat');
    await put(flat, 'a.png', await image(1));
    await expect(curate({ source: { kind: 'local', path: flat }, perClass: 1, testPerClass: 0, seed: 1 }, { store })).rejects.toThrow(/no class folders/);

    const junk = path.join(tmp, 'junk');
    await put(junk, 'a/x.png', 'not an image');
    await put(junk, 'b/y.jpg', Buffer.alloc(0));
    const dead = await curate({ source: { kind: 'local', path: junk }, perClass: 1, testPerClass: 0, seed: 1, tooFew: 'all' }, { store }).catch((x: unknown) => x);
    expect(dead).toBeInstanceOf(BadInputError);
    expect((dead as Error).message).toMatch(/no class survives.*1 not-an-image, 1 zero-size/);

    await expect(curate({ source: { kind: 'local', path: unsafe }, perClass: 0, testPerClass: 0, seed: 1 }, { store })).rejects.toThrow(/perClass/);
    await expect(curate({ source: { kind: 'local', path: unsafe }, perClass: 1, testPerClass: 0, seed: 1, imageSize: 0 }, { store })).rejects.toThrow(/imageSize/);
  });

  it('curates from a store prefix exactly as from disk (local store as the source)', async () => {
    const root = path.join(tmp, 'upload');
    await goodDataset(root, { p: 4, q: 4 });
    await put(root, 'q/bad.png', 'x');
    const input = { perClass: 2, testPerClass: 1, seed: 11, imageSize: 8 };
    const diskStore = newStore('from-disk');
    const fromDisk = await curate({ ...input, source: { kind: 'local', path: root } }, { store: diskStore });

    const s3like = newStore('from-prefix');
    for (const rel of ['p/img00.png', 'p/img01.jpg', 'p/img02.webp', 'p/img03.png', 'q/img00.png', 'q/img01.jpg', 'q/img02.webp', 'q/img03.png', 'q/bad.png']) {
      await s3like.putFile(`datasets/up/${rel}`, path.join(root, rel));
    }
    const fromPrefix = await curate({ ...input, source: { kind: 'store', prefix: 'datasets/up' } }, { store: s3like });
    expect(fromPrefix.inputHash).toBe(fromDisk.inputHash);
    expect(fromPrefix.trainManifest).toEqual(fromDisk.trainManifest);
    expect(fromPrefix.testManifest).toEqual(fromDisk.testManifest);
    expect(fromPrefix.rejected).toBe(1);
    await expect(curate({ ...input, source: { kind: 'store', prefix: 'datasets/none' } }, { store: s3like })).rejects.toThrow(/no objects under store prefix/);
  });
});
