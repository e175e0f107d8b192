/**
 * The S3 store: any S3-compatible endpoint through @aws-sdk/client-s3. This module is the S3 byte I/O
 * (a ByteBackend); the store surface itself is lib/store/core.ts.
 *
 * Layout: store key `k` is the S3 object `<prefix>/k` in the bucket (just `k` without a prefix).
 * The sha256 of the bytes is computed before the upload and stored as user metadata
 * (`x-amz-meta-sha256`); reads check the bytes against it. Objects other tools wrote have no such
 * metadata: their sha256 comes from s3-foreign.ts (the S3 full-object checksum, or a hash record
 * under `_synthmix/foreign-sha256/`); folder markers (`dir/`, 0 bytes) are not objects of the store. A PUT (or the completion of a multipart
 * upload) is atomic per object, so readers see the old or the new object, each with its own sha256.
 * Streams are spooled to a temp file first (the hash must be known before the upload starts); large
 * files go up as multipart uploads (@aws-sdk/lib-storage) with bounded memory.
 */
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { s3Region } from '../config/aws-region.js';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { BadInputError, CorruptObjectError, NotFoundError, SourceChangedError, StoreUnavailableError, SynthmixError } from '../errors.js';
import { isSha256Hex, sha256Hex } from '../hash.js';
import { assertSafeKey, VerifyingTransform, withSpooledStream } from './common.js';
import { createStoreCore, type OpenedObject, type Recorded } from './core.js';
import { ForeignHashes, fullObjectSha256, versionOf, type ChecksumFields } from './s3-foreign.js';
import type { ArtifactStore } from './types.js';

export interface S3StoreOptions {
  readonly bucket: string;
  /** Key prefix inside the bucket (no leading/trailing `/` needed). */
  readonly prefix?: string;
  /** e.g. `http://127.0.0.1:8333` for an S3-compatible server; AWS when absent. */
  readonly endpoint?: string;
  /** Defaults to $AWS_REGION, then `us-east-1`. */
  readonly region?: string;
  /** Path-style URLs (`endpoint/bucket/key`); most S3-compatible servers want this. */
  readonly forcePathStyle?: boolean;
  /** Tests only: production uses the SDK's default credential chain (env, profile, instance role). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** SDK attempts per request, first try included (default 3). */
  readonly maxAttempts?: number;
  /** TCP connect timeout, ms (default 3000). */
  readonly connectionTimeoutMs?: number;
  /** Socket idle timeout, ms (default 30000): a server that stops answering fails after this. */
  readonly socketTimeoutMs?: number;
  /** Objects larger than this go up as multipart uploads (default 16 MiB). */
  readonly multipartThresholdBytes?: number;
  /** Multipart part size (default 8 MiB, at least 5 MiB). */
  readonly partSizeBytes?: number;
  /** Parts uploaded in parallel (default 2); memory is about (queueSize + 1) × partSize. */
  readonly queueSize?: number;
  /** Where streams are spooled before upload (default: the OS temp directory). */
  readonly tempDir?: string;
}

export interface S3Store extends ArtifactStore {
  readonly bucket: string;
  /** The S3 object key that holds store key `key`. */
  objectKey(key: string): string;
  /** The underlying client (for tools and tests). */
  readonly client: S3Client;
  /** Close idle connections. */
  close(): void;
}

const MIN_PART = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ESOCKETTIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
]);
// BadDigest: the bytes that arrived are not the ones we sent (their checksum differs): send them again.
const TRANSIENT_NAMES = new Set([
  'BadDigest', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'ServiceUnavailable', 'InternalError',
  'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestThrottled', 'NetworkingError',
  'ExpiredToken', 'ExpiredTokenException', 'OperationAborted', 'ConditionalRequestConflict',
]);
const DENIED_NAMES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'AllAccessDisabled']);

/** sha256 and size of an open file, read from its start through the descriptor (not the path). */
async function hashHandle(handle: FileHandle): Promise<Recorded> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Each multipart part carries its Content-MD5, which every S3 server checks (a part that arrives
 * with other bytes is refused, BadDigest). MD5 rather than a flexible checksum: an upload created
 * without a checksum algorithm takes Content-MD5 on its parts on AWS and SeaweedFS alike, and the
 * SDK's own checksums go as aws-chunked trailers that not every S3-compatible server reads.
 */
