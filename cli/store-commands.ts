import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { SynthmixConfig } from '../temporal.config.js';
import { assertSafeKey, assertSafePrefix, createStore } from '../lib/store/index.js';
import { uploadOutput } from '../lib/engine/runner.js';
import { UsageError } from './usage.js';

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
      const target = info.isDirectory() ? key.replace(/\/+$/, '') : key;
      try {
        if (info.isDirectory()) assertSafePrefix(target);
        else assertSafeKey(target);
      } catch (error) {
        throw new UsageError(`import: KEY ${JSON.stringify(key)}: ${(error as Error).message}`);
      }
      const store = createStore(config().storage);
      let bytes = 0;
      let count = 0;
      const began = Date.now();
      const written = await uploadOutput(store, source, target, {
        skipHidden: true,
        onWritten: (object) => {
          count += 1;
          bytes += object.size;
          const mb = bytes / 1e6;
          process.stderr.write(`\r${count} files, ${mb.toFixed(1)} MB, ${(mb / Math.max(0.001, (Date.now() - began) / 1000)).toFixed(1)} MB/s`);
        },
      });
      process.stderr.write('\n');
      if (written.length === 0) throw new UsageError(`import: ${source} has no files`);
      if (!info.isDirectory()) process.stderr.write(`${written[0].key} sha256 ${written[0].sha256}\n`);
      console.log(`${written.length} file(s) in ${store.description} under ${info.isDirectory() ? `${target}/` : target}`);
    });
}
