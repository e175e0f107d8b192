/** Helpers shared by the store implementations: key rules, body handling, verified streams. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Transform, type TransformCallback, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadInputError, CorruptObjectError } from '../errors.js';
import type { Body, ObjectInfo } from './types.js';

/** Longest key accepted, in UTF-8 bytes (S3's limit, less room for a store prefix). */
export const MAX_KEY_BYTES = 900;
/** Longest path segment accepted, in UTF-8 bytes (the usual file-name limit). */
export const MAX_SEGMENT_BYTES = 255;

function describe(key: unknown): string {
  return typeof key === 'string' ? JSON.stringify(key) : String(key);
}

/** Why `key` is not a safe store key, or undefined if it is. */
function keyProblem(key: unknown, what: 'key' | 'prefix'): string | undefined {
  if (typeof key !== 'string') return `${what} must be a string`;
  if (key.length === 0) return `${what} is empty`;
  if (key.includes('\0')) return `${what} contains a NUL byte`;
  if (key.includes('\\')) return `${what} contains a backslash (use "/" between segments)`;
  // Control characters are legal in S3 but unsafe in file names and logs.
  if ([...key].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) return `${what} contains a control character`;
  if (key.startsWith('/')) return `${what} is absolute (starts with "/")`;
  if (/^[A-Za-z]:(\/|$)/.test(key)) return `${what} looks like a Windows drive path`;
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `${what} is longer than ${MAX_KEY_BYTES} bytes`;
  const segments = key.split('/');
  // A prefix may end with "/" (its last segment is then empty and means "everything below").
  const checked = what === 'prefix' && segments[segments.length - 1] === '' ? segments.slice(0, -1) : segments;
  for (const segment of checked) {
    if (segment === '') return `${what} has an empty path segment ("//" or a trailing "/")`;
    if (segment === '.' || segment === '..') return `${what} has a "${segment}" path segment`;
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) return `${what} has a segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

/**
 * Check that `key` is a safe relative `/`-separated path: non-empty segments, no `.`/`..`, not absolute,
 * no backslash, NUL or control characters. Throws BadInputError naming the key.
 */
export function assertSafeKey(key: unknown): asserts key is string {
  const problem = keyProblem(key, 'key');
  if (problem) throw new BadInputError(`unsafe store key ${describe(key)}: ${problem}`);
}

/** A key a backend listed under `prefix`: a safe key (BadInputError naming it and where it was listed). */
export function assertListedKey(key: string, prefix: string, where: string): void {
  const problem = keyProblem(key, 'key');
  if (problem) throw new BadInputError(`unsafe store key ${describe(key)} listed under ${describe(prefix)} in ${where}: ${problem}`);
}

/**
 * The local path a store key (or the part of it below a listed prefix, `relative`) becomes under
 * `root`: a safe key, and a path strictly inside `root`, or a BadInputError naming `key`.
 * Every place that turns store keys into local paths goes through here.
 */
export function localPathForKey(root: string, relative: string, key: string = relative): string {
  const problem = keyProblem(relative, 'key');
  const base = resolve(root);
  const target = problem ? undefined : resolve(base, ...relative.split('/'));
  if (!target || !target.startsWith(base + sep)) {
    throw new BadInputError(`store key ${describe(key)} would become a path outside ${base}${problem ? ` (${problem})` : ''}`);
  }
  return target;
}

/** Like assertSafeKey, for a list prefix: `''` (everything) and a trailing `/` are allowed. */
/** `prefix` as a folder (ending in `/`), so that listing `models/sd` does not also match `models/sd2/`. */
export function folderPrefix(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

export function assertSafePrefix(prefix: unknown): asserts prefix is string {
  if (prefix === '') return;
  const problem = keyProblem(prefix, 'prefix');
  if (problem) throw new BadInputError(`unsafe store prefix ${describe(prefix)}: ${problem}`);
}

/** A file extension for content-addressed keys: empty, or `.` followed by safe characters. */
export function assertSafeExtension(extension: string): void {
  if (extension !== '' && !/^\.[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(extension)) {
    throw new BadInputError(`unsafe extension ${describe(extension)}: expected "" or e.g. ".png"`);
  }
}

/** `${prefix}/${sha256}${extension}` (just `${sha256}${extension}` when the prefix is empty). */
export function contentKey(prefix: string, sha256: string, extension = ''): string {
  assertSafeExtension(extension);
  const trimmed = prefix.replace(/\/+$/, '');
  const key = trimmed === '' ? `${sha256}${extension}` : `${trimmed}/${sha256}${extension}`;
  assertSafeKey(key);
  return key;
}

/** Key order used by list(): UTF-8 byte order, the order S3 lists in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function sortInfos(infos: ObjectInfo[]): ObjectInfo[] {
  return infos.sort((x, y) => compareKeys(x.key, y.key));
}

/** Buffer view of an in-memory body, or undefined for a stream. */
export function bodyBytes(body: Body): Buffer | undefined {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
}

export function assertBody(key: string, body: unknown): asserts body is Body {
  if (typeof body === 'string' || body instanceof Uint8Array || body instanceof Readable) return;
  throw new BadInputError(`put ${describe(key)}: body must be a Buffer, Uint8Array, string or Readable stream`);
}


/** The error that identifies a short or over-long object (size is part of what is recorded). */
export function sizeMismatch(key: string, expected: ObjectInfo, actualSize: number, actualSha: string): CorruptObjectError {
  return new CorruptObjectError(key, `${expected.sha256} (${expected.size} bytes)`, `${actualSha} (${actualSize} bytes)`);
}

/**
 * A pass-through that hashes what flows through it and, when the input ends, fails with
 * CorruptObjectError (instead of ending) unless the bytes match `expected`. A consumer that
 * waits for 'end' (or 'finish' of a pipeline) therefore never accepts bad bytes.
 */
export class VerifyingTransform extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;

  /** `expected.size` undefined: check the sha256 only. */
  constructor(
    private readonly key: string,
    private readonly expected: { sha256: string; size?: number },
  ) {
    super({ highWaterMark: 1 << 16 });
  }

  /** Bytes passed through so far (after the end: the verified size). */
  get bytesSeen(): number {
    return this.size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.expected.size !== undefined && this.size > this.expected.size) {
      // Stop early: more bytes than recorded can never verify.
      callback(sizeMismatch(this.key, { key: this.key, sha256: this.expected.sha256, size: this.expected.size }, this.size, '(more bytes than recorded)'));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (this.expected.size !== undefined && this.size !== this.expected.size) {
      callback(sizeMismatch(this.key, { key: this.key, sha256: this.expected.sha256, size: this.expected.size }, this.size, actual));
    } else if (actual !== this.expected.sha256) {
      callback(new CorruptObjectError(this.key, this.expected.sha256, actual));
    } else {
      callback();
    }
  }
}

/** Hashes what flows through it; call `result()` once, after the end. */
export class HashingTransform extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  result(): { sha256: string; size: number } {
    return { sha256: this.hash.digest('hex'), size: this.size };
  }
}

/**
 * For a medium that must know the sha256 before an upload starts (S3 metadata, and likewise GCS or
 * Azure): spool `source` to a private temp file under `tempDir`, hashing it on the way, hand the file
 * and its record to `upload`, then remove the file.
 */
export async function withSpooledStream<T>(
  source: Readable,
  tempDir: string,
  upload: (path: string, recorded: { sha256: string; size: number }) => Promise<T>,
): Promise<T> {
  await mkdir(tempDir, { recursive: true });
  const dir = await mkdtemp(join(tempDir, 'synthmix-spool-'));
  try {
    const path = join(dir, 'body');
    const hasher = new HashingTransform();
    // A private scratch copy: no fsync needed.
    await pipeline(source, hasher, createWriteStream(path, { flags: 'wx', highWaterMark: 1 << 20 }));
    return await upload(path, hasher.result());
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** fsync a file's data (fsync acts on the file, whichever descriptor it comes through). */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Write a stream (through optional transforms) to a new file (`wx`: never an existing one), then fsync it. */
export async function streamToNewFile(path: string, source: Readable, ...transforms: Transform[]): Promise<void> {
  await pipeline([source, ...transforms, createWriteStream(path, { flags: 'wx', highWaterMark: 1 << 20 })]);
  await fsyncFile(path);
}
