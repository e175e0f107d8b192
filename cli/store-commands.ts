import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { SynthmixConfig } from '../temporal.config.js';
import { assertSafeKey, assertSafePrefix, createStore } from '../lib/store/index.js';
import { mapLimit } from '../lib/concurrency.js';
import { UsageError } from './usage.js';

/** Every regular file under `dir`, `/`-separated and relative to it, sorted (hidden entries skipped). */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await filesUnder(dir, rel)));
    else if (entry.isFile()) files.push(rel);
  }
  return files;
}

/**
 * `import PATH KEY`: put a user's file (a `.pth`) or folder (a Stable Diffusion folder in diffusers
 * layout, an image folder `<class>/<file>`) into the configured store, each object with its sha256,
 * so that a sweep config can name it (`train.pretrainedKey`, `generator.modelPrefix`,
 * `dataset.source: {kind: "store", prefix}`). The local store is content-addressed: files cannot be
 * copied into it by hand.
 */
export function registerStoreCommands(program: Command, config: () => SynthmixConfig): void {
  program
    .command('import <path> <key>')
    .description('Put a local file or folder into the artifact store under KEY (a folder: under KEY/), with sha256; prints progress.')
    .action(async (source: string, key: string) => {
      const info = await stat(source).catch(() => undefined);
      if (!info) throw new UsageError(`import: ${source} does not exist`);
      try {
        if (info.isDirectory()) assertSafePrefix(key);
        else assertSafeKey(key);
      } catch (error) {
        throw new UsageError(`import: KEY ${JSON.stringify(key)}: ${(error as Error).message}`);
      }
      const store = createStore(config().storage);
      const files = info.isDirectory() ? await filesUnder(source) : [''];
      if (files.length === 0) throw new UsageError(`import: ${source} has no files`);
      const target = (rel: string) => (rel ? `${key.replace(/\/+$/, '')}/${rel}` : key);
      let done = 0;
      let bytes = 0;
      const began = Date.now();
      await mapLimit(files, 4, async (rel) => {
        const object = await store.putFile(target(rel), rel ? path.join(source, ...rel.split('/')) : source);
        done += 1;
        bytes += object.size;
        const mb = bytes / 1e6;
        process.stderr.write(`\r${done}/${files.length} files, ${mb.toFixed(1)} MB, ${(mb / Math.max(0.001, (Date.now() - began) / 1000)).toFixed(1)} MB/s`);
        if (files.length === 1) process.stderr.write(`\n${object.key} sha256 ${object.sha256}`);
      });
      process.stderr.write('\n');
      console.log(`${files.length} file(s) in ${store.description} under ${info.isDirectory() ? `${key.replace(/\/+$/, '')}/` : key}`);
    });
}
