/**
 * Issue 14 points 5 and 6, through the one memo (lib/memo.ts) on a real SeaweedFS bucket and a local
 * store:
 * 5. two writers of one step (two sweeps at once, or a zombie attempt) never leave a marker that
 *    describes other bytes than the ones stored: the marker is published by one conditional write and
 *    pins the bytes its own computation wrote; a replaced output makes the marker a miss;
 * 6. store objects a step reads by name (weights, a model folder) are part of its key by content:
 *    weights replaced under the same name are recomputed, never silently reused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoize } from '../lib/memo.js';
import { createLocalStore, createS3Store, type S3Store } from '../lib/store/index.js';
import type { ArtifactStore } from '../lib/store/types.js';
import { withSeaweed } from './support/servers.js';

const seaweed = withSeaweed();
let tmp: string;
let s3: S3Store;
let local: ArtifactStore;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-memo-integrity-'));
  const { endpoint, bucket, region, accessKeyId, secretAccessKey } = seaweed.server;
  s3 = createS3Store({ bucket, prefix: 'memo-integrity', endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  local = createLocalStore(path.join(tmp, 'store'));
});
afterAll(async () => {
  s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

interface Out {
  writer: string;
  outKey: string;
}
const references = (r: Out) => [{ key: r.outKey }];

/** A step that writes `${prefix}/out.bin` with its writer's name (two machines may compute other bytes). */
function writeAs(store: ArtifactStore, writer: string, between?: () => Promise<void>) {
  return async (prefix: string): Promise<Out> => {
    const outKey = `${prefix}/out.bin`;
    await store.put(outKey, writer);
    await between?.();
    return { writer, outKey };
  };
}

for (const which of ['s3', 'local'] as const) {
  describe(`memo under shared use (${which})`, () => {
    const store = (): ArtifactStore => (which === 's3' ? s3 : local);

    it('conditional write: of two writers of one key exactly the first one is stored', async () => {
      expect(await store().putJsonIfAbsent('cond/a.json', { n: 1 })).toBeDefined();
      expect(await store().putJsonIfAbsent('cond/a.json', { n: 2 })).toBeUndefined();
      expect(await store().getJson('cond/a.json')).toEqual({ n: 1 });
    });

    it('point 5: two writers at once: the marker that stands describes the stored bytes', async () => {
      const inputs = { test: 'two-writers', which };
      // A writes, then B overwrites and publishes; then A publishes.
      let aWrote!: () => void;
      const aWritten = new Promise<void>((resolve) => (aWrote = resolve));
      const bRun = aWritten.then(() => memoize(store(), 'evaluate', inputs, writeAs(store(), 'B'), { references }));
      const a = memoize(store(), 'evaluate', inputs, writeAs(store(), 'A', async () => {
        aWrote();
        await bRun.catch(() => undefined);
      }), { references });
      const [ra, rb] = await Promise.all([a, bRun]);
      const later = await memoize(store(), 'evaluate', inputs, writeAs(store(), 'C'), { references });
      const stored = (await store().get(later.outKey)).toString();
      // Whatever stands, its result describes the bytes under its keys, and both writers agree with it.
      expect(later.writer).toBe(stored);
      expect(ra.writer).toBe(rb.writer);
    });

    it('point 5: a zombie that rewrites an output after the marker was published makes it a miss', async () => {
      const inputs = { test: 'zombie', which };
      const first = await memoize(store(), 'evaluate', inputs, writeAs(store(), 'first'), { references });
      expect(first.computed).toBe(true);
      await store().put(first.outKey, 'zombie');
      const again = await memoize(store(), 'evaluate', inputs, writeAs(store(), 'again'), { references });
      expect(again.computed).toBe(true);
      expect(again.writer).toBe((await store().get(again.outKey)).toString());
    });

    it('point 6: weights replaced under the same name (key or folder) are a new step', async () => {
      await store().put('weights/w.pt', 'v1');
      await store().put('models/base/unet.bin', 'v1');
      const run = () => memoize(store(), 'train', { pretrainedKey: 'weights/w.pt', base: 'models/base' }, writeAs(store(), 'x'), {
        references,
        reads: { keys: ['weights/w.pt'], prefixes: ['models/base'] },
      });
      expect((await run()).computed).toBe(true);
      expect((await run()).computed).toBe(false);
      await store().put('weights/w.pt', 'v2');
      expect((await run()).computed).toBe(true);
      expect((await run()).computed).toBe(false);
      await store().put('models/base/unet.bin', 'v2');
      expect((await run()).computed).toBe(true);
    });
  });
}
