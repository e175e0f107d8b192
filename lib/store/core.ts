/**
 * The one implementation of the ArtifactStore surface (lib/store/types.ts) over a small byte-I/O
 * backend. The core owns everything the store promises regardless of where bytes live: key, prefix,
 * extension and body checks, the sha256 recorded at write time and verified on every read,
 * content-addressed writes, JSON, sorted listings and error mapping. A backend only moves bytes and
 * their record (sha256 + size) in and out of its medium.
 */
import { mkdir, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { mapLimit } from '../concurrency.js';
import { BadInputError, CorruptObjectError, NotFoundError } from '../errors.js';
import { sha256Hex, stableStringify } from '../hash.js';
import {
  assertBody,
  assertListedKey,
  assertSafeExtension,
  assertSafeKey,
  assertSafePrefix,
  bodyBytes,
  contentKey,
  sizeMismatch,
  sortInfos,
  streamToNewFile,
  VerifyingTransform,
} from './common.js';
import type { ArtifactStore, Body, ObjectInfo, PutOptions } from './types.js';
import { uniqueSuffix } from '../temp-files.js';
import { noteWrite } from './write-log.js';

/** What a backend records with an object's bytes at write time. */
export interface Recorded {
  readonly sha256: string;
  readonly size: number;
}

/** An object opened for reading: its bytes (unverified) and what was recorded with them. */
export interface OpenedObject {
  readonly body: Readable;
  readonly sha256: string;
  /** Undefined when the medium does not say (then only the sha256 is checked). */
  readonly size: number | undefined;
}

/**
 * Byte I/O on one medium. Keys reaching a backend are already checked (assertSafeKey/assertSafePrefix).
 * Errors may be thrown raw: the core passes them through `mapError` with the public operation's name.
 */
export interface ByteBackend {
  /** A short human description, e.g. `local:/path` (no secrets). */
  readonly description: string;
  /** Translate a raw medium error into the store's error types (SynthmixErrors pass through unchanged). */
  mapError(error: unknown, op: string, key: string): unknown;
  /** The record of `key`, or undefined if there is no such object; CorruptObjectError if the record is unreadable. */
  head(key: string): Promise<Recorded | undefined>;
  /** Open `key` for reading, or undefined if there is no such object. */
  open(key: string): Promise<OpenedObject | undefined>;
  /** Store in-memory bytes whose record was computed by the core; atomic per object. */
  putBytes(key: string, bytes: Buffer, recorded: Recorded, contentType: string | undefined): Promise<void>;
  /** Like putBytes, but only if `key` does not exist (atomic: of concurrent writers exactly one wins); false if it existed. */
  putBytesIfAbsent(key: string, bytes: Buffer, recorded: Recorded, contentType: string | undefined): Promise<boolean>;
  /** Store a stream, hashing it on the way (see common.ts withSpooledStream for a medium that needs the hash first). */
  putStream(key: string, source: Readable, contentType: string | undefined): Promise<Recorded>;
  /** Store a local file (streamed). */
  putFile(key: string, localPath: string, contentType: string | undefined): Promise<Recorded>;
  /** Every key starting with `prefix`, in any order. */
  listKeys(prefix: string): Promise<string[]>;
  /** Remove `key`; absent keys are not an error. */
  delete(key: string): Promise<void>;
  /**
   * putContentAddressed found `key` already recorded with exactly these bytes and writes nothing. A medium
   * whose bytes can be damaged apart from their record (the local store's shared blobs) repairs them here.
   */
  repairUnchanged?(key: string, bytes: Buffer, recorded: Recorded): Promise<void>;
}

/** The stored JSON text of a value (keys sorted, so the same value gives the same bytes). */
function jsonText(key: string, value: unknown): string {
  try {
    return stableStringify(value, 2);
  } catch (error) {
    throw new BadInputError(`putJson ${JSON.stringify(key)}: ${(error as Error).message}`);
  }
}

/** The operations whose ObjectInfo result is an object this call wrote. */
const WRITE_OPS = new Set(['put', 'putFile', 'putContentAddressed', 'putJsonIfAbsent']);

/** Record-fetches in flight while listing (each is a file read or an HTTP HEAD). */
const LIST_CONCURRENCY = 16;

/** The ArtifactStore over `backend`. The methods do not use `this`, so the object may be spread. */
export function createStoreCore(backend: ByteBackend): ArtifactStore {
  const { description } = backend;

  async function guard<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      throw backend.mapError(error, op, key);
    }
    // Writes are noted for the memo's pins (write-log.ts); reads return ObjectInfo too but are not writes.
    if (WRITE_OPS.has(op) && result && typeof result === 'object' && 'sha256' in result) {
      const info = result as unknown as ObjectInfo;
      noteWrite(info.key, info.sha256);
    }
    return result;
  }

  async function mustOpen(key: string): Promise<OpenedObject> {
    const opened = await backend.open(key);
    if (!opened) throw new NotFoundError(key, description);
    return opened;
  }

  /** The object's bytes piped through a verifier; medium errors while reading become the store's errors. */
  async function verifiedStream(key: string, op: string): Promise<{ stream: VerifyingTransform; opened: OpenedObject }> {
    const opened = await mustOpen(key);
    const { body } = opened;
    const verifier = new VerifyingTransform(key, { sha256: opened.sha256, size: opened.size });
    body.on('error', (error) => verifier.destroy(backend.mapError(error, op, key) as Error));
    verifier.on('close', () => {
      if (!body.destroyed) body.destroy();
    });
    body.pipe(verifier);
    return { stream: verifier, opened };
  }

  async function put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo> {
    assertSafeKey(key);
    assertBody(key, body);
    return guard('put', key, async () => {
      const bytes = bodyBytes(body);
      if (!bytes) return { key, ...(await backend.putStream(key, body as Readable, options?.contentType)) };
      const recorded = { sha256: sha256Hex(bytes), size: bytes.length };
      await backend.putBytes(key, bytes, recorded, options?.contentType);
      return { key, ...recorded };
    });
  }

  async function get(key: string): Promise<Buffer> {
    assertSafeKey(key);
    return guard('get', key, async () => {
      const { body, sha256, size } = await mustOpen(key);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      const actual = sha256Hex(bytes);
      if (size !== undefined && bytes.length !== size) throw sizeMismatch(key, { key, sha256, size }, bytes.length, actual);
      if (actual !== sha256) throw new CorruptObjectError(key, sha256, actual);
      return bytes;
    });
  }

  async function stat(key: string): Promise<ObjectInfo | undefined> {
    assertSafeKey(key);
    return guard('stat', key, async () => {
      const recorded = await backend.head(key);
      return recorded ? { key, sha256: recorded.sha256, size: recorded.size } : undefined;
    });
  }

  return {
    description,
    put,

    async putFile(key: string, localPath: string, options?: PutOptions): Promise<ObjectInfo> {
      assertSafeKey(key);
      return guard('putFile', key, async () => ({ key, ...(await backend.putFile(key, localPath, options?.contentType)) }));
    },

    async putContentAddressed(prefix: string, body: Buffer | Uint8Array, extension = ''): Promise<ObjectInfo> {
      assertSafeExtension(extension);
      const bytes = bodyBytes(body);
      if (!bytes) throw new BadInputError(`putContentAddressed under ${JSON.stringify(prefix)}: body must be a Buffer or Uint8Array`);
      const recorded = { sha256: sha256Hex(bytes), size: bytes.length };
      const key = contentKey(prefix, recorded.sha256, extension);
      return guard('putContentAddressed', key, async () => {
        // An unreadable record is simply rewritten.
        const existing = await backend.head(key).catch((error: unknown) => {
          if (error instanceof CorruptObjectError) return undefined;
          throw error;
        });
        if (existing && existing.sha256 === recorded.sha256 && existing.size === recorded.size) {
          await backend.repairUnchanged?.(key, bytes, recorded);
        } else {
          await backend.putBytes(key, bytes, recorded, undefined);
        }
        return { key, ...recorded };
      });
    },

    get,

    async getStream(key: string): Promise<Readable> {
      assertSafeKey(key);
      return guard('getStream', key, async () => (await verifiedStream(key, 'getStream')).stream);
    },

    async getToFile(key: string, localPath: string): Promise<ObjectInfo> {
      assertSafeKey(key);
      return guard('getToFile', key, async () => {
        const target = resolve(localPath);
        const { stream, opened } = await verifiedStream(key, 'getToFile');
        const tmp = `${target}.${uniqueSuffix()}.part`;
        try {
          await mkdir(dirname(target), { recursive: true });
          await streamToNewFile(tmp, stream);
          await rename(tmp, target);
        } catch (error) {
          stream.destroy();
          await unlink(tmp).catch(() => undefined);
          throw error;
        }
        return { key, sha256: opened.sha256, size: stream.bytesSeen };
      });
    },

    stat,

    async exists(key: string): Promise<boolean> {
      return (await stat(key)) !== undefined;
    },

    async list(prefix: string): Promise<ObjectInfo[]> {
      assertSafePrefix(prefix);
      return guard('list', prefix, async () => {
        const keys = await backend.listKeys(prefix);
        // A medium may hold keys this store would never write (S3 takes `a/../../x`): one of those
        // becomes a path outside its folder wherever a listing is materialized, so it is refused.
        for (const key of keys) assertListedKey(key, prefix, description);
        // A key deleted between the listing and its head is left out.
        const infos = await mapLimit(keys, LIST_CONCURRENCY, async (key) => {
          const recorded = await backend.head(key);
          return recorded ? [{ key, sha256: recorded.sha256, size: recorded.size }] : [];
        });
        return sortInfos(infos.flat());
      });
    },

    async delete(key: string): Promise<void> {
      assertSafeKey(key);
      return guard('delete', key, () => backend.delete(key));
    },

    async putJson(key: string, value: unknown): Promise<ObjectInfo> {
      assertSafeKey(key);
      return put(key, `${jsonText(key, value)}\n`, { contentType: 'application/json' });
    },

    async putJsonIfAbsent(key: string, value: unknown): Promise<ObjectInfo | undefined> {
      assertSafeKey(key);
      const bytes = Buffer.from(`${jsonText(key, value)}\n`, 'utf8');
      const recorded = { sha256: sha256Hex(bytes), size: bytes.length };
      return guard('putJsonIfAbsent', key, async () =>
        (await backend.putBytesIfAbsent(key, bytes, recorded, 'application/json')) ? { key, ...recorded } : undefined,
      );
    },

    async getJson<T>(key: string): Promise<T> {
      const bytes = await get(key);
      try {
        return JSON.parse(bytes.toString('utf8')) as T;
      } catch (error) {
        throw new BadInputError(`store object ${JSON.stringify(key)} in ${description} is not valid JSON: ${(error as Error).message}`);
      }
    },
  };
}