function addPartChecksums(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Body?: unknown; ContentMD5?: string };
      if (context.commandName === 'UploadPartCommand' && input.ContentMD5 === undefined && input.Body instanceof Uint8Array) {
        input.ContentMD5 = createHash('md5').update(input.Body).digest('base64');
      }
      return next(args);
    },
    { step: 'initialize', name: 'synthmixPartContentMd5' },
  );
}

interface AwsLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  errors?: unknown[];
  cause?: unknown;
}

function errorCodes(error: unknown, depth = 0): string[] {
  if (!error || typeof error !== 'object' || depth > 3) return [];
  const e = error as AwsLikeError;
  const own = [e.code, e.Code, e.name].filter((x): x is string => typeof x === 'string');
  const nested = [...(Array.isArray(e.errors) ? e.errors : []), e.cause].flatMap((inner) => errorCodes(inner, depth + 1));
  return [...own, ...nested];
}

function displayEndpoint(endpoint: string | undefined): string {
  if (!endpoint) return 'AWS S3';
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return endpoint.replace(/\/\/[^@/]*@/, '//');
  }
}

export function createS3Store(options: S3StoreOptions): S3Store {
  if (!options || typeof options.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
    throw new BadInputError(`s3 store: invalid bucket name ${JSON.stringify(options?.bucket)}`);
  }
  const bucket = options.bucket;
  const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix !== '') {
    try {
      assertSafeKey(prefix);
    } catch {
      throw new BadInputError(`s3 store: unsafe prefix ${JSON.stringify(options.prefix)}`);
    }
  }
  if (options.endpoint !== undefined) {
    try {
      new URL(options.endpoint);
    } catch {
      throw new BadInputError(`s3 store: endpoint ${JSON.stringify(displayEndpoint(options.endpoint))} is not a URL`);
    }
  }
  const endpointText = displayEndpoint(options.endpoint);
  const description = `s3://${bucket}${prefix ? `/${prefix}` : ''}${options.endpoint ? ` (${endpointText})` : ''}`;
  const where = `s3://${bucket}${prefix ? `/${prefix}` : ''} at ${endpointText}`;
  const multipartThreshold = Math.max(MIN_PART, options.multipartThresholdBytes ?? 16 * 1024 * 1024);
  const configuredPart = Math.max(MIN_PART, options.partSizeBytes ?? 8 * 1024 * 1024);
  const queueSize = Math.max(1, Math.floor(options.queueSize ?? 2));
  const secrets = [options.credentials?.secretAccessKey, options.credentials?.sessionToken].filter((s): s is string => !!s);

  const client = new S3Client({
    region: s3Region(options, description),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    // Path-style for S3-compatible servers (a custom endpoint), virtual-hosted for AWS itself.
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
    maxAttempts: Math.max(1, options.maxAttempts ?? 3),
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 3000,
      socketTimeout: options.socketTimeoutMs ?? 30_000,
    },
    // We verify our own sha256; the SDK's default CRC32 trailers are not understood by every S3-compatible server.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  addPartChecksums(client);

  const objectKey = (key: string): string => (prefix ? `${prefix}/${key}` : key);

  function clean(text: string): string {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join('***');
    return out.length > 400 ? `${out.slice(0, 400)}…` : out;
  }

  /** Translate an SDK/network error into the store's error types. */
  function mapError(error: unknown, op: string, key: string): unknown {
    if (error instanceof SynthmixError) return error;
    const e = (error ?? {}) as AwsLikeError;
    const status = e.$metadata?.httpStatusCode;
    const codes = errorCodes(error);
    const summary = clean(`${op} ${key}: ${codes[0] ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(error)}`);
    if (codes.includes('NoSuchBucket')) {
      return new BadInputError(`artifact store ${where}: bucket "${bucket}" does not exist (${op} ${key})`);
    }
    if (codes.includes('CredentialsProviderError')) {
      return new BadInputError(`artifact store ${where}: no credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance role): ${summary}`);
    }
    if (codes.includes('NoSuchKey') || codes.includes('NotFound') || status === 404) return new NotFoundError(key, description);
    if (codes.some((c) => DENIED_NAMES.has(c)) || status === 403) {
      return new BadInputError(`artifact store ${where}: access denied (check the credentials and bucket policy): ${summary}`);
    }
    if (
      codes.some((c) => NETWORK_CODES.has(c) || TRANSIENT_NAMES.has(c) || c.startsWith('UND_ERR')) ||
      (status !== undefined && (status >= 500 || status === 429 || status === 408)) ||
      e.$retryable !== undefined
    ) {
      return new StoreUnavailableError(where, summary);
    }
    // Anything else (unexpected 4xx, SDK bugs): keep the cause but never leak secrets.
    const wrapped = new Error(`artifact store ${where}: ${summary}`);
    (wrapped as { cause?: unknown }).cause = error;
    return wrapped;
  }

  /** undefined where the object does not exist; other errors go up raw (the core maps them). */
  async function unlessMissing<T>(key: string, request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await request();
    } catch (error) {
      if (mapError(error, 'read', key) instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  const foreign = new ForeignHashes(client, bucket, prefix ? `${prefix}/` : '');

  /** The sha256 synthmix recorded with the object, undefined when none was (another tool wrote it). */
  function recordedSha(key: string, metadata: Record<string, string> | undefined): string | undefined {
    const sha = metadata?.sha256;
    if (sha === undefined) return undefined;
    if (!isSha256Hex(sha)) throw new CorruptObjectError(key, '(a recorded x-amz-meta-sha256)', `invalid ${JSON.stringify(sha)}`);
    return sha;
  }

  /** The version a HEAD/GET answer describes (what a hash record is bound to); a server that omits it cannot be trusted with foreign objects. */
  function versionFor(key: string, answer: ChecksumFields) {
    const version = versionOf(objectKey(key), answer);
    if (!version) throw new CorruptObjectError(key, '(x-amz-meta-sha256, or an ETag, size and Last-Modified to hash it by)', 'none given by the server');
    return version;
  }

  /** One upload's parameters: the sha256 goes up as user metadata `x-amz-meta-sha256`. */
  function uploadParams(key: string, body: Buffer | Readable, recorded: Recorded, contentType: string | undefined) {
    return {
      Bucket: bucket,
      Key: objectKey(key),
      Body: body,
      ContentLength: recorded.size,
      Metadata: { sha256: recorded.sha256 },
      ...(contentType ? { ContentType: contentType } : {}),
    };
  }

  /** A single PUT carries the sha256 we recorded as its checksum: the server refuses other bytes (BadDigest). */
  function putParams(key: string, bytes: Buffer, recorded: Recorded, contentType: string | undefined) {
    return { ...uploadParams(key, bytes, recorded, contentType), ChecksumSHA256: Buffer.from(recorded.sha256, 'hex').toString('base64') };
  }

  async function multipartUpload(params: ReturnType<typeof uploadParams>): Promise<void> {
    const partSize = Math.max(configuredPart, Math.ceil(params.ContentLength / MAX_PARTS));
    await new Upload({ client, params, partSize, queueSize, leavePartsOnError: false }).done();
  }

  async function putBytes(key: string, bytes: Buffer, recorded: Recorded, contentType: string | undefined): Promise<void> {
    const params = uploadParams(key, bytes, recorded, contentType);
    if (bytes.length <= multipartThreshold) await client.send(new PutObjectCommand(putParams(key, bytes, recorded, contentType)));
    else await multipartUpload(params);
  }

  /**
   * A conditional PUT (`If-None-Match: *`): the server refuses it (412) when the key exists. AWS S3
   * and SeaweedFS (checked by test/integrity-s3.test.ts) honour it; a server that ignores the header
   * would turn this into a plain overwrite, so use one that honours it for shared buckets.
   */
  async function putBytesIfAbsent(key: string, bytes: Buffer, recorded: Recorded, contentType: string | undefined): Promise<boolean> {
    try {
      await client.send(new PutObjectCommand({ ...putParams(key, bytes, recorded, contentType), IfNoneMatch: '*' }));
      return true;
    } catch (error) {
      const e = error as AwsLikeError;
      if (errorCodes(error).includes('PreconditionFailed') || e.$metadata?.httpStatusCode === 412) return false;
      throw error;
    }
  }

  /**
   * Upload what was hashed: the file is opened once and both hashed and uploaded through that one
   * descriptor, so a writer that atomically replaces the path meanwhile (the engine's checkpoint.pt)
   * changes nothing we send. Small files are read once into memory and hashed there. A file rewritten
   * in place (same inode) fails the verifier: the multipart upload is aborted (nothing with a wrong
   * hash becomes visible) and the error is transient (SourceChangedError), never a permanent failure.
   * `known` skips the first pass where the caller already hashed a private copy (a spool file).
   */
  async function putSnapshot(key: string, path: string, contentType: string | undefined, known?: Recorded): Promise<Recorded> {
    const handle = await openFile(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size <= multipartThreshold) {
        const bytes = await handle.readFile();
        const recorded = { sha256: sha256Hex(bytes), size: bytes.length };
        if (known && (known.sha256 !== recorded.sha256 || known.size !== recorded.size)) throw new SourceChangedError(key, path);
        await putBytes(key, bytes, recorded, contentType);
        return recorded;
      }
      const expected = known ?? (await hashHandle(handle));
      const verifier = new VerifyingTransform(key, expected);
      const source = handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 20 });
      source.on('error', (error) => verifier.destroy(error));
      source.pipe(verifier);
      try {
        await multipartUpload(uploadParams(key, verifier, expected, contentType));
      } catch (error) {
        throw error instanceof CorruptObjectError ? new SourceChangedError(key, path) : error;
      } finally {
        source.destroy();
      }
      return expected;
    } finally {
      await handle.close();
    }
  }

  async function open(key: string): Promise<OpenedObject | undefined> {
    const get = (ifMatch?: string) =>
      client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key), ChecksumMode: 'ENABLED', ...(ifMatch ? { IfMatch: ifMatch } : {}) }));
    let response = await unlessMissing(key, () => get());
    if (!response) return undefined;
    let body = response.Body as Readable | undefined;
    try {
      let sha256 = recordedSha(key, response.Metadata);
      if (sha256 === undefined) {
        const version = versionFor(key, response);
        sha256 = fullObjectSha256(response) ?? (await foreign.recorded(version));
        if (sha256 === undefined) {
          // First read of a foreign object: hash it (and record that), then read this same version again.
          if (body instanceof Readable) body.destroy();
          sha256 = await foreign.compute(version);
          response = await get(version.etag);
          body = response.Body as Readable | undefined;
        }
      }
      if (!(body instanceof Readable)) throw new Error(`get ${key}: response has no body stream`);
      // The recorded size is the size of the bytes we hashed; a Content-Length that disagrees is caught at the end.
      return { body, sha256, size: response.ContentLength };
    } catch (error) {
      if (body instanceof Readable) body.destroy();
      throw error;
    }
  }

  async function head(key: string): Promise<Recorded | undefined> {
    const response = await unlessMissing(key, () =>
      client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key), ChecksumMode: 'ENABLED' })),
    );
    if (!response) return undefined;
    const size = response.ContentLength ?? 0;
    const sha256 = recordedSha(key, response.Metadata) ?? (await foreign.sha256Of(versionFor(key, response), response));
    return { sha256, size };
  }

  async function listKeys(listPrefix: string): Promise<string[]> {
    const full = prefix ? `${prefix}/${listPrefix}` : listPrefix;
    const strip = prefix ? prefix.length + 1 : 0;
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client, pageSize: 1000 }, { Bucket: bucket, Prefix: full })) {
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || object.Key.length <= strip || foreign.isRecordKey(object.Key)) continue;
        // A folder marker (what the console's "Create folder" and some sync tools write) holds no data.
        if (object.Key.endsWith('/') && (object.Size ?? 0) === 0) continue;
        keys.push(object.Key.slice(strip));
      }
    }
    // Listing does not return user metadata: the core heads each key for its recorded sha256.
    return keys;
  }

  return {
    ...createStoreCore({
      description,
      mapError,
      head,
      open,
      putBytes,
      putBytesIfAbsent,
      putStream: (key, source, contentType) =>
        withSpooledStream(source, options.tempDir ?? tmpdir(), (path, recorded) => putSnapshot(key, path, contentType, recorded)),
      putFile: (key, localPath, contentType) => putSnapshot(key, localPath, contentType),
      listKeys,
      delete: async (key) => {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      },
    }),
    bucket,
    client,
    objectKey,
    close: () => client.destroy(),
  };
}
