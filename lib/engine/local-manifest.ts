import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../store/types.js';
import { readManifest, type Manifest, type ManifestRef } from '../data/manifest.js';
import type { EngineRunner } from './runner.js';
import { writeFileAtomic } from '../temp-files.js';
import { loopBeat } from '../heartbeat.js';

/**
 * Turn a store manifest into the engine's "local manifest" (protocol.py): every image fetched into
 * the worker's cache by sha256, and a JSON file listing their local paths. The file is named by the
 * manifest's sha256, so the activities of one worker share it.
 */
export async function localManifest(
  store: ArtifactStore,
  runner: EngineRunner,
  cacheDir: string,
  ref: ManifestRef,
  options: { classes?: readonly string[] } = {},
): Promise<{ path: string; manifest: Manifest }> {
  const manifest = await readManifest(store, ref);
  const classes = options.classes ?? manifest.classes;
  const suffix = options.classes ? `-${classes.length}c` : '';
  const file = path.join(cacheDir, 'manifests', `${ref.sha256}${suffix}.json`);
  if (await stat(file).catch(() => undefined)) return { path: file, manifest };
  const items = [];
  for (const [index, item] of manifest.items.entries()) {
    items.push({ path: await runner.fetchToCache(item.key, item.sha256), class: item.class, sha256: item.sha256 });
    loopBeat('fetch-manifest', index + 1, manifest.items.length);
  }
  await mkdir(path.dirname(file), { recursive: true });
  // Two activities of this worker may convert the same manifest at once: each renames a whole file.
  await writeFileAtomic(file, JSON.stringify({ classes, items }));
  return { path: file, manifest };
}
