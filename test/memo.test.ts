/**
 * The one memo (lib/memo.ts) through the steps that carried their own before: a memoized curate or
 * mix result whose referenced object was deleted or damaged in the store is recomputed (to the same
 * bytes), never a permanent failure; a damaged result record is recomputed too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curate, type CurateInput } from '../activities/curate.js';
import { mix, type MixInput } from '../activities/mix.js';
import { writeDemoWorld } from '../lib/data/demo-world.js';
import { createLocalStore, type LocalStore } from '../lib/store/index.js';

let tmp: string;
let store: LocalStore;
let curateInput: CurateInput;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-memo-'));
  store = createLocalStore(path.join(tmp, 'store'));
  const world = await writeDemoWorld(path.join(tmp, 'world'), { preset: 'tiny', seed: 0 });
  curateInput = { source: { kind: 'local', path: world.roots.train }, testSource: { kind: 'local', path: world.roots.test }, perClass: 6, testPerClass: 4, seed: 0, imageSize: 16 };
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Damage an object's bytes in the local store, keeping its recorded sha256. */
function corrupt(key: string): void {
  const pointer = JSON.parse(readFileSync(path.join(store.rootDir, 'objects', ...key.split('/')), 'utf8')) as { sha256: string };
  const blob = store.blobPath(pointer.sha256);
  const bytes = readFileSync(blob);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(blob, bytes);
}

/** What a step produced that must not change when it is recomputed. */
const outputs = <T extends { computed: boolean; wallMs: number }>({ computed: _c, wallMs: _w, ...rest }: T) => rest;

/** After `damage`, the step runs again: computed afresh, to the very same result; then memoized again. */
async function expectRecomputed<T extends { computed: boolean; wallMs: number }>(first: T, damage: () => unknown, run: () => Promise<T>): Promise<void> {
  await damage();
  const again = await run();
  expect(again.computed).toBe(true);
  expect(outputs(again)).toEqual(outputs(first));
  expect((await run()).computed).toBe(false);
}

describe('memoized curate and mix', () => {
  it('curate: a deleted or corrupt manifest or report is a miss, recomputed to the same result', async () => {
    const run = () => curate(curateInput, { store });
    const first = await run();
    expect(first.computed).toBe(true);
    expect((await run()).computed).toBe(false);
    await expectRecomputed(first, () => store.delete(first.testManifest.key), run);
    await expectRecomputed(first, () => corrupt(first.trainManifest.key), run);
    await expectRecomputed(first, () => store.delete(first.reportKey), run);
  });

  it('mix: a deleted or corrupt split, or a corrupt result record, is a miss, recomputed to the same result', async () => {
    const curated = await curate(curateInput, { store });
    const input: MixInput = { original: curated.trainManifest, p: 0.5, arm: 'only-original', seed: 1 };
    const run = () => mix(input, { store });
    const first = await run();
    expect((await run()).computed).toBe(false);
    await expectRecomputed(first, () => store.delete(first.val.key), run);
    await expectRecomputed(first, () => corrupt(first.train.key), run);
    await expectRecomputed(first, () => corrupt(`mix/${first.inputHash}/result.json`), run);
  });
});
