/**
 * Issue 13 point 3: the S3 store reads objects other tools wrote (plain PutObject, no
 * `x-amz-meta-sha256`), on a real SeaweedFS server: an image folder and a small model folder are
 * listed, read, hashed and used by curate; folder markers are ignored; an object rewritten after its
 * hash was recorded gets its new hash (the old record is never trusted for it); a record that
 * disagrees with the bytes fails the read.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curate } from '../activities/curate.js';
import { hashJson, sha256Hex, stableStringify } from '../lib/hash.js';
import { createRng } from '../lib/random.js';
import { createLocalStore, createS3Store, type S3Store } from '../lib/store/index.js';
import { FOREIGN_HASH_FOLDER, fullObjectSha256, versionOf } from '../lib/store/s3-foreign.js';
import { withSeaweed } from './support/servers.js';

const seaweed = withSeaweed();
const PREFIX = 'foreign';
let tmp: string;
let s3: S3Store;
let raw: S3Client;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-foreign-s3-'));
  const { endpoint, bucket, region, accessKeyId, secretAccessKey } = seaweed.server;
  s3 = createS3Store({ bucket, prefix: PREFIX, endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  raw = seaweed.client();
});
afterAll(async () => {
  s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** What `aws s3 cp` without extra flags does: the bytes, no user metadata (optionally the SDK's SHA-256 checksum). */
async function foreignPut(key: string, body: Buffer, withChecksum = false): Promise<void> {
  await raw.send(new PutObjectCommand({
    Bucket: seaweed.server.bucket, Key: `${PREFIX}/${key}`, Body: body,
    ...(withChecksum ? { ChecksumSHA256: createHash('sha256').update(body).digest('base64') } : {}),
  }));
}

async function randomImage(seed: number, png: boolean): Promise<Buffer> {
  const rng = createRng(seed);
  const pixels = Buffer.alloc(16 * 16 * 3);
  for (let j = 0; j < pixels.length; j++) pixels[j] = rng.int(256);
  const img = sharp(pixels, { raw: { width: 16, height: 16, channels: 3 } });
  return png ? img.png().toBuffer() : img.jpeg().toBuffer();
}

/** The same image folder on disk and, uploaded by "another tool", under `uploads/ds/` (with folder markers). */
async function uploadDataset(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let seed = 1;
  await foreignPut('uploads/ds/', Buffer.alloc(0));
  for (const cls of ['cat', 'dog']) {
    await mkdir(path.join(root, cls), { recursive: true });
    await foreignPut(`uploads/ds/${cls}/`, Buffer.alloc(0));
    for (let i = 0; i < 4; i++) {
      const name = `${i}.${i % 2 ? 'jpg' : 'png'}`;
      const bytes = await randomImage(seed++, i % 2 === 0);
      await writeFile(path.join(root, cls, name), bytes);
      await foreignPut(`uploads/ds/${cls}/${name}`, bytes);
      files.set(`uploads/ds/${cls}/${name}`, bytes);
    }
  }
  return files;
}

async function recordKeys(): Promise<string[]> {
  const answer = await raw.send(new ListObjectsV2Command({ Bucket: seaweed.server.bucket, Prefix: `${PREFIX}/${FOREIGN_HASH_FOLDER}` }));
  return (answer.Contents ?? []).map((o) => o.Key ?? '');
}

