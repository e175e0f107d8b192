/**
 * Child process for the local store's crash test (test/store.test.ts): overwrites one key with two
 * alternating versions, forever, until the parent SIGKILLs it. Prints "ready" after the first write.
 * Usage: tsx test/store.crash-child.ts ROOT KEY
 */
import { Readable } from 'node:stream';
import { createLocalStore } from '../lib/store/local.js';
import { crashVersions } from './store.crash-versions.js';

async function main(): Promise<void> {
  const [root, key] = process.argv.slice(2);
  const store = createLocalStore(root);
  const versions = crashVersions();
  await store.put(key, versions[0]);
  process.stdout.write('ready\n');
  for (let i = 1; ; i++) {
    // Alternate buffered and streamed writes: both paths must be crash-safe.
    await store.put(key, i % 2 === 1 ? Readable.from([versions[1]]) : versions[0]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
