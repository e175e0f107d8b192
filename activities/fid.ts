/**
 * gpu queue: the paper's Table 1 — FID (and KID) between the original images and each synthetic
 * source, per class and overall. Features are cached per image (sha256) and extractor, so a
 * re-run or another sweep over the same images extracts nothing twice.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readList, type StoredList } from '../lib/store/values.js';
import type { ActivityDeps } from '../lib/deps.js';
import { readManifest, type ManifestItem, type ManifestRef } from '../lib/data/manifest.js';
import { runEngine } from '../lib/engine/activity.js';
import { parseEngineSummary } from '../lib/engine/results.js';
import { EngineRunner } from '../lib/engine/runner.js';
import { hashJson } from '../lib/hash.js';
import { memoize, type StepTiming } from '../lib/memo.js';
import { encodeNpyFloat32, matrixRow, parseNpyFloat32 } from '../lib/npy.js';
import type { FidRow } from '../lib/report/types.js';
import { fidRowOf } from '../lib/report/fid-row.js';
import { BadInputError } from '../lib/errors.js';
import { uniqueSuffix } from '../lib/temp-files.js';
import { loopBeat } from '../lib/heartbeat.js';
import { claimAttemptDir } from '../lib/engine/leftovers.js';

export interface FeatureExtractor {
  id: 'synthmix-builtin-v1' | 'inception-v3-fid';
  /** Store key of the extractor's weights (the prior-domain ResNet-18, or the FID Inception file). */
  weightsKey: string;
  options: Record<string, string | number>;
}

export interface FidInput {
  original: ManifestRef;
  /** source name → manifests of its synthetic images (one per class; stored pages in a sweep: they grow with the classes). */
  synthetic: Record<string, ManifestRef[] | StoredList>;
  extractor: FeatureExtractor;
  kid: { subsets: number; subsetSize: number; seed: number };
  /** The basic bootstrap of each FID over images (engine fid/bootstrap.py); absent: none. */
  bootstrap?: { resamples: number; seed: number; level: number };
}

export interface FidResult extends StepTiming {
  rows: FidRow[];
  tableKey: string;
  csvKey: string;
  extracted: number;
}

export function createFidActivities({ store, config }: ActivityDeps) {
  const runner = new EngineRunner(store, config.engine);

  async function fid(input: FidInput): Promise<FidResult> {
    let extracted = 0;
    const memo = await memoize(store, 'fid', input, async (prefix) => {
      const weights = await store.stat(input.extractor.weightsKey);
      if (!weights) throw new BadInputError(`FID extractor weights not found in the store: ${input.extractor.weightsKey}`).toFailure();
      const extractorKey = hashJson({ id: input.extractor.id, weights: weights.sha256, options: input.extractor.options });
      const featureKey = (sha: string) => `features/${extractorKey}/${sha}.npy`;

      const groups = new Map<string, ManifestItem[]>();
      const add = (name: string, items: readonly ManifestItem[]) => groups.set(name, [...(groups.get(name) ?? []), ...items]);
      const original = await readManifest(store, input.original);
      for (const item of original.items) add(`original/${item.class}`, [item]);
      add('original/overall', original.items);
      for (const [source, refs] of Object.entries(input.synthetic)) {
        for (const ref of await readList(store, refs)) {
          const manifest = await readManifest(store, ref);
          for (const item of manifest.items) add(`${source}/${item.class}`, [item]);
          add(`${source}/overall`, manifest.items);
        }
      }

      // 1. Extract features of the images not in the cache yet.
      const all = new Map<string, ManifestItem>();
      for (const items of groups.values()) for (const item of items) all.set(item.sha256, item);
      const missing: ManifestItem[] = [];
      for (const item of all.values()) {
        if (!(await store.exists(featureKey(item.sha256)))) missing.push(item);
        loopBeat('find-cached-features', missing.length);
      }
      // Private to this attempt: two FID steps of one worker must not share their lists.
      const scratch = path.join(config.engine.workDir, `fid-${extractorKey.slice(0, 12)}-${uniqueSuffix()}`);
      await mkdir(scratch, { recursive: true });
      await claimAttemptDir(scratch);
      try {
        if (missing.length > 0) {
          const list = path.join(scratch, 'missing.json');
          const items = [];
          for (const item of missing) {
            items.push({ path: await runner.fetchToCache(item.key, item.sha256), class: item.class, sha256: item.sha256 });
            loopBeat('fetch-images', items.length, missing.length);
          }
          await writeFile(list, JSON.stringify({ classes: original.classes, items }));
          const result = await runEngine(store, config.engine, {
            command: 'extract-features',
            params: { extractor: input.extractor.id, extractorOptions: input.extractor.options, batchSize: 64 },
            inputs: { images: { localPath: list }, weights: { key: input.extractor.weightsKey } },
            checkpointKey: `${prefix}/extract-checkpoint`,
          });
          const matrix = parseNpyFloat32(await readFile(result.outputs.features), 'features.npy');
          const meta = JSON.parse(await readFile(result.outputs.meta, 'utf8')) as { sha256s: string[] };
          for (let row = 0; row < matrix.rows; row += 1) {
            await store.put(featureKey(meta.sha256s[row]), encodeNpyFloat32(matrixRow(matrix, row)));
            loopBeat('store-features', row + 1, matrix.rows);
          }
          extracted = matrix.rows;
          await result.cleanup();
        }

        // 2. Fréchet distance and KID per (source, class) and overall, against the originals.
        const groupFiles: Record<string, { features: string[] }> = {};
        for (const [name, items] of groups) {
          const files = [];
          for (const item of items) {
            files.push(await runner.fetchToCache(featureKey(item.sha256)));
            loopBeat(`fetch-features ${name}`, files.length, items.length);
          }
          groupFiles[name] = { features: files };
        }
        const comparisons = [...groups.keys()]
          .filter((name) => !name.startsWith('original/'))
          .map((name) => ({ name, reference: `original/${name.split('/')[1]}`, candidate: name }))
          .filter((c) => groups.has(c.reference));
        const spec = path.join(scratch, 'groups.json');
        await writeFile(
          spec,
          JSON.stringify({ groups: groupFiles, comparisons, kid: input.kid, bootstrap: input.bootstrap ?? false, extractor: { id: input.extractor.id, weightsSha256: weights.sha256 } }),
        );
        const table = await runEngine(store, config.engine, { command: 'fid-table', params: {}, inputs: { groups: { localPath: spec } } });
        const tableKey = `${prefix}/fid.json`;
        const csvKey = `${prefix}/fid.csv`;
        await store.putFile(tableKey, table.outputs.fid);
        await store.putFile(csvKey, table.outputs.csv);
        await table.cleanup();
        const rows: FidRow[] = parseEngineSummary('fid-table', table.summary).rows.map(fidRowOf);
        return { rows, tableKey, csvKey, extracted };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    }, { references: (r) => [{ key: r.tableKey }, { key: r.csvKey }], reads: { keys: [input.extractor.weightsKey] } });
    return { ...memo, extracted };
  }

  return { fid };
}