describe('objects written by other tools on S3 (SeaweedFS)', () => {
  it('a model folder without synthmix metadata is listed, read and hashed; folder markers are ignored', async () => {
    const model = new Map<string, { bytes: Buffer; checksum: boolean }>([
      ['uploads/sd/model_index.json', { bytes: Buffer.from('{"_class_name": "StableDiffusionPipeline"}\n'), checksum: false }],
      ['uploads/sd/unet/config.json', { bytes: Buffer.from('{"sample_size": 8}\n'), checksum: true }],
      ['uploads/sd/unet/diffusion_pytorch_model.safetensors', { bytes: randomBytes(70_000), checksum: false }],
      ['uploads/sd/vae/diffusion_pytorch_model.safetensors', { bytes: randomBytes(30_000), checksum: true }],
    ]);
    await foreignPut('uploads/sd/', Buffer.alloc(0));
    await foreignPut('uploads/sd/unet/', Buffer.alloc(0));
    for (const [key, { bytes, checksum }] of model) await foreignPut(key, bytes, checksum);
    const before = (await recordKeys()).length;

    const listed = await s3.list('uploads/sd/');
    expect(listed).toEqual([...model.keys()].sort().map((key) => ({ key, sha256: sha256Hex(model.get(key)!.bytes), size: model.get(key)!.bytes.length })));
    // Hash records only for the objects that carry no full-object checksum of their own.
    expect((await recordKeys()).length - before).toBe([...model.values()].filter((m) => !m.checksum).length);
    // Records are not store objects.
    expect((await s3.list('')).some((o) => o.key.startsWith('_synthmix/'))).toBe(false);

    for (const [key, { bytes }] of model) {
      expect((await s3.get(key)).equals(bytes)).toBe(true);
      const file = path.join(tmp, 'model', key);
      const info = await s3.getToFile(key, file);
      expect(info.sha256).toBe(sha256Hex(bytes));
      expect((await readFile(file)).equals(bytes)).toBe(true);
    }
    // A second listing reads the records instead of the bytes: the same answer.
    expect(await s3.list('uploads/sd/')).toEqual(listed);
  });

  it('an image folder uploaded by another tool is curated as from disk; a rewritten image is a new hash and a new curation', async () => {
    const root = path.join(tmp, 'ds');
    const files = await uploadDataset(root);
    const options = { perClass: 2, testPerClass: 1, seed: 3, imageSize: 8 };
    const fromS3 = await curate({ ...options, source: { kind: 'store', prefix: 'uploads/ds/' } }, { store: s3 });
    const fromDisk = await curate({ ...options, source: { kind: 'local', path: root } }, { store: createLocalStore(path.join(tmp, 'store')) });
    expect(fromS3.computed).toBe(true);
    expect(fromS3.counts).toEqual({ cat: { train: 2, test: 1 }, dog: { train: 2, test: 1 } });
    expect(fromS3.inputHash).toBe(fromDisk.inputHash);
    expect(fromS3.trainManifest).toEqual(fromDisk.trainManifest);
    expect(fromS3.testManifest).toEqual(fromDisk.testManifest);
    expect((await curate({ ...options, source: { kind: 'store', prefix: 'uploads/ds/' } }, { store: s3 })).computed).toBe(false);

    // Another tool replaces one image after its hash was recorded.
    const changed = 'uploads/ds/cat/0.png';
    const oldSha = sha256Hex(files.get(changed)!);
    const replacement = await randomImage(99, true);
    await foreignPut(changed, replacement);
    const stat = await s3.stat(changed);
    expect(stat?.sha256).toBe(sha256Hex(replacement));
    expect(stat?.sha256).not.toBe(oldSha);
    expect((await s3.get(changed)).equals(replacement)).toBe(true);
    const again = await curate({ ...options, source: { kind: 'store', prefix: 'uploads/ds/' } }, { store: s3 });
    expect(again.computed).toBe(true);
    expect(again.inputHash).not.toBe(fromS3.inputHash);
  });

  it('a hash record that disagrees with the bytes fails the read (it never lets the bytes through)', async () => {
    const key = 'uploads/forged.bin';
    const bytes = randomBytes(500);
    await foreignPut(key, bytes);
    const head = await raw.send(new HeadObjectCommand({ Bucket: seaweed.server.bucket, Key: `${PREFIX}/${key}` }));
    const version = versionOf(`${PREFIX}/${key}`, head)!;
    // A record naming this very version, well-formed and self-consistent, with another sha256.
    const record = Buffer.from(`${stableStringify({ v: 1, ...version, sha256: sha256Hex('other bytes') }, 2)}\n`);
    await raw.send(new PutObjectCommand({
      Bucket: seaweed.server.bucket, Key: `${PREFIX}/${FOREIGN_HASH_FOLDER}${hashJson(version)}.json`, Body: record,
      Metadata: { sha256: sha256Hex(record) },
    }));
    await expect(s3.get(key)).rejects.toMatchObject({ type: 'CorruptObject' });
    await expect(s3.get(key)).rejects.toThrow(/corrupt object uploads\/forged\.bin/);
  });

  it('only a full-object SHA-256 checksum is taken as the hash of the bytes', () => {
    const sha = createHash('sha256').update('abc').digest();
    expect(fullObjectSha256({ ChecksumSHA256: sha.toString('base64') })).toBe(sha.toString('hex'));
    expect(fullObjectSha256({ ChecksumSHA256: sha.toString('base64'), ChecksumType: 'FULL_OBJECT' })).toBe(sha.toString('hex'));
    // A multipart upload's composite checksum is a hash of part hashes, not of the bytes.
    expect(fullObjectSha256({ ChecksumSHA256: `${sha.toString('base64')}-3`, ChecksumType: 'COMPOSITE' })).toBeUndefined();
    expect(fullObjectSha256({ ChecksumSHA256: `${sha.toString('base64')}-3` })).toBeUndefined();
    expect(fullObjectSha256({ ChecksumSHA256: sha.toString('base64'), ChecksumType: 'COMPOSITE' })).toBeUndefined();
    expect(fullObjectSha256({})).toBeUndefined();
  });
});
