/**
 * Copy a pretrained built-in generator out of an artifact store into engine/pretrained/, where the
 * `pretrainGenerator` activity finds it for the same inputs (activities/generator.ts,
 * `findShippedModel`) instead of pretraining again. Writes SHA256SUMS beside the model.
 *
 *   npx tsx infra/ship-pretrained-generator.ts <store dir>     (every pretrain-generator result in it)
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../lib/config/load.js';
import { createLocalStore } from '../lib/store/local.js';

const storeDir = process.argv[2];
if (!storeDir) {
  console.error('usage: npx tsx infra/ship-pretrained-generator.ts <local store dir>');
  process.exit(2);
}
const store = createLocalStore(path.resolve(storeDir));
const results = (await store.list('steps/pretrain-generator/')).filter((o) => o.key.endsWith('/result.json'));
if (results.length === 0) {
  console.error(`no pretrain-generator results in ${storeDir}`);
  process.exit(1);
}
for (const result of results) {
  const prefix = result.key.slice(0, -'/result.json'.length);
  const target = path.join(projectRoot, 'engine', 'pretrained', ...prefix.split('/'));
  await rm(target, { recursive: true, force: true });
  const sums: string[] = [];
  for (const object of await store.list(`${prefix}/model/`)) {
    const relative = object.key.slice(prefix.length + 1);
    const file = path.join(target, ...relative.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await store.getToFile(object.key, file);
    sums.push(`${createHash('sha256').update(await readFile(file)).digest('hex')}  ${relative}`);
  }
  await writeFile(path.join(target, 'SHA256SUMS'), `${sums.sort((a, b) => a.slice(66).localeCompare(b.slice(66))).join('\n')}\n`);
  console.log(`${target}: ${sums.length} files`);
}
