/**
 * The S3 store: any S3-compatible endpoint through @aws-sdk/client-s3.
 *
 * Layout: store key `k` is the S3 object `<prefix>/k` in the bucket (just `k` without a prefix).
 * The sha256 of the bytes is computed before the upload and stored as user metadata
 * (`x-amz-meta-sha256`); reads check the bytes against it. A PUT (or the completion of a multipart
 * upload) is atomic per object, so readers see the old or the new object, each with its own sha256.
 * Streams are spooled to a temp file first (the hash must be known before the upload starts); large
 * files go up as multipart uploads (@aws-sdk/lib-storage) with bounded memory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BadInputError, CorruptObjectError, NotFoundError, StoreUnavailableError, SynthmixError } from '../errors.js';
import { hashFile, isSha256Hex, sha256Hex, stableStringify } from '../hash.js';
import {
  assertBody,
  assertSafeExtension,
  assertSafeKey,
  assertSafePrefix,
  bodyBytes,
  contentKey,
  HashingTransform,
  sizeMismatch,
  sortInfos,
  streamToNewFile,
  tempSuffix,
  VerifyingTransform,
} from './common.js';
import type { ArtifactStore, Body, ObjectInfo, PutOptions } from './types.js';

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
const TRANSIENT_NAMES = new Set([
  'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'ServiceUnavailable', 'InternalError',
  'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestThrottled', 'NetworkingError',
  'ExpiredToken', 'ExpiredTokenException', 'OperationAborted',
]);
const DENIED_NAMES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'AllAccessDisabled']);

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
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
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

  async function guard<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapError(error, op, key);
    }
  }

  function recordedSha(key: string, metadata: Record<string, string> | undefined): string {
    const sha = metadata?.sha256;
    if (!isSha256Hex(sha)) throw new CorruptObjectError(key, '(a recorded x-amz-meta-sha256)', sha === undefined ? 'none recorded' : `invalid ${JSON.stringify(sha)}`);
    return sha;
  }

  function partSizeFor(size: number): number {
    return Math.max(configuredPart, Math.ceil(size / MAX_PARTS));
  }

  async function putBuffer(key: string, bytes: Buffer, sha: string, contentType?: string): Promise<ObjectInfo> {
    const params = {
      Bucket: bucket,
      Key: objectKey(key),
      Body: bytes,
      ContentLength: bytes.length,
      Metadata: { sha256: sha },
      ...(contentType ? { ContentType: contentType } : {}),
    };
    if (bytes.length <= multipartThreshold) {
      await client.send(new PutObjectCommand(params));
    } else {
      await new Upload({ client, params, partSize: partSizeFor(bytes.length), queueSize, leavePartsOnError: false }).done();
    }
    return { key, sha256: sha, size: bytes.length };
  }

  /** Upload a file whose sha256/size were computed just before; fails (uploads nothing) if it changes meanwhile. */
  async function putHashedFile(key: string, path: string, expected: { sha256: string; size: number }, contentType?: string): Promise<ObjectInfo> {
    if (expected.size <= multipartThreshold) {
      const bytes = await readFile(path);
      if (bytes.length !== expected.size || sha256Hex(bytes) !== expected.sha256) {
        throw new BadInputError(`put ${JSON.stringify(key)}: file ${path} changed while it was being uploaded`);
      }
      return putBuffer(key, bytes, expected.sha256, contentType);
    }
    // The verifier fails the stream before it ends if the file changed, so the upload is aborted
    // and the multipart upload never completes: nothing with a wrong hash becomes visible.
    const verifier = new VerifyingTransform(key, expected);
    const source = createReadStream(path, { highWaterMark: 1 << 20 });
    source.on('error', (error) => verifier.destroy(error));
    source.pipe(verifier);
    try {
      await new Upload({
        client,
        params: {
          Bucket: bucket,
          Key: objectKey(key),
          Body: verifier,
          ContentLength: expected.size,
          Metadata: { sha256: expected.sha256 },
          ...(contentType ? { ContentType: contentType } : {}),
        },
        partSize: partSizeFor(expected.size),
        queueSize,
        leavePartsOnError: false,
      }).done();
    } catch (error) {
      if (error instanceof CorruptObjectError) {
        throw new BadInputError(`put ${JSON.stringify(key)}: file ${path} changed while it was being uploaded`);
      }
      throw error;
    } finally {
      source.destroy();
    }
    return { key, ...expected };
  }

  /** Spool a stream to a private temp file, hashing it on the way. */
  async function spoolStream(source: Readable): Promise<{ dir: string; path: string; sha256: string; size: number }> {
    const base = options.tempDir ?? tmpdir();
    await mkdir(base, { recursive: true });
    const dir = await mkdtemp(join(base, 'synthmix-s3-'));
    const path = join(dir, 'body');
    const hasher = new HashingTransform();
    try {
      // A private scratch copy: no fsync needed.
      await pipeline(source, hasher, createWriteStream(path, { flags: 'wx', highWaterMark: 1 << 20 }));
    } catch (error) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
    return { dir, path, ...hasher.result() };
  }

  async function getObject(key: string): Promise<{ body: Readable; sha256: string; size: number }> {
    let response: GetObjectCommandOutput;
    try {
      response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    } catch (error) {
      throw mapError(error, 'get', key);
    }
    const body = response.Body as Readable | undefined;
    try {
      const sha = recordedSha(key, response.Metadata);
      if (!(body instanceof Readable)) throw new Error(`get ${key}: response has no body stream`);
      return { body, sha256: sha, size: response.ContentLength ?? -1 };
    } catch (error) {
      if (body instanceof Readable) body.destroy();
      throw error;
    }
  }

  /** The object's body piped through a verifier; network errors become StoreUnavailableError. */
  async function verifiedStream(key: string, op: string): Promise<{ stream: Readable; info: ObjectInfo }> {
    const { body, sha256, size } = await getObject(key);
    // The recorded size is the size of the bytes we hashed; a Content-Length that disagrees is caught at the end.
    const verifier = new VerifyingTransform(key, { sha256, size: size >= 0 ? size : undefined });
    body.on('error', (error) => verifier.destroy(mapError(error, op, key) as Error));
    verifier.on('close', () => {
      if (!body.destroyed) body.destroy();
    });
    body.pipe(verifier);
    return { stream: verifier, info: { key, sha256, size } };
  }

  async function head(key: string): Promise<{ metadata: Record<string, string> | undefined; size: number } | undefined> {
    try {
      const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      return { metadata: response.Metadata, size: response.ContentLength ?? 0 };
    } catch (error) {
      const mapped = mapError(error, 'stat', key);
      if (mapped instanceof NotFoundError) return undefined;
      throw mapped;
    }
  }

  async function stat(key: string): Promise<ObjectInfo | undefined> {
    assertSafeKey(key);
    const found = await head(key);
    return found ? { key, sha256: recordedSha(key, found.metadata), size: found.size } : undefined;
  }

  async function put(key: string, body: Body, putOptions?: PutOptions): Promise<ObjectInfo> {
    assertSafeKey(key);
    assertBody(key, body);
    return guard('put', key, async () => {
      const bytes = bodyBytes(body);
      if (bytes) return putBuffer(key, bytes, sha256Hex(bytes), putOptions?.contentType);
      const { dir, path, sha256, size } = await spoolStream(body as Readable);
      try {
        return await putHashedFile(key, path, { sha256, size }, putOptions?.contentType);
      } finally {
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }
    });
  }

  async function get(key: string): Promise<Buffer> {
    assertSafeKey(key);
    return guard('get', key, async () => {
      const { body, sha256, size } = await getObject(key);
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of body) chunks.push(chunk as Buffer);
      } catch (error) {
        throw mapError(error, 'get', key);
      }
      const bytes = Buffer.concat(chunks);
      const actual = sha256Hex(bytes);
      if (size >= 0 && bytes.length !== size) throw sizeMismatch(key, { key, sha256, size }, bytes.length, actual);
      if (actual !== sha256) throw new CorruptObjectError(key, sha256, actual);
      return bytes;
    });
  }

  const store: S3Store = {
    description,
    bucket,
    client,
    objectKey,
    close: () => client.destroy(),

    put,

    async putFile(key: string, localPath: string, putOptions?: PutOptions): Promise<ObjectInfo> {
      assertSafeKey(key);
      return guard('putFile', key, async () => {
        const hashed = await hashFile(localPath);
        return putHashedFile(key, localPath, hashed, putOptions?.contentType);
      });
    },

    async putContentAddressed(keyPrefix: string, body: Buffer | Uint8Array, extension = ''): Promise<ObjectInfo> {
      assertSafeExtension(extension);
      const bytes = bodyBytes(body);
      if (!bytes) throw new BadInputError(`putContentAddressed under ${JSON.stringify(keyPrefix)}: body must be a Buffer or Uint8Array`);
      const sha = sha256Hex(bytes);
      const key = contentKey(keyPrefix, sha, extension);
      return guard('putContentAddressed', key, async () => {
        const found = await head(key);
        if (found && found.metadata?.sha256 === sha && found.size === bytes.length) return { key, sha256: sha, size: bytes.length };
        return putBuffer(key, bytes, sha);
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
        await mkdir(dirname(target), { recursive: true });
        const { stream, info } = await verifiedStream(key, 'getToFile');
        const tmp = `${target}.${tempSuffix()}.part`;
        try {
          await streamToNewFile(tmp, stream);
          await rename(tmp, target);
        } catch (error) {
          stream.destroy();
          await unlink(tmp).catch(() => undefined);
          throw error;
        }
        return info;
      });
    },

    stat,

    async exists(key: string): Promise<boolean> {
      assertSafeKey(key);
      return (await head(key)) !== undefined;
    },

    async list(listPrefix: string): Promise<ObjectInfo[]> {
      assertSafePrefix(listPrefix);
      return guard('list', listPrefix, async () => {
        const full = prefix ? `${prefix}/${listPrefix}` : listPrefix;
        const strip = prefix ? prefix.length + 1 : 0;
        const keys: string[] = [];
        for await (const page of paginateListObjectsV2({ client, pageSize: 1000 }, { Bucket: bucket, Prefix: full })) {
          for (const object of page.Contents ?? []) {
            if (object.Key !== undefined && object.Key.length > strip) keys.push(object.Key.slice(strip));
          }
        }
        // Listing does not return user metadata: fetch each object's recorded sha256 (bounded concurrency).
        const infos: ObjectInfo[] = [];
        const queue = [...keys];
        const worker = async (): Promise<void> => {
          for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
            const found = await head(key);
            if (found) infos.push({ key, sha256: recordedSha(key, found.metadata), size: found.size });
          }
        };
        await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
        return sortInfos(infos);
      });
    },

    async delete(key: string): Promise<void> {
      assertSafeKey(key);
      await guard('delete', key, async () => {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      });
    },

    async putJson(key: string, value: unknown): Promise<ObjectInfo> {
      assertSafeKey(key);
      let text: string;
      try {
        text = `${stableStringify(value, 2)}\n`;
      } catch (error) {
        throw new BadInputError(`putJson ${JSON.stringify(key)}: ${(error as Error).message}`);
      }
      return put(key, text, { contentType: 'application/json' });
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
  return store;
}
