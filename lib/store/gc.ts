/**
 * `synthmix gc`: what a store holds that nothing can reach, removed only when asked (dry run by
 * default). Conservative by construction: a local blob goes only if no object pointer names it
 * (every memo marker, manifest and output is an object: a blob no pointer names is unreachable)
 * and it is older than the grace period (a writer installs a blob just before its pointer); an S3
 * multipart upload goes only if it was started before the grace period and never completed (a
 * killed upload; its parts are billed but invisible). Objects themselves are never removed here.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { LocalStore } from './local.js';
import type { S3Store } from './s3.js';
import type { ArtifactStore } from './types.js';

export interface GcOptions {
  /** Remove what was found (default: only report it). */
  readonly delete?: boolean;
  /** Leave anything younger than this alone (default 24 h). */
  readonly graceMs?: number;
}

export interface GcReport {
  readonly deleted: boolean;
  /** Local blobs (paths) no object pointer names. */
  readonly unreferencedBlobs: string[];
  readonly unreferencedBytes: number;
  /** S3 multipart uploads (`key uploadId`) started and never completed. */
  readonly incompleteUploads: string[];
}

const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000;

function isLocal(store: ArtifactStore): store is LocalStore {
  return typeof (store as Partial<LocalStore>).rootDir === 'string' && typeof (store as Partial<LocalStore>).blobPath === 'function';
}

function isS3(store: ArtifactStore): store is S3Store {
  return typeof (store as Partial<S3Store>).bucket === 'string' && (store as Partial<S3Store>).client !== undefined;
}

export async function collectGarbage(store: ArtifactStore, options: GcOptions = {}): Promise<GcReport> {
  const cutoff = Date.now() - (options.graceMs ?? DEFAULT_GRACE_MS);
  const unreferencedBlobs: string[] = [];
  let unreferencedBytes = 0;
  const incompleteUploads: string[] = [];
  if (isLocal(store)) {
    // Every pointer's sha256 (pointers are small JSON files under objects/).
    const referenced = new Set<string>();
    const objects = path.join(store.rootDir, 'objects');
    for (const entry of await readdir(objects, { recursive: true, withFileTypes: true }).catch(() => [])) {
      if (!entry.isFile()) continue;
      const text = await readFile(path.join(entry.parentPath, entry.name), 'utf8').catch(() => '');
      const sha = /"sha256":"([0-9a-f]{64})"/.exec(text)?.[1];
      if (sha) referenced.add(sha);
    }
    const blobs = path.join(store.rootDir, 'blobs');
    for (const entry of await readdir(blobs, { recursive: true, withFileTypes: true }).catch(() => [])) {
      if (!entry.isFile() || referenced.has(entry.name)) continue;
      const file = path.join(entry.parentPath, entry.name);
      const info = await stat(file).catch(() => undefined);
      if (!info || info.mtimeMs > cutoff) continue;
      unreferencedBlobs.push(file);
      unreferencedBytes += info.size;
      if (options.delete) await rm(file, { force: true });
    }
  }
  if (isS3(store)) {
    const prefix = store.objectKey('');
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const page = await store.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, ...(prefix ? { Prefix: prefix } : {}), ...markers }));
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || (upload.Initiated && upload.Initiated.getTime() > cutoff)) continue;
        incompleteUploads.push(`${upload.Key} ${upload.UploadId}`);
        if (options.delete) await store.client.send(new AbortMultipartUploadCommand({ Bucket: store.bucket, Key: upload.Key, UploadId: upload.UploadId }));
      }
      if (!page.IsTruncated) break;
      markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
  }
  return { deleted: options.delete === true, unreferencedBlobs: unreferencedBlobs.sort(), unreferencedBytes, incompleteUploads };
}
