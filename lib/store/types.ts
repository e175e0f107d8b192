import type { Readable } from 'node:stream';

/** What the store knows about one object. `sha256` is of the object's bytes, hex. */
export interface ObjectInfo {
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
}

export type Body = Buffer | Uint8Array | string | Readable;

export interface PutOptions {
  readonly contentType?: string;
}

/**
 * The artifact store: every artifact of a run lives here, keyed by a `/`-separated path.
 *
 * Guarantees every implementation keeps (test/store.contract.ts checks them):
 * - writes are atomic: a reader sees the whole new object or the old one, never a part;
 * - the sha256 of every object is recorded at write time and verified on every read; a mismatch
 *   throws CorruptObjectError naming the key, and the bad bytes are never returned;
 * - a store that cannot be reached throws StoreUnavailableError (retryable).
 */
export interface ArtifactStore {
  /** A short human description, e.g. `local:/path` or `s3://bucket/prefix` (no secrets). */
  readonly description: string;
  put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo>;
  /** Upload a local file (streamed). */
  putFile(key: string, localPath: string, options?: PutOptions): Promise<ObjectInfo>;
  /** Store bytes under `${prefix}/${sha256}${extension}`; writing the same bytes twice is a no-op. */
  putContentAddressed(prefix: string, body: Buffer | Uint8Array, extension?: string): Promise<ObjectInfo>;
  /** Whole object in memory, verified. Throws NotFoundError if absent. */
  get(key: string): Promise<Buffer>;
  /** Streamed read; the stream errors with CorruptObjectError at the end if the bytes do not match. */
  getStream(key: string): Promise<Readable>;
  /** Download to a local file atomically (temp file + rename), verified before the rename. */
  getToFile(key: string, localPath: string): Promise<ObjectInfo>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  exists(key: string): Promise<boolean>;
  /** All objects whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
  putJson(key: string, value: unknown): Promise<ObjectInfo>;
  /**
   * Write `value` as JSON under `key` only if no object is there (one atomic conditional write: of
   * two writers, exactly one succeeds). Returns what was written, or undefined if `key` existed.
   */
  putJsonIfAbsent(key: string, value: unknown): Promise<ObjectInfo | undefined>;
  getJson<T>(key: string): Promise<T>;
}
