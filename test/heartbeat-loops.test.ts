/**
 * Issue 14 point 8: the loops that run before the engine's pulse starts (hashing a dataset, fetching
 * a manifest's images into the cache, checking a memo's references) heartbeat from inside the loop,
 * and keep the checkpoint named in the attempt's last heartbeat. Run inside Temporal's activity test
 * environment (the SDK's real activity Context), on real files and a real store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curate } from '../activities/curate.js';
import { writeDemoWorld } from '../lib/data/demo-world.js';
import { listSource } from '../lib/data/source.js';
import { localManifest } from '../lib/engine/local-manifest.js';
import { EngineRunner } from '../lib/engine/runner.js';
import { loadConfig } from '../lib/config/load.js';
import { createLocalStore, type LocalStore } from '../lib/store/index.js';

let tmp: string;
let store: LocalStore;
let trainRoot: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-heartbeat-loops-'));
  store = createLocalStore(path.join(tmp, 'store'));
  const world = await writeDemoWorld(path.join(tmp, 'world'), { preset: 'tiny', seed: 0 });
  trainRoot = world.roots.train;
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface LoopBeat {
  checkpointKey?: string;
  loop?: { phase: string; done: number; total?: number };
}

/** An activity environment whose attempt follows one that heartbeated a checkpoint; collects the beats. */
function attemptAfterCheckpoint(): { env: MockActivityEnvironment; beats: LoopBeat[] } {
  const env = new MockActivityEnvironment({ attempt: 2, heartbeatTimeoutMs: 60_000, heartbeatDetails: { checkpointKey: 'steps/x/checkpoint' } });
  const beats: LoopBeat[] = [];
  env.on('heartbeat', (details: LoopBeat) => beats.push(details));
  return { env, beats };
}

describe('heartbeats inside long loops', () => {
  it('hashing a local dataset beats from inside the loop, keeping the checkpoint', async () => {
    const { env, beats } = attemptAfterCheckpoint();
    const listing = await env.run(async () => listSource({ kind: 'local', path: trainRoot }, undefined)) as Awaited<ReturnType<typeof listSource>>;
    expect(listing.files.length).toBeGreaterThan(1);
    const loop = beats.filter((b) => b.loop?.phase === 'hash-source');
    expect(loop.length).toBeGreaterThan(0);
    expect(loop.every((b) => b.checkpointKey === 'steps/x/checkpoint')).toBe(true);
  });

  it('fetching a manifest into the engine cache beats per image, to the last one', async () => {
    const curated = await curate({ source: { kind: 'local', path: trainRoot }, perClass: 6, testPerClass: 0, seed: 0, imageSize: 16 }, { store });
    const config = loadConfig({ env: {}, overrides: { engine: { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work') } } });
    const runner = new EngineRunner(store, config.engine);
    const { env, beats } = attemptAfterCheckpoint();
    const { manifest } = await env.run(async () => localManifest(store, runner, config.engine.cacheDir, curated.trainManifest)) as Awaited<ReturnType<typeof localManifest>>;
    const loop = beats.filter((b) => b.loop?.phase === 'fetch-manifest');
    expect(loop.length).toBeGreaterThan(0);
    // The last item always beats (the throttle lets the end through), with the checkpoint kept.
    expect(loop[loop.length - 1]).toEqual({ checkpointKey: 'steps/x/checkpoint', loop: { phase: 'fetch-manifest', done: manifest.items.length, total: manifest.items.length } });
  });
});
