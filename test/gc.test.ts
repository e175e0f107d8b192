/**
 * Issue 14 point 10: `synthmix gc` finds what killed runs leave behind and removes it only when asked:
 * local blobs no object names (old enough), S3 multipart uploads never completed; every object
 * stays readable. Real local store, real SeaweedFS, the real CLI for the dry run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../lib/config/load.js';
import { sha256Hex } from '../lib/hash.js';
import { collectGarbage } from '../lib/store/gc.js';
import { createLocalStore, createS3Store, type LocalStore, type S3Store } from '../lib/store/index.js';
import { withSeaweed } from './support/servers.js';

const seaweed = withSeaweed();
let tmp: string;
let local: LocalStore;
let s3: S3Store;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-gc-'));
  local = createLocalStore(path.join(tmp, 'store'));
  const { endpoint, bucket, region, accessKeyId, secretAccessKey } = seaweed.server;
  s3 = createS3Store({ bucket, prefix: 'gc', endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
});
afterAll(async () => {
  s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

const old = new Date(Date.now() - 48 * 60 * 60 * 1000);

describe('synthmix gc', () => {
  it('local: reports unreferenced blobs (dry run by default, CLI), removes them with --delete, keeps every object', async () => {
    await local.put('steps/a/out.bin', 'first bytes');
    await local.put('steps/a/out.bin', 'second bytes'); // the first blob is now unreferenced
    await local.put('steps/b/gone.bin', 'deleted bytes');
    await local.delete('steps/b/gone.bin');
    await local.put('steps/c/kept.bin', 'kept bytes');
    const orphans = [local.blobPath(sha256Hex('first bytes')), local.blobPath(sha256Hex('deleted bytes'))].sort();
    for (const sha of ['first bytes', 'second bytes', 'deleted bytes', 'kept bytes'].map((t) => sha256Hex(t))) await utimes(local.blobPath(sha), old, old);
    // A fresh orphan (a writer between its blob and its pointer) is left alone.
    await local.put('steps/d/fresh.bin', 'fresh orphan');
    await local.delete('steps/d/fresh.bin');

    const config = path.join(tmp, 'synthmix.json');
    await writeFile(config, JSON.stringify({ stateDir: path.join(tmp, 'state'), storage: { kind: 'local', dir: local.rootDir }, engine: { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work') } }));
    const cli = spawnSync(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'cli', 'synthmix.ts'), 'gc'], {
      cwd: projectRoot,
      env: { ...process.env, SYNTHMIX_CONFIG: config },
      encoding: 'utf8',
    });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/would remove \(dry run; --delete removes\): 2 unreferenced blobs/);
    for (const orphan of orphans) expect(cli.stdout).toContain(orphan);
    for (const orphan of orphans) expect(existsSync(orphan)).toBe(true);

    const removed = await collectGarbage(local, { delete: true });
    expect(removed.unreferencedBlobs).toEqual(orphans);
    for (const orphan of orphans) expect(existsSync(orphan)).toBe(false);
    expect(existsSync(local.blobPath(sha256Hex('fresh orphan')))).toBe(true);
    expect((await local.get('steps/a/out.bin')).toString()).toBe('second bytes');
    expect((await local.get('steps/c/kept.bin')).toString()).toBe('kept bytes');
  });

  it('S3: aborts multipart uploads a killed writer never completed', async () => {
    const client = seaweed.client();
    const { bucket } = seaweed.server;
    const started = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: s3.objectKey('steps/x/model.bin') }));
    await s3.put('steps/x/other.bin', 'a complete object');
    const uploads = async () => ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'gc/' }))).Uploads ?? []).map((u) => u.UploadId);
    expect(await uploads()).toContain(started.UploadId);

    const dry = await collectGarbage(s3, { graceMs: 0 });
    expect(dry.incompleteUploads).toEqual([`gc/steps/x/model.bin ${started.UploadId}`]);
    expect(await uploads()).toContain(started.UploadId);
    // Younger than the grace period: left alone.
    expect((await collectGarbage(s3, { delete: true })).incompleteUploads).toEqual([]);

    await collectGarbage(s3, { delete: true, graceMs: 0 });
    expect(await uploads()).not.toContain(started.UploadId);
    expect((await s3.get('steps/x/other.bin')).toString()).toBe('a complete object');
  });
});
