/**
 * The artifact store contract against the local directory store and against a real SeaweedFS S3
 * server, plus what only one of them can show: crash-safety of local writes (a writer SIGKILLed
 * mid-put), and S3 going down and coming back.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { BadInputError, CorruptObjectError, StoreUnavailableError } from '../lib/errors.js';
import { hashJson, sha256File, sha256Hex, stableStringify } from '../lib/hash.js';
import { createLocalStore, type LocalStore } from '../lib/store/local.js';
import { createS3Store, type S3Store } from '../lib/store/s3.js';
import { createStore } from '../lib/store/index.js';
import { s3ClientConfig } from '../infra/seaweedfs.js';
import { withSeaweed } from './support/servers.js';
import { describeStoreContract, type StoreHarness } from './store.contract.js';
import { crashVersions } from './store.crash-versions.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'synthmix-store-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Hash helpers the stores rely on

describe('hash helpers', () => {
  it('hashes bytes, files and JSON deterministically', async () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const file = path.join(scratch, 'hash.txt');
    writeFileSync(file, 'abc');
    expect(await sha256File(file)).toBe(sha256Hex('abc'));
    expect(stableStringify({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: undefined }, '10': 0, '9': 0 })).toBe(
      '{"10":0,"9":0,"a":{"d":[3,{"e":2,"f":1}]},"b":1}',
    );
    expect(stableStringify([undefined, NaN, new Date(0)])).toBe('[null,null,"1970-01-01T00:00:00.000Z"]');
    expect(hashJson({ x: 1, y: [1, 2] })).toBe(hashJson({ y: [1, 2], x: 1 }));
    expect(hashJson({ x: 1 })).not.toBe(hashJson({ x: 2 }));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => stableStringify(cyclic)).toThrow(/cyclic/);
  });
});

// ---------------------------------------------------------------------------------------------
// Local directory store

function pointerFile(store: LocalStore, key: string): string {
  return path.join(store.rootDir, 'objects', ...key.split('/'));
}

function localHarness(root: string): StoreHarness {
  const store = createLocalStore(root);
  const readPointer = (key: string): Record<string, unknown> => JSON.parse(readFileSync(pointerFile(store, key), 'utf8')) as Record<string, unknown>;
  return {
    store,
    async corrupt(key) {
      const blob = store.blobPath(String(readPointer(key).sha256));
      const bytes = readFileSync(blob);
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(blob, bytes);
    },
    async mark(key) {
      writeFileSync(pointerFile(store, key), JSON.stringify({ ...readPointer(key), marked: true }));
    },
    async isMarked(key) {
      return readPointer(key).marked === true;
    },
    async cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

describeStoreContract('local', async () => localHarness(path.join(scratch, 'local-contract')));

describe('local store specifics', () => {
  it('keeps one blob for equal bytes, leaves no temp files, and uses the documented layout', async () => {
    const root = path.join(scratch, 'layout');
    const store = createStore({ kind: 'local', dir: root }) as LocalStore;
    expect(store.description).toBe(`local:${root}`);
    const a = await store.put('x/a.bin', 'same bytes');
    const b = await store.put('y/b.bin', Buffer.from('same bytes'));
    expect(a.sha256).toBe(b.sha256);
    expect(readdirSync(path.join(root, 'blobs', a.sha256.slice(0, 2)))).toEqual([a.sha256]);
    expect(readFileSync(store.blobPath(a.sha256), 'utf8')).toBe('same bytes');
    expect(JSON.parse(readFileSync(pointerFile(store, 'x/a.bin'), 'utf8'))).toMatchObject({ sha256: a.sha256, size: 10 });
    expect(readdirSync(path.join(root, 'tmp'))).toEqual([]);
  });

  it('rejects a key that collides with a directory of other keys, naming it', async () => {
    const store = createLocalStore(path.join(scratch, 'collide'));
    await store.put('a/b', 'file');
    const below = await store.put('a/b/c', 'x').then(() => undefined, (error: unknown) => error);
    expect(below).toBeInstanceOf(BadInputError);
    expect((below as Error).message).toContain('"a/b/c"');
    await store.put('p/q/r', 'x');
    const above = await store.put('p/q', 'x').then(() => undefined, (error: unknown) => error);
    expect(above).toBeInstanceOf(BadInputError);
    expect((above as Error).message).toContain('"p/q"');
    expect((await store.get('a/b')).toString()).toBe('file');
  });

  it('survives a writer killed mid-put: readers get an old or a new version, never a torn or unverifiable one', async () => {
    const root = path.join(scratch, 'crash');
    const key = 'runs/r1/model.bin';
    const versions = crashVersions();
    const known = new Set(versions.map((v) => sha256Hex(v)));
    const store = createLocalStore(root);
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'store.crash-child.ts'), root, key], {
        cwd: path.dirname(here),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`crash child exited early with ${code}`)));
        child.stdout.on('data', (data: Buffer) => {
          if (data.toString().includes('ready')) resolve();
        });
      });
      // Let it overwrite a few times, then kill it wherever it is.
      await new Promise((resolve) => setTimeout(resolve, 300 + round * 170));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const bytes = await store.get(key);
      expect(known.has(sha256Hex(bytes))).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// S3 (a real SeaweedFS server)

describe('s3 store on SeaweedFS', () => {
  const s3 = withSeaweed({ dataDir: path.join(scratch, 'seaweed'), bucket: 'store-test' });
  const stores: S3Store[] = [];
  afterAll(() => {
    for (const store of stores) store.close();
  });

  function makeS3Store(prefix: string, extra: Partial<Parameters<typeof createS3Store>[0]> = {}): S3Store {
    const server = s3.server;
    const store = createS3Store({
      bucket: server.bucket,
      prefix,
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      // Small parts so the large-object case is a real multipart upload of many parts, with little memory.
      partSizeBytes: 5 * 1024 * 1024,
      multipartThresholdBytes: 5 * 1024 * 1024,
      queueSize: 1,
      ...extra,
    });
    stores.push(store);
    return store;
  }

  describeStoreContract('s3 (SeaweedFS)', async () => {
    const store = makeS3Store('contract-run');
    const client: S3Client = s3.client();
    const bucket = s3.server.bucket;
    const raw = async (key: string): Promise<{ bytes: Buffer; metadata: Record<string, string> }> => {
      const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: store.objectKey(key) }));
      return { bytes: Buffer.from(await response.Body!.transformToByteArray()), metadata: response.Metadata ?? {} };
    };
    const rawPut = async (key: string, bytes: Buffer, metadata: Record<string, string>): Promise<void> => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: store.objectKey(key), Body: bytes, Metadata: metadata }));
    };
    return {
      store,
      async corrupt(key) {
        // Different bytes (same length), the old recorded sha256.
        const { bytes, metadata } = await raw(key);
        bytes[bytes.length >> 1] ^= 0xff;
        await rawPut(key, bytes, { sha256: metadata.sha256 });
      },
      async mark(key) {
        const { bytes, metadata } = await raw(key);
        await rawPut(key, bytes, { ...metadata, marked: 'yes' });
      },
      async isMarked(key) {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: store.objectKey(key) }));
        return head.Metadata?.marked === 'yes';
      },
      async cleanup() {
        store.close();
      },
    };
  });

  it('records the sha256 as x-amz-meta-sha256 under the prefix', async () => {
    const store = makeS3Store('layout/pfx');
    expect(store.description).toBe(`s3://${s3.server.bucket}/layout/pfx (${s3.server.endpoint})`);
    const info = await store.put('a/b.txt', 'layout');
    const head = await s3.client().send(new HeadObjectCommand({ Bucket: s3.server.bucket, Key: 'layout/pfx/a/b.txt' }));
    expect(head.Metadata?.sha256).toBe(info.sha256);
    expect(head.ContentLength).toBe(6);
  });

  it('treats an object with an unreadable recorded sha256 as corrupt (one without any is read: store-foreign-s3.test.ts)', async () => {
    const store = makeS3Store('foreign');
    await s3.client().send(new PutObjectCommand({ Bucket: s3.server.bucket, Key: 'foreign/raw.txt', Body: 'written by someone else', Metadata: { sha256: 'not-a-sha' } }));
    const error = await store.get('raw.txt').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptObjectError);
    expect((error as Error).message).toContain('raw.txt');
  });

  it('reports bad credentials and a missing bucket as permanent errors without leaking the secret', async () => {
    const secret = 'definitely-wrong-secret-value';
    const bad = makeS3Store('x', { credentials: { accessKeyId: s3.server.accessKeyId, secretAccessKey: secret } });
    const denied = await bad.get('k').then(() => undefined, (e: unknown) => e);
    expect(denied).toBeInstanceOf(BadInputError);
    expect((denied as Error).message).not.toContain(secret);
    expect((denied as Error).message).toContain(s3.server.endpoint);
    // (Reads only: SeaweedFS creates a missing bucket on the first PUT by an admin identity.)
    const nobucket = makeS3Store('x', { bucket: 'no-such-bucket-here' });
    for (const attempt of [() => nobucket.get('k'), () => nobucket.list('')]) {
      const missing = await attempt().then(() => undefined, (e: unknown) => e);
      expect(missing).toBeInstanceOf(BadInputError);
      expect((missing as Error).message).toContain('no-such-bucket-here');
    }
  });

  it('fails fast with a retryable StoreUnavailableError while the server is down, and works again after a restart', async () => {
    const store = makeS3Store('outage');
    const before = await store.put('kept.txt', 'survives the outage');
    await s3.server.stop();
    try {
      const attempts: Array<[string, () => Promise<unknown>]> = [
        ['get', () => store.get('kept.txt')],
        ['put', () => store.put('new.txt', 'x')],
        ['stat', () => store.stat('kept.txt')],
        ['list', () => store.list('')],
        ['getStream', () => store.getStream('kept.txt')],
      ];
      for (const [op, attempt] of attempts) {
        const started = Date.now();
        const error = await attempt().then(() => undefined, (e: unknown) => e);
        // No timing assertion (speed belongs in bench/); the elapsed time is logged for the record.
        console.log(`s3 down: ${op} failed after ${Date.now() - started} ms`);
        expect(error, op).toBeInstanceOf(StoreUnavailableError);
        expect((error as StoreUnavailableError).nonRetryable, op).toBe(false);
        expect((error as Error).message, op).toContain(s3.server.endpoint);
        expect((error as Error).message, op).not.toContain(s3.server.secretAccessKey);
      }
    } finally {
      await s3.server.restart();
    }
    expect((await store.get('kept.txt')).toString()).toBe('survives the outage');
    expect(await store.stat('kept.txt')).toEqual(before);
    await store.put('after.txt', 'back');
    expect((await store.get('after.txt')).toString()).toBe('back');
  });

  it('is what createStore builds from s3 settings', async () => {
    const server = s3.server;
    const store = createStore({
      kind: 's3',
      bucket: server.bucket,
      prefix: 'via-settings',
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    }) as S3Store;
    stores.push(store);
    await store.put('k', 'v');
    expect((await store.get('k')).toString()).toBe('v');
    // The raw client config helper agrees with the store about where things are.
    const raw = new S3Client(s3ClientConfig(server));
    try {
      const head = await raw.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'via-settings/k' }));
      expect(head.Metadata?.sha256).toBe(sha256Hex('v'));
    } finally {
      raw.destroy();
    }
  });
});
