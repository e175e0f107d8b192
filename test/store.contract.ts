/**
 * The artifact store contract (lib/store/types.ts), run against every implementation by
 * test/store.test.ts. Each implementation supplies a real store plus two ways to reach behind it:
 * `corrupt` (damage the stored bytes, keeping the recorded sha256) and `mark`/`isMarked` (make an
 * in-place change that any rewrite of the object would undo, to prove a write did not happen).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError, CorruptObjectError, NotFoundError } from '../lib/errors.js';
import { hashFile, sha256Hex } from '../lib/hash.js';
import type { ArtifactStore } from '../lib/store/types.js';

export interface StoreHarness {
  readonly store: ArtifactStore;
  /** Change the stored bytes of `key` (same length) while keeping its recorded sha256. */
  corrupt(key: string): Promise<void>;
  /** Change the stored object of `key` in place, without changing its bytes or recorded sha256... */
  mark(key: string): Promise<void>;
  /** ...so that this stays true until something rewrites the object. */
  isMarked(key: string): Promise<boolean>;
  cleanup(): Promise<void>;
}

/** Deterministic pseudo-random bytes. */
export function bytesOf(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

/** A lazily generated stream of `total` bytes (1 MiB chunks, each distinct) and the sha256 it will have. */
function generatedStream(total: number): { stream: Readable; sha256: string } {
  const block = bytesOf(1 << 20, 7);
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += block.length) {
    block.writeUInt32BE(sent >>> 20, 0);
    hash.update(block.subarray(0, Math.min(block.length, total - sent)));
  }
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const chunk = Buffer.from(block.subarray(0, Math.min(block.length, total - sent)));
      chunk.writeUInt32BE(sent >>> 20, 0);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, sha256: hash.digest('hex') };
}

