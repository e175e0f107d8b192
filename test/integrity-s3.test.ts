/**
 * Issue 14, the S3 points, on a real SeaweedFS server:
 * 4. a file atomically replaced while `putFile` uploads it is uploaded as it was when opened (never a
 *    permanent failure, never a mix of both versions);
 * 7. PUTs carry a checksum the server checks: bytes damaged after we hashed them are refused by the
 *    server (nothing stored); the engine input cache verifies before it trusts a file.
 */
import { randomBytes } from 'node:crypto';
import { readlinkSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../lib/hash.js';
import { EngineRunner } from '../lib/engine/runner.js';
import { createS3Store, type S3Store } from '../lib/store/index.js';
import { loadConfig } from '../lib/config/load.js';
import { withSeaweed } from './support/servers.js';

const seaweed = withSeaweed();
let tmp: string;
let s3: S3Store;
const PART = 5 * 1024 * 1024;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-integrity-s3-'));
  const { endpoint, bucket, region, accessKeyId, secretAccessKey } = seaweed.server;
  s3 = createS3Store({
    bucket, prefix: 'integrity', endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey },
    // Multipart from 5 MiB, so the upload of a small test file takes the large-file path; one attempt (no SDK retry hides a refusal).
    multipartThresholdBytes: PART, partSizeBytes: PART, maxAttempts: 1,
  });
});
afterAll(async () => {
  s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** True once this process holds `file` open (what putFile does when it starts hashing). */
function isOpenHere(file: string): boolean {
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** Corrupt one byte of the request body of the next S3 requests for objects whose key ends with `suffix`. */
function damageBodiesOf(store: S3Store, suffix: string): void {
  store.client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { path?: string; body?: unknown };
      if (typeof request.path === 'string' && request.path.endsWith(suffix) && request.body instanceof Uint8Array && request.body.length > 0) {
        const copy = Buffer.from(request.body);
        copy[copy.length >> 1] ^= 0xff;
        request.body = copy;
      }
      return next(args);
    },
    // After our checksums are set, before signing: what a bad NIC or proxy would do in transit.
    { step: 'finalizeRequest', priority: 'high', name: `damage-${suffix}` },
  );
}

describe('integrity on S3 (SeaweedFS)', () => {
  it('point 4: a file replaced (atomic rename) during its upload is uploaded as it was hashed', async () => {
    const file = path.join(tmp, 'checkpoint.pt');
    const before = randomBytes(3 * PART);
    const after = randomBytes(3 * PART);
    await writeFile(file, before);
    const replacement = path.join(tmp, 'checkpoint.pt.next');
    await writeFile(replacement, after);

    const upload = s3.putFile('ckpt/checkpoint.pt', file);
    // Replace the file the moment putFile has it open (hashing): the engine's checkpoint writer does the same.
    while (!isOpenHere(file)) await new Promise((resolve) => setImmediate(resolve));
    await rename(replacement, file);

    const info = await upload;
    expect(info.sha256).toBe(sha256Hex(before));
    const stored = await s3.get('ckpt/checkpoint.pt');
    expect(sha256Hex(stored)).toBe(sha256Hex(before));
  });

  it('point 7: a single PUT whose bytes are damaged in transit is refused by the server, retryably', async () => {
    damageBodiesOf(s3, '/damaged/small.bin');
    const error = await s3.put('damaged/small.bin', randomBytes(1000)).then(() => undefined, (e: unknown) => e as Error & { type?: string; nonRetryable?: boolean });
    expect(error?.type).toBe('StoreUnavailable');
    expect(error?.nonRetryable).toBe(false);
    expect(await s3.exists('damaged/small.bin')).toBe(false);
  });

  it('point 7: a multipart part damaged in transit is refused by the server (no object appears)', async () => {
    damageBodiesOf(s3, '/damaged/large.bin');
    const file = path.join(tmp, 'large.bin');
    await writeFile(file, randomBytes(2 * PART + 10));
    await expect(s3.putFile('damaged/large.bin', file)).rejects.toThrow(/BadDigest/);
    expect(await s3.exists('damaged/large.bin')).toBe(false);
  });

  it('point 7: the engine input cache never trusts wrong bytes under a sha name', async () => {
    const bytes = randomBytes(2048);
    const { sha256 } = await s3.put('inputs/weights.bin', bytes);
    const config = loadConfig({ env: {}, overrides: { engine: { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work') } } });
    // What a kill between "rename into the sha name" and "compare the sha" used to leave behind.
    const cached = path.join(config.engine.cacheDir, 'sha256', sha256.slice(0, 2), sha256);
    await mkdir(path.dirname(cached), { recursive: true });
    await writeFile(cached, 'wrong bytes');

    const runner = new EngineRunner(s3, config.engine);
    const fetched = await runner.fetchToCache('inputs/weights.bin', sha256);
    expect(sha256Hex(await readFile(fetched))).toBe(sha256);

    // A manifest expecting other bytes than the store holds: refused, and nothing lands under either name.
    const other = sha256Hex('other');
    await expect(runner.fetchToCache('inputs/weights.bin', other)).rejects.toThrow(/corrupt object inputs\/weights.bin/);
    expect(readdirSync(path.dirname(cached))).toEqual([sha256]);
    expect(readdirSync(path.join(config.engine.cacheDir, 'sha256')).filter((d) => d === other.slice(0, 2)).flatMap((d) => readdirSync(path.join(config.engine.cacheDir, 'sha256', d)))).toEqual([]);
  });
});
