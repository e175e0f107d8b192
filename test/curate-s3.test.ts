/**
 * Curation from an S3 prefix on a real SeaweedFS server gives the same manifests (same bytes, same
 * keys) as curation of the same folder from disk, and writes everything through the S3 store.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curate } from '../activities/curate.js';
import type { CurationReport } from '../lib/steps/curate.js';
import { mix } from '../activities/mix.js';
import { readManifest } from '../lib/data/manifest.js';
import { createRng } from '../lib/random.js';
import { createLocalStore, createS3Store, type S3Store } from '../lib/store/index.js';
import { withSeaweed } from './support/servers.js';

const seaweed = withSeaweed();
let tmp: string;
let s3: S3Store;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-curate-s3-'));
  const { endpoint, bucket, region, accessKeyId, secretAccessKey } = seaweed.server;
  s3 = createS3Store({ bucket, prefix: 'run1', endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
});
afterAll(async () => {
  s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function writeDataset(root: string): Promise<string[]> {
  const files: string[] = [];
  let seed = 1;
  for (const cls of ['alpha', 'beta', 'gamma']) {
    await mkdir(path.join(root, cls), { recursive: true });
    for (let i = 0; i < 5; i++) {
      const rng = createRng(seed++);
      const raw = Buffer.alloc(20 * 20 * 3);
      for (let j = 0; j < raw.length; j++) raw[j] = rng.int(256);
      const img = sharp(raw, { raw: { width: 20, height: 20, channels: 3 } });
      const name = i % 2 === 0 ? `${i}.png` : `${i}.jpg`;
      await writeFile(path.join(root, cls, name), i % 2 === 0 ? await img.png().toBuffer() : await img.jpeg().toBuffer());
      files.push(`${cls}/${name}`);
    }
  }
  await writeFile(path.join(root, 'beta', 'broken.png'), 'not a png');
  files.push('beta/broken.png');
  return files;
}

describe('curate from an S3 prefix (SeaweedFS)', () => {
  it('gives the same manifests as from disk', async () => {
    const root = path.join(tmp, 'ds');
    const files = await writeDataset(root);
    expect((await readdir(root)).sort()).toEqual(['alpha', 'beta', 'gamma']);
    for (const rel of files) await s3.putFile(`uploads/ds/${rel}`, path.join(root, rel));

    const options = { perClass: 3, testPerClass: 1, seed: 5, imageSize: 12 };
    const fromS3 = await curate({ ...options, source: { kind: 'store', prefix: 'uploads/ds/' } }, { store: s3 });
    const local = createLocalStore(path.join(tmp, 'store'));
    const fromDisk = await curate({ ...options, source: { kind: 'local', path: root } }, { store: local });

    expect(fromS3.inputHash).toBe(fromDisk.inputHash);
    expect(fromS3.trainManifest).toEqual(fromDisk.trainManifest);
    expect(fromS3.testManifest).toEqual(fromDisk.testManifest);
    expect((await s3.get(fromS3.trainManifest.key)).equals(await local.get(fromDisk.trainManifest.key))).toBe(true);
    expect(fromS3.counts).toEqual({ alpha: { train: 3, test: 1 }, beta: { train: 3, test: 1 }, gamma: { train: 3, test: 1 } });

    const report = await s3.getJson<CurationReport>(fromS3.reportKey);
    expect(report.rejected.map((r) => [r.path, r.reason])).toEqual([['beta/broken.png', 'not-an-image']]);
    const train = await readManifest(s3, fromS3.trainManifest);
    for (const item of train.items) expect(await s3.exists(item.key)).toBe(true);

    // Memoized on S3 too.
    const again = await curate({ ...options, source: { kind: 'store', prefix: 'uploads/ds' } }, { store: s3 });
    expect(again.computed).toBe(false);

    // And mix runs against the S3 store (only-original arm needs no synthetic manifest).
    const mixed = await mix({ original: fromS3.trainManifest, p: 0, arm: 'only-original', seed: 1 }, { store: s3 });
    expect(mixed.counts.alpha).toMatchObject({ original: 3, train: 3, val: 0 });
  });
});
