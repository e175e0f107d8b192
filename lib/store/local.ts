/**
 * The local directory store (the embedded default). This module is its byte I/O (a ByteBackend); the
 * store surface itself is lib/store/core.ts.
 *
 * Layout under the root directory:
 *   blobs/<sha[0..2]>/<sha256>   the bytes, content-addressed, immutable once renamed into place
 *   objects/<key>                a small pointer file: {"v":1,"sha256":…,"size":…,"contentType"?:…}
 *   tmp/                         temp files (same filesystem, so rename is atomic)
 *
 * A write stores the bytes as a blob first (temp file + fsync + rename + fsync of the directory), then
 * replaces the pointer atomically the same way. A reader reads the pointer once and then opens the blob
 * that pointer names, so it always verifies bytes against the sha256 recorded with them: it sees the old
 * object or the new one, never new meta against old bytes. Equal bytes share one blob (dedup).
 * Blobs no longer referenced by any pointer are not removed (no garbage collection yet).
 */
import { createReadStream } from 'node:fs';
import { mkdir, open as openFile, link, readdir, readFile, rename, rm, rmdir, stat as fsStat, unlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { BadInputError, CorruptObjectError, StoreUnavailableError, SynthmixError } from '../errors.js';
import { isSha256Hex, stableStringify } from '../hash.js';
import { HashingTransform, streamToNewFile } from './common.js';
import { uniqueSuffix } from '../temp-files.js';
import { createStoreCore, type OpenedObject, type Recorded } from './core.js';
import type { ArtifactStore } from './types.js';

interface Pointer {
  readonly v: 1;
  readonly sha256: string;
  readonly size: number;
  readonly contentType?: string;
}

/** Errors that mean "the disk/mount is in trouble", worth retrying later. */
const TRANSIENT_CODES = new Set(['EIO', 'ESTALE', 'ENOTCONN', 'ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'EHOSTDOWN']);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const STALE_TEMP_MS = 24 * 3600 * 1000;

async function fsyncDir(dir: string): Promise<void> {
  const handle = await openFile(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function unlinkQuiet(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

export interface LocalStore extends ArtifactStore {
  /** The absolute root directory. */
  readonly rootDir: string;
  /** Where the bytes of a recorded object live (for tests and tools; never write there). */
  blobPath(sha256: string): string;
}

export function createLocalStore(rootDir: string): LocalStore {
  if (typeof rootDir !== 'string' || rootDir === '') throw new BadInputError('local store: root directory is empty');
  const root = resolve(rootDir);
  const objectsDir = join(root, 'objects');
  const blobsDir = join(root, 'blobs');
  const tmpDir = join(root, 'tmp');
  const description = `local:${root}`;
  let tmpReady: Promise<void> | undefined;

  const blobPath = (sha: string): string => join(blobsDir, sha.slice(0, 2), sha);
  const objectPath = (key: string): string => join(objectsDir, ...key.split('/'));

  function mapError(error: unknown, op: string, key: string): unknown {
    if (error instanceof SynthmixError) return error;
    const code = errorCode(error);
    if (code && TRANSIENT_CODES.has(code)) {
      return new StoreUnavailableError(description, `${op} ${key}: ${code} ${(error as Error).message}`);
    }
    return error;
  }

  /** Create tmp/ once per store and sweep temp files that a crashed writer left behind. */
  function ensureTmp(): Promise<void> {
    tmpReady ??= (async () => {
      await mkdir(tmpDir, { recursive: true });
      const now = Date.now();
      const names = await readdir(tmpDir).catch(() => [] as string[]);
      for (const name of names) {
        const path = join(tmpDir, name);
        const info = await fsStat(path).catch(() => undefined);
        if (info && now - info.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true, recursive: true }).catch(() => undefined);
      }
    })().catch((error: unknown) => {
      tmpReady = undefined;
      throw error;
    });
    return tmpReady;
  }

  async function newTempPath(): Promise<string> {
    await ensureTmp();
    return join(tmpDir, `${uniqueSuffix()}.tmp`);
  }

  /** Write bytes to a fresh temp file and fsync it. */
  async function writeTemp(bytes: Buffer): Promise<string> {
    const tmp = await newTempPath();
    const handle = await openFile(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlinkQuiet(tmp);
      throw error;
    }
    await handle.close();
    return tmp;
  }

  /** Stream a body into a fresh temp file (fsynced), hashing it on the way. */
  async function streamToTemp(source: Readable): Promise<{ tmp: string; sha256: string; size: number }> {
    const tmp = await newTempPath();
    const hasher = new HashingTransform();
    try {
      await streamToNewFile(tmp, source, hasher);
    } catch (error) {
      await unlinkQuiet(tmp);
      throw error;
    }
    return { tmp, ...hasher.result() };
  }

  /** Rename an fsynced temp file into place as the blob for `sha`, and make the rename durable. */
  async function installBlob(tmp: string, sha: string): Promise<void> {
    const target = blobPath(sha);
    try {
      await mkdir(dirname(target), { recursive: true });
      await rename(tmp, target);
      await fsyncDir(dirname(target));
    } catch (error) {
      await unlinkQuiet(tmp);
      throw error;
    }
  }

  /** True if the blob for `sha` exists and its bytes hash right (a damaged blob gets rewritten). */
  async function blobIsGood(sha: string, size: number): Promise<boolean> {
    const path = blobPath(sha);
    const info = await fsStat(path).catch(() => undefined);
    if (!info || !info.isFile() || info.size !== size) return false;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
    return hash.digest('hex') === sha;
  }

  /** Atomically point `key` at a blob. */
  async function writePointer(key: string, pointer: Pointer): Promise<void> {
    const target = objectPath(key);
    const tmp = await writeTemp(Buffer.from(`${stableStringify(pointer)}\n`, 'utf8'));
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await mkdir(dirname(target), { recursive: true });
          await rename(tmp, target);
          break;
        } catch (error) {
          const code = errorCode(error);
          if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
            throw new BadInputError(`store key ${JSON.stringify(key)} conflicts with existing keys below "${key}/" in ${description}`);
          }
          if (code === 'ENOTDIR') {
            throw new BadInputError(`store key ${JSON.stringify(key)} conflicts with an existing key that is a prefix of it in ${description}`);
          }
          // ENOENT: a concurrent delete removed an empty parent directory between mkdir and rename.
          if (code !== 'ENOENT' || attempt >= 5) throw error;
        }
      }
      await fsyncDir(dirname(target));
    } catch (error) {
      await unlinkQuiet(tmp);
      throw error;
    }
  }

  /** Point `key` at a blob unless `key` exists: link(2) of a complete temp pointer fails with EEXIST atomically. */
  async function writePointerIfAbsent(key: string, pointer: Pointer): Promise<boolean> {
    const target = objectPath(key);
    const tmp = await writeTemp(Buffer.from(`${stableStringify(pointer)}\n`, 'utf8'));
    try {
      await mkdir(dirname(target), { recursive: true });
      try {
        await link(tmp, target);
      } catch (error) {
        if (errorCode(error) === 'EEXIST') {
          if ((await fsStat(target)).isDirectory()) throw new BadInputError(`store key ${JSON.stringify(key)} conflicts with existing keys below "${key}/" in ${description}`);
          return false;
        }
        throw error;
      }
      await fsyncDir(dirname(target));
      return true;
    } finally {
      await unlinkQuiet(tmp);
    }
  }

  /** The pointer of `key`, or undefined if there is no such object. */
  async function readPointer(key: string): Promise<Pointer | undefined> {
    let text: string;
    try {
      text = await readFile(objectPath(key), 'utf8');
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const p = parsed as Partial<Pointer> | undefined;
    if (!p || p.v !== 1 || !isSha256Hex(p.sha256) || typeof p.size !== 'number' || !Number.isSafeInteger(p.size) || p.size < 0) {
      throw new CorruptObjectError(key, '(a valid pointer file)', `unreadable pointer ${objectPath(key)}`);
    }
    return { v: 1, sha256: p.sha256, size: p.size, ...(p.contentType ? { contentType: p.contentType } : {}) };
  }

  function pointerFor(recorded: Recorded, contentType: string | undefined): Pointer {
    return { v: 1, sha256: recorded.sha256, size: recorded.size, ...(contentType ? { contentType } : {}) };
  }

  async function putBytes(key: string, bytes: Buffer, recorded: Recorded, contentType: string | undefined): Promise<void> {
    await repairBlob(bytes, recorded);
    await writePointer(key, pointerFor(recorded, contentType));
  }

  /** Rewrite the blob of `recorded` unless it is there with the right bytes. */
  async function repairBlob(bytes: Buffer, recorded: Recorded): Promise<void> {
    if (!(await blobIsGood(recorded.sha256, recorded.size))) await installBlob(await writeTemp(bytes), recorded.sha256);
  }

  async function putStream(key: string, source: Readable, contentType: string | undefined): Promise<Recorded> {
    const { tmp, sha256, size } = await streamToTemp(source);
    // Renaming over an existing blob is harmless (same bytes) and repairs a damaged one.
    await installBlob(tmp, sha256);
    await writePointer(key, pointerFor({ sha256, size }, contentType));
    return { sha256, size };
  }

  /** The pointer's blob as a stream; a missing blob is corruption (the pointer promised it). */
  async function open(key: string): Promise<OpenedObject | undefined> {
    const pointer = await readPointer(key);
    if (!pointer) return undefined;
    try {
      const handle = await openFile(blobPath(pointer.sha256), 'r');
      return { body: handle.createReadStream({ highWaterMark: 1 << 18 }), sha256: pointer.sha256, size: pointer.size };
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw new CorruptObjectError(key, pointer.sha256, `(bytes missing: ${blobPath(pointer.sha256)})`);
      throw error;
    }
  }

  async function listKeys(prefix: string): Promise<string[]> {
    const cut = prefix.lastIndexOf('/');
    const dirPart = cut < 0 ? '' : prefix.slice(0, cut);
    const namePrefix = prefix.slice(cut + 1);
    const keys: string[] = [];
    const walk = async (dirKey: string, top: boolean): Promise<void> => {
      const dir = dirKey === '' ? objectsDir : objectPath(dirKey);
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw error;
      }
      for (const entry of entries) {
        if (top && !entry.name.startsWith(namePrefix)) continue;
        const childKey = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
        if (entry.isDirectory()) await walk(childKey, false);
        else if (entry.isFile()) keys.push(childKey);
      }
    };
    await walk(dirPart, true);
    return keys;
  }

  async function remove(key: string): Promise<void> {
    const target = objectPath(key);
    try {
      await unlink(target);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      if (code === 'EISDIR' || code === 'EPERM') return; // a prefix of other keys, not an object
      throw error;
    }
    await fsyncDir(dirname(target)).catch(() => undefined);
    // Remove directories left empty, so the name can become an object key again.
    for (let dir = dirname(target); dir.startsWith(objectsDir + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
    }
  }

  return {
    ...createStoreCore({
      description,
      mapError,
      head: readPointer,
      open,
      putBytes,
      putBytesIfAbsent: async (key, bytes, recorded, contentType) => {
        await repairBlob(bytes, recorded);
        return writePointerIfAbsent(key, pointerFor(recorded, contentType));
      },
      putStream,
      putFile: (key, localPath, contentType) => putStream(key, createReadStream(localPath, { highWaterMark: 1 << 20 }), contentType),
      listKeys,
      delete: remove,
      repairUnchanged: (_key, bytes, recorded) => repairBlob(bytes, recorded),
    }),
    rootDir: root,
    blobPath,
  };
}