let gcFn: (() => void) | undefined;
function gc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** Peak growth of live JS heap + Buffer memory while `fn` runs (sampled after a GC every 25 ms). */
async function peakMemoryGrowth(fn: () => Promise<void>): Promise<number> {
  gc();
  const before = process.memoryUsage();
  const baseline = before.heapUsed + before.arrayBuffers;
  let peak = 0;
  const sample = (): void => {
    gc();
    const now = process.memoryUsage();
    peak = Math.max(peak, now.heapUsed + now.arrayBuffers - baseline);
  };
  const timer = setInterval(sample, 25);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  sample();
  return peak;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function streamSha(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const LARGE = 40 * 1024 * 1024;

export function describeStoreContract(name: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`artifact store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: ArtifactStore;
    let scratch: string;
    let counter = 0;
    /** A fresh key namespace per test, so tests never see each other's objects. */
    const ns = (): string => `contract/t${++counter}`;

    beforeAll(async () => {
      h = await makeStore();
      store = h.store;
      scratch = mkdtempSync(path.join(os.tmpdir(), 'synthmix-store-contract-'));
    });
    afterAll(async () => {
      await h?.cleanup();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('describes itself without secrets', () => {
      expect(store.description.length).toBeGreaterThan(0);
      expect(store.description).not.toMatch(/secret/i);
    });

    it('round-trips a Buffer, a Uint8Array, a string, a stream and a file', async () => {
      const p = ns();
      const bytes = bytesOf(100_000, 1);
      const cases: Array<[string, () => Promise<unknown>, Buffer]> = [
        ['buffer', () => store.put(`${p}/buffer.bin`, bytes), bytes],
        ['u8', () => store.put(`${p}/u8.bin`, new Uint8Array(bytes.buffer, bytes.byteOffset + 10, 500)), bytes.subarray(10, 510)],
        ['string', () => store.put(`${p}/string.txt`, 'héllo wörld ✓\n'), Buffer.from('héllo wörld ✓\n', 'utf8')],
        ['stream', () => store.put(`${p}/stream.bin`, Readable.from([bytes.subarray(0, 7), bytes.subarray(7)])), bytes],
        ['empty', () => store.put(`${p}/empty.bin`, Buffer.alloc(0)), Buffer.alloc(0)],
        [
          'file',
          async () => {
            const file = path.join(scratch, 'upload.bin');
            writeFileSync(file, bytes.subarray(0, 4321));
            return store.putFile(`${p}/file.bin`, file);
          },
          bytes.subarray(0, 4321),
        ],
      ];
      for (const [label, put, expected] of cases) {
        const key = `${p}/${label === 'string' ? 'string.txt' : `${label}.bin`}`;
        const info = await put();
        expect(info, label).toEqual({ key, sha256: sha256Hex(expected), size: expected.length });
        expect((await store.get(key)).equals(expected), label).toBe(true);
        expect((await readAll(await store.getStream(key))).equals(expected), label).toBe(true);
        const out = path.join(scratch, 'down', `${label}.out`);
        expect(await store.getToFile(key, out), label).toEqual(info);
        expect(readFileSync(out).equals(expected), label).toBe(true);
      }
    });

    it('round-trips JSON deterministically', async () => {
      const p = ns();
      const a = await store.putJson(`${p}/a.json`, { b: [1, 'two', { d: null, c: true }], a: 1.5 });
      const b = await store.putJson(`${p}/b.json`, { a: 1.5, b: [1, 'two', { c: true, d: null }] });
      expect(a.sha256).toBe(b.sha256);
      expect(await store.getJson(`${p}/a.json`)).toEqual({ a: 1.5, b: [1, 'two', { c: true, d: null }] });
      await store.put(`${p}/not.json`, '{nope');
      expect(await rejection(store.getJson(`${p}/not.json`))).toBeInstanceOf(BadInputError);
    });

    it('answers exists and stat', async () => {
      const p = ns();
      expect(await store.exists(`${p}/x`)).toBe(false);
      expect(await store.stat(`${p}/x`)).toBeUndefined();
      await store.put(`${p}/x`, 'abc');
      expect(await store.exists(`${p}/x`)).toBe(true);
      expect(await store.stat(`${p}/x`)).toEqual({ key: `${p}/x`, sha256: sha256Hex('abc'), size: 3 });
      // A prefix of existing keys is not an object.
      expect(await store.exists(p)).toBe(false);
      expect(await store.stat(p)).toBeUndefined();
    });

    it('lists by prefix, sorted, honouring prefix boundaries', async () => {
      const p = ns();
      const keys = [`${p}/list/x2`, `${p}/list/x10`, `${p}/list/x1`, `${p}/list/sub/y`, `${p}/list/Z`, `${p}/listing/z`, `${p}/lis`];
      for (const key of keys) await store.put(key, key);
      const listed = await store.list(`${p}/list/`);
      expect(listed.map((i) => i.key)).toEqual([`${p}/list/Z`, `${p}/list/sub/y`, `${p}/list/x1`, `${p}/list/x10`, `${p}/list/x2`]);
      for (const info of listed) expect(info).toEqual({ key: info.key, sha256: sha256Hex(info.key), size: Buffer.byteLength(info.key) });
      expect((await store.list(`${p}/list`)).map((i) => i.key)).toEqual([
        `${p}/list/Z`, `${p}/list/sub/y`, `${p}/list/x1`, `${p}/list/x10`, `${p}/list/x2`, `${p}/listing/z`,
      ]);
      expect((await store.list(`${p}/list/x1`)).map((i) => i.key)).toEqual([`${p}/list/x1`, `${p}/list/x10`]);
      expect((await store.list(`${p}/lis`)).length).toBe(7);
      expect(await store.list(`${p}/nothing/`)).toEqual([]);
      expect(await store.list(`${p}/list/x10/`)).toEqual([]);
    });

    it('deletes (idempotently)', async () => {
      const p = ns();
      await store.put(`${p}/d/x`, 'x');
      await store.put(`${p}/d/y`, 'y');
      await store.delete(`${p}/d/x`);
      expect(await store.exists(`${p}/d/x`)).toBe(false);
      expect(await rejection(store.get(`${p}/d/x`))).toBeInstanceOf(NotFoundError);
      expect((await store.list(`${p}/`)).map((i) => i.key)).toEqual([`${p}/d/y`]);
      await store.delete(`${p}/d/x`);
      await store.delete(`${p}/never/was`);
      // After deleting everything below it, a former prefix can become a key.
      await store.delete(`${p}/d/y`);
      await store.put(`${p}/d`, 'now a key');
      expect((await store.get(`${p}/d`)).toString()).toBe('now a key');
    });

    it('overwrites', async () => {
      const p = ns();
      await store.put(`${p}/o`, 'first version');
      const second = await store.put(`${p}/o`, 'second');
      expect(second).toEqual({ key: `${p}/o`, sha256: sha256Hex('second'), size: 6 });
      expect((await store.get(`${p}/o`)).toString()).toBe('second');
      expect(await store.stat(`${p}/o`)).toEqual(second);
      expect(await store.list(`${p}/`)).toEqual([second]);
    });

    it('stores content-addressed objects once', async () => {
      const p = ns();
      const bytes = bytesOf(5000, 3);
      const sha = sha256Hex(bytes);
      const first = await store.putContentAddressed(`${p}/cas`, bytes, '.bin');
      expect(first).toEqual({ key: `${p}/cas/${sha}.bin`, sha256: sha, size: 5000 });
      await h.mark(first.key);
      expect(await h.isMarked(first.key)).toBe(true);
      const again = await store.putContentAddressed(`${p}/cas/`, new Uint8Array(bytes), '.bin');
      expect(again).toEqual(first);
      expect(await h.isMarked(first.key)).toBe(true); // not rewritten
      // A plain put does rewrite (the mark goes away): the mark is a real witness.
      await store.put(first.key, bytes);
      expect(await h.isMarked(first.key)).toBe(false);
      const other = await store.putContentAddressed(`${p}/cas`, bytesOf(5000, 4), '.bin');
      expect(other.key).not.toBe(first.key);
      expect((await store.list(`${p}/cas/`)).map((i) => i.key)).toEqual([first.key, other.key].sort());
      expect((await store.get(first.key)).equals(bytes)).toBe(true);
      expect(await rejection(store.putContentAddressed(`${p}/cas`, bytes, 'bin/..'))).toBeInstanceOf(BadInputError);
    });

    it('streams a large object both ways with bounded memory', async () => {
      const p = ns();
      const key = `${p}/large.bin`;
      const source = generatedStream(LARGE);
      const bound = (LARGE * 3) / 4; // well below the object: nothing may hold it whole
      let info: unknown;
      const putPeak = await peakMemoryGrowth(async () => {
        info = await store.put(key, source.stream);
      });
      expect(info).toEqual({ key, sha256: source.sha256, size: LARGE });
      expect(putPeak).toBeLessThan(bound);

      let read: { sha256: string; size: number } | undefined;
      const streamPeak = await peakMemoryGrowth(async () => {
        read = await streamSha(await store.getStream(key));
      });
      expect(read).toEqual({ sha256: source.sha256, size: LARGE });
      expect(streamPeak).toBeLessThan(bound);

      const out = path.join(scratch, 'large.out');
      const filePeak = await peakMemoryGrowth(async () => {
        await store.getToFile(key, out);
      });
      expect(await hashFile(out)).toEqual({ sha256: source.sha256, size: LARGE });
      expect(filePeak).toBeLessThan(bound);
      const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
      console.log(`${name}: ${mb(LARGE)} MiB object, peak memory growth put ${mb(putPeak)} / getStream ${mb(streamPeak)} / getToFile ${mb(filePeak)} MiB`);

      // putFile streams too.
      const fileInfo = await store.putFile(`${p}/large-copy.bin`, out);
      expect(fileInfo).toEqual({ key: `${p}/large-copy.bin`, sha256: source.sha256, size: LARGE });
      rmSync(out);
      await store.delete(key);
      await store.delete(`${p}/large-copy.bin`);
    });

    it('overwrites atomically: concurrent readers see the old or the new object, whole', async () => {
      const p = ns();
      const key = `${p}/atomic.bin`;
      const versions = [bytesOf(1_500_000, 11), bytesOf(1_300_000, 12)];
      const known = new Set(versions.map((v) => sha256Hex(v)));
      await store.put(key, versions[0]);
      let writing = true;
      const seen = new Map<string, number>();
      const see = (bytes: Buffer): void => {
        const sha = sha256Hex(bytes);
        expect(known.has(sha), `a reader saw ${bytes.length} bytes that are neither version`).toBe(true);
        seen.set(sha, (seen.get(sha) ?? 0) + 1);
      };
      const writer = (async () => {
        try {
          for (let i = 1; i <= 8; i++) await store.put(key, i % 2 === 1 ? Readable.from([versions[1]]) : versions[0]);
        } finally {
          writing = false;
        }
      })();
      const reader = async (mode: 'get' | 'stream'): Promise<void> => {
        do {
          see(mode === 'get' ? await store.get(key) : await readAll(await store.getStream(key)));
        } while (writing);
      };
      await Promise.all([writer, reader('get'), reader('get'), reader('stream')]);
      expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect((await store.get(key)).equals(versions[0])).toBe(true);
    });

    it('detects corrupt objects on every read and never hands out the bad bytes', async () => {
      const p = ns();
      const key = `${p}/bad/object.bin`;
      await store.put(key, bytesOf(70_000, 21));
      await h.corrupt(key);
      const isCorrupt = (error: unknown): void => {
        expect(error).toBeInstanceOf(CorruptObjectError);
        expect((error as CorruptObjectError).key).toBe(key);
        expect((error as Error).message).toContain(key);
        expect((error as CorruptObjectError).nonRetryable).toBe(true);
      };
      isCorrupt(await rejection(store.get(key)));
      isCorrupt(await rejection(store.getJson(key)));
      isCorrupt(await rejection(readAll(await store.getStream(key))));
      const dir = path.join(scratch, 'corrupt');
      const out = path.join(dir, 'object.bin');
      isCorrupt(await rejection(store.getToFile(key, out)));
      expect(existsSync(out)).toBe(false);
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]); // no temp file left behind
      // Writing the object again repairs it.
      await store.put(key, bytesOf(70_000, 21));
      expect((await store.get(key)).equals(bytesOf(70_000, 21))).toBe(true);
    });

    it('reports missing objects as NotFoundError', async () => {
      const p = ns();
      const key = `${p}/missing/thing`;
      for (const attempt of [
        () => store.get(key),
        () => store.getStream(key),
        () => store.getToFile(key, path.join(scratch, 'missing.out')),
        () => store.getJson(key),
      ]) {
        const error = await rejection(attempt());
        expect(error).toBeInstanceOf(NotFoundError);
        expect((error as NotFoundError).key).toBe(key);
        expect((error as NotFoundError).nonRetryable).toBe(true);
      }
      expect(existsSync(path.join(scratch, 'missing.out'))).toBe(false);
    });

    it('rejects unsafe keys with BadInputError naming the key', async () => {
      const unsafe = ['', '/etc/passwd', 'a//b', 'a/../b', '..', '../x', 'a/./b', './a', 'a/', 'a\\b', 'a\0b', 'C:/x', 'a/\nb'];
      for (const key of unsafe) {
        for (const attempt of [
          () => store.put(key, 'x'),
          () => store.get(key),
          () => store.getStream(key),
          () => store.stat(key),
          () => store.exists(key),
          () => store.delete(key),
          () => store.putFile(key, path.join(scratch, 'nope')),
          () => store.getToFile(key, path.join(scratch, 'nope')),
          () => store.putJson(key, {}),
        ]) {
          const error = await rejection(attempt());
          expect(error, JSON.stringify(key)).toBeInstanceOf(BadInputError);
          expect((error as Error).message).toContain(JSON.stringify(key));
        }
      }
      for (const prefix of ['/abs', 'a/../b', '..', 'a\\b']) {
        expect(await rejection(store.list(prefix)), prefix).toBeInstanceOf(BadInputError);
      }
      expect(await rejection(store.putContentAddressed('../up', Buffer.from('x')))).toBeInstanceOf(BadInputError);
    });
  });
}
