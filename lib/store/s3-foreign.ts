/**
 * The sha256 of S3 objects that other tools wrote (`aws s3 sync`, the console, rclone): they carry no
 * `x-amz-meta-sha256`, so the S3 backend (s3.ts) asks here. In order:
 *  1. the object's own S3 SHA-256 checksum (`ChecksumMode: ENABLED`), when it is a full-object
 *     checksum: a multipart upload's COMPOSITE checksum (`<base64>-<parts>`) is a hash of the parts'
 *     hashes, not of the bytes, and is not used;
 *  2. else a hash record this store wrote earlier for exactly this version of the object;
 *  3. else the bytes are read once (conditional on the version: `If-Match` its ETag), hashed, and the
 *     record is written for the next reader.
 *
 * Hash records live under the store prefix, in `_synthmix/foreign-sha256/` (listings leave that folder
 * out). A record is named by the hash of (bucket key, ETag, size, LastModified), all of which the
 * server sets on every write, so an object rewritten by any tool has a new name and its old record is
 * never consulted again (no stale hash is trusted). How far a record is trusted: as far as the bucket
 * itself (exactly like `x-amz-meta-sha256`, which anyone who can write the object can also set); its
 * own bytes are verified against the sha256 it was written with, its fields must name the version
 * asked about, and every read of the object still verifies the object's bytes against the sha256 —
 * a record that disagrees with the bytes fails the read (CorruptObject), it never lets bad bytes through.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { hashJson, isSha256Hex, sha256Hex, stableStringify } from '../hash.js';

/** The store-relative folder holding hash records; listings of the store skip it. */
export const FOREIGN_HASH_FOLDER = '_synthmix/foreign-sha256/';

/** One version of one S3 object, as HEAD/GET/LIST describe it. */
export interface ObjectVersion {
  /** The full S3 key (store prefix included). */
  readonly objectKey: string;
  readonly etag: string;
  readonly size: number;
  /** ISO time (S3 keeps whole seconds). */
  readonly lastModified: string;
}

/** What HEAD and GET answers share that this module reads. */
export interface ChecksumFields {
  readonly ChecksumSHA256?: string;
  readonly ChecksumType?: string;
  readonly ETag?: string;
  readonly ContentLength?: number;
  readonly LastModified?: Date;
}

interface HashRecord {
  readonly v: 1;
  readonly objectKey: string;
  readonly etag: string;
  readonly size: number;
  readonly lastModified: string;
  readonly sha256: string;
}

/** The version an answer describes, or undefined when the server omits what names a version. */
export function versionOf(objectKey: string, answer: ChecksumFields): ObjectVersion | undefined {
  if (!answer.ETag || answer.ContentLength === undefined || !answer.LastModified) return undefined;
  return { objectKey, etag: answer.ETag, size: answer.ContentLength, lastModified: answer.LastModified.toISOString() };
}

/**
 * The sha256 (hex) of the object's bytes from its S3 checksum, or undefined when there is none that
 * is a hash of the whole object. SeaweedFS omits ChecksumType for a single PUT; AWS marks multipart
 * composites COMPOSITE and suffixes them `-<parts>`; either marks the value as unusable here.
 */
export function fullObjectSha256(answer: ChecksumFields): string | undefined {
  const value = answer.ChecksumSHA256;
  if (!value || (answer.ChecksumType !== undefined && answer.ChecksumType !== 'FULL_OBJECT')) return undefined;
  if (!/^[A-Za-z0-9+/]{43}=$/.test(value)) return undefined;
  const hex = Buffer.from(value, 'base64').toString('hex');
  return isSha256Hex(hex) ? hex : undefined;
}

/** Hash records of one bucket under one store prefix. */
export class ForeignHashes {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    /** The store prefix with its trailing `/` (`''` without a prefix). */
    private readonly storePrefix: string,
  ) {}

  /** Is this full S3 key one of the hash records (so not a store object)? */
  isRecordKey(objectKey: string): boolean {
    return objectKey.startsWith(`${this.storePrefix}${FOREIGN_HASH_FOLDER}`);
  }

  private recordKey(version: ObjectVersion): string {
    return `${this.storePrefix}${FOREIGN_HASH_FOLDER}${hashJson(version)}.json`;
  }

  /** The recorded sha256 of exactly this version, or undefined (no record, or one that does not verify or name it). */
  async recorded(version: ObjectVersion): Promise<string | undefined> {
    let text: Buffer;
    let claimed: string | undefined;
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.recordKey(version) }));
      claimed = answer.Metadata?.sha256;
      text = Buffer.from((await answer.Body?.transformToByteArray()) ?? []);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    // A damaged or foreign-written record is no record: it is recomputed and overwritten.
    if (claimed !== sha256Hex(text)) return undefined;
    try {
      const record = JSON.parse(text.toString('utf8')) as Partial<HashRecord>;
      const same = record.v === 1 && record.objectKey === version.objectKey && record.etag === version.etag &&
        record.size === version.size && record.lastModified === version.lastModified;
      return same && isSha256Hex(record.sha256) ? record.sha256 : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Read this version's bytes (If-Match its ETag: a rewrite meanwhile fails the read rather than
   * hashing other bytes under this version's name), hash them and write the record.
   */
  async compute(version: ObjectVersion): Promise<string> {
    const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: version.objectKey, IfMatch: version.etag }));
    const body = answer.Body;
    if (!(body instanceof Readable)) throw new Error(`read ${version.objectKey}: response has no body stream`);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of body) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    // A short read must not become a record (the next reader would trust it).
    if (size !== version.size) throw new Error(`read ${version.objectKey}: got ${size} bytes of ${version.size}`);
    const sha256 = hash.digest('hex');
    const record: HashRecord = { v: 1, ...version, sha256 };
    const bytes = Buffer.from(`${stableStringify(record, 2)}\n`, 'utf8');
    await this.client.send(new PutObjectCommand({
      Bucket: this.bucket, Key: this.recordKey(version), Body: bytes, ContentLength: bytes.length,
      ContentType: 'application/json', Metadata: { sha256: sha256Hex(bytes) },
      ChecksumSHA256: createHash('sha256').update(bytes).digest('base64'),
    }));
    return sha256;
  }

  /** The sha256 of a version with no synthmix metadata: its full-object checksum, its record, or its bytes hashed now. */
  async sha256Of(version: ObjectVersion, answer: ChecksumFields): Promise<string> {
    return fullObjectSha256(answer) ?? (await this.recorded(version)) ?? (await this.compute(version));
  }
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
