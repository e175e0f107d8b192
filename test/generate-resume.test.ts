/**
 * The diffusion steps survive a killed gpu worker, on real parts: a real Temporal dev server, a
 * real local artifact store, a cpu worker in this process and the gpu worker as a separate
 * `synthmix worker --queue gpu` process. Each run is one `classImages` child workflow (one class of
 * one source) with the demo's shipped pretrained generator as the base model:
 *
 *  1. vanilla, undisturbed: the reference images (48, in batches of 4);
 *  2. the same, the gpu worker SIGKILLed once some images are stored: the retried attempt (on a new
 *     worker) generates only the missing images, leaves the stored records untouched, and every
 *     image equals the reference's;
 *  3. DreamBooth, undisturbed: the reference adapter;
 *  4. the same, the gpu worker SIGKILLed mid-finetune once a checkpoint is in the store: the new
 *     attempt resumes from that checkpoint (not step 0) and writes a byte-identical adapter.
 *
 * The killed runs use a copy of the base model under another store prefix: the same bytes (so the
 * same outputs) but other memo keys, so they share no memoized result with their reference.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { LocalStore } from '../lib/store/local.js';
import type { ObjectInfo } from '../lib/store/types.js';
import { readManifest, type ManifestRef } from '../lib/data/manifest.js';
import { createDatasetActivities } from '../activities/dataset.js';
import { createGeneratorActivities } from '../activities/generator.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { pretrainGeneratorInput, priorCurateInput } from '../lib/sweep/base-model-inputs.js';
import { classImages } from '../workflows/index.js';
import { classImagesInput, type ClassImagesInput, type ClassImagesResult } from '../workflows/class-images.js';
import type { SynthmixConfig } from '../temporal.config.js';
import { startTestWorld, type TestWorld } from './support/world.js';
import { descendantsOf, stillAlive, WorkerProcesses, type WorkerProcess } from './support/worker-processes.js';

const CLASS = 'cat';
/** Vanilla images per run: in batches of 4, they reach the store a few at a time. */
const COUNT = 48;
/** DreamBooth steps: the activity checkpoints every max(10, ceil(steps / 4)) = 20 steps. */
const FINETUNE_STEPS = 80;
const CHECKPOINT_EVERY = 20;

let world: TestWorld;
let config: SynthmixConfig;
let client: Client;
let store: LocalStore;
let processes: WorkerProcesses;
/** One input per run: the killed runs' base model is the reference's copied to another prefix. */
const inputs = {} as Record<'vanilla' | 'vanillaKilled' | 'dreambooth' | 'dreamboothKilled', ClassImagesInput>;

// ---------------------------------------------------------------------------------------------
// The gpu worker as its own process (test/support/worker-processes.ts).

/** SIGKILL the worker process alone (as the OOM killer would); what it started dies with it. */
async function killWorker(worker: WorkerProcess): Promise<void> {
  const children = descendantsOf(worker.pid);
  process.kill(worker.pid, 'SIGKILL');
  expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
  await waitFor('the dead worker’s processes to die', async () => (stillAlive(children).length === 0 ? true : undefined), 30_000);
}

function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  return processes.waitFor(what, probe, timeoutMs, 50);
}

// ---------------------------------------------------------------------------------------------
// Observing a run.

function startRun(run: keyof typeof inputs): Promise<WorkflowHandle<typeof classImages>> {
  return client.workflow.start(classImages, { taskQueue: config.queues.cpu, workflowId: `generate-resume-${run}-${Date.now()}`, args: [inputs[run]] });
}

/** The workflow must still run (else it finished before it could be disturbed). */
async function assertRunning(handle: WorkflowHandle): Promise<void> {
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') throw new Error(`${handle.workflowId} is ${description.status.name}: it ended before the kill`);
}

/** Objects under `steps/<step>/` of step prefixes that have no result yet (the one running). */
async function unfinished(step: 'generate' | 'finetune', suffix: string): Promise<ObjectInfo[]> {
  const objects = await store.list(`steps/${step}/`);
  const prefixOf = (key: string) => key.split('/').slice(0, 3).join('/');
  const finished = new Set(objects.filter((o) => o.key.endsWith('/result.json')).map((o) => prefixOf(o.key)));
  return objects.filter((o) => !finished.has(prefixOf(o.key)) && o.key.slice(prefixOf(o.key).length).startsWith(suffix));
}

/** The attempt number an activity of the workflow finished on, and its previous attempt's failure. */
async function activityStarted(handle: WorkflowHandle, activity: string) {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
  const started = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(scheduled?.eventId));
  expect(started, `${activity} was started`).toBeDefined();
  return started?.activityTaskStartedEventAttributes ?? {};
}

/** The local store's pointer file of a key: rewriting an object (even with equal bytes) replaces it. */
function pointerIdentity(key: string): string {
  const info = statSync(path.join(store.rootDir, 'objects', ...key.split('/')));
  return `${info.ino}:${info.mtimeMs}`;
}

/** Every image of a manifest, by index: their sha256. */
async function imageHashes(manifest: ManifestRef, count: number): Promise<string[]> {
  const items = [...(await readManifest(store, manifest)).items].sort((a, b) => Number(a.meta?.index) - Number(b.meta?.index));
  expect(items.map((item) => item.meta?.index)).toEqual(Array.from({ length: count }, (_, i) => i));
  return items.map((item) => item.sha256);
}

/** The files of an adapter: path under the adapter prefix → sha256. */
async function adapterFiles(prefix: string): Promise<Record<string, string>> {
  return Object.fromEntries((await store.list(`${prefix}/`)).map((o) => [o.key.slice(prefix.length + 1), o.sha256]));
}

async function copyPrefix(from: string, to: string): Promise<void> {
  for (const object of await store.list(`${from}/`)) await store.put(`${to}/${object.key.slice(from.length + 1)}`, await store.get(object.key));
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  world = await startTestWorld({
    name: 'generate-resume',
    workers: ['cpu'],
    // One torch thread per engine on every worker: bit-identical resumes need the same thread count.
    overrides: () => ({ engine: { threads: 1 } }),
  });
  ({ config, client } = world);
  store = world.store as LocalStore; // a local store: the test looks at its files
  processes = new WorkerProcesses(world.configFile);

  // The base generator: the demo preset's pretrain, which uploads the model shipped in
  // engine/pretrained/ (no training); and a copy of it under another prefix for the killed runs.
  const deps = { store, config };
  const demo = resolveSweepConfig('demo');
  const prior = await createDatasetActivities(deps).curateDataset(priorCurateInput(demo));
  const base = await createGeneratorActivities(deps).pretrainGenerator(pretrainGeneratorInput(demo, prior.trainManifest));
  const baseCopy = 'test/base-copy/model';
  await copyPrefix(base.prefix, baseCopy);

  // The originals DreamBooth picks its instances from: the tiny demo world.
  const tiny = resolveSweepConfig('tiny', {
    // Few sampling steps in small batches: images reach the store a few at a time.
    generator: { steps: 4, batchSize: 4 },
    finetune: { dreambooth: { steps: FINETUNE_STEPS, lr: 5e-4, priorWeight: 1, numClassImages: 4 } },
  });
  const curated = await createDatasetActivities(deps).curateDataset({
    source: { kind: 'demo', domain: 'target' },
    demoPreset: 'tiny',
    perClass: tiny.dataset.perClass,
    testPerClass: tiny.dataset.testPerClass,
    seed: 0,
    imageSize: 32,
  });
  expect(curated.classes).toContain(CLASS);
  const input = (source: 'vanilla' | 'dreambooth', baseModelPrefix: string, count: number): ClassImagesInput => ({
    ...classImagesInput(tiny, { queues: config.queues, source, className: CLASS, original: curated.trainManifest, baseModelPrefix, seed: 0, heartbeatTimeout: '6 seconds' }),
    count,
  });
  inputs.vanilla = input('vanilla', base.prefix, COUNT);
  inputs.vanillaKilled = input('vanilla', baseCopy, COUNT);
  inputs.dreambooth = input('dreambooth', base.prefix, 4);
  inputs.dreamboothKilled = input('dreambooth', baseCopy, 4);
});

afterAll(async () => {
  await processes?.killAll();
  await world?.stop();
});

describe('a gpu worker killed mid-generate or mid-finetune', () => {
  let worker: WorkerProcess;
  let referenceImages: string[];
  let referenceAdapter: Record<string, string>;
  let referenceDreamboothImages: string[];

  it('generates undisturbed: the reference images', async () => {
    worker = await processes.start('w1');
    const result = await (await startRun('vanilla')).result();
    expect(result).toMatchObject({ count: COUNT, generated: COUNT });
    expect(result.parts).toHaveLength(1);
    referenceImages = await imageHashes(result.manifest, COUNT);
    expect(new Set(referenceImages).size).toBe(COUNT);
  });

  it('SIGKILL mid-generate: the retry generates only the missing images, the same bytes', async () => {
    const handle = await startRun('vanillaKilled');
    // Kill once some images are stored (the activity uploads each as the engine writes it).
    await waitFor('a first batch of images in the store', async () => {
      const records = await unfinished('generate', '/records/');
      return records.length >= 4 ? true : undefined;
    });
    await assertRunning(handle);
    await killWorker(worker);

    // What the killed attempt left: some, not all, of the records.
    const before = new Map((await unfinished('generate', '/records/')).map((o) => [o.key, { sha256: o.sha256, pointer: pointerIdentity(o.key) }]));
    expect(before.size).toBeGreaterThanOrEqual(4);
    expect(before.size).toBeLessThan(COUNT);

    worker = await processes.start('w2');
    const result: ClassImagesResult = await handle.result();
    const started = await activityStarted(handle, 'generate');
    expect(started.attempt).toBe(2);
    expect(started.lastFailure?.timeoutFailureInfo, 'attempt 1 ended by missing its heartbeats').toBeTruthy();
    // The retried attempt generated exactly the missing images...
    expect(result.count).toBe(COUNT);
    expect(result.generated).toBe(COUNT - before.size);
    // ...left every record of the killed attempt as it was (not rewritten, even with equal bytes)...
    for (const [key, { sha256, pointer }] of before) {
      expect((await store.stat(key))?.sha256, key).toBe(sha256);
      expect(pointerIdentity(key), `${key} was rewritten`).toBe(pointer);
    }
    // ...and every image equals the undisturbed run's.
    expect(await imageHashes(result.manifest, COUNT)).toEqual(referenceImages);
  });

  it('fine-tunes (DreamBooth) undisturbed: the reference adapter', async () => {
    const result = await (await startRun('dreambooth')).result();
    expect(result.finetuneResumedFromStep).toBe(0);
    expect(result.parts).toHaveLength(2);
    referenceAdapter = await adapterFiles(result.adapterPrefix ?? '');
    expect(Object.keys(referenceAdapter)).toContain('adapter.json');
    referenceDreamboothImages = await imageHashes(result.manifest, 4);
  });

  it('SIGKILL mid-finetune: the new attempt resumes from the stored checkpoint, same adapter', async () => {
    const handle = await startRun('dreamboothKilled');
    // Kill once a checkpoint of this fine-tune is in the store (uploaded as the engine writes it).
    const versions = new Set<string>();
    await waitFor('a checkpoint in the store', async () => {
      for (const checkpoint of await unfinished('finetune', '/checkpoint')) versions.add(checkpoint.sha256);
      return versions.size >= 1 ? true : undefined;
    });
    await assertRunning(handle);
    await killWorker(worker);
    for (const checkpoint of await unfinished('finetune', '/checkpoint')) versions.add(checkpoint.sha256);

    worker = await processes.start('w3');
    const result: ClassImagesResult = await handle.result();
    const started = await activityStarted(handle, 'finetune');
    expect(started.attempt).toBe(2);
    expect(started.lastFailure?.timeoutFailureInfo, 'attempt 1 ended by missing its heartbeats').toBeTruthy();
    // Attempt 2 resumed from a checkpoint (each version seen is a later one), not from step 0...
    const resumed = result.finetuneResumedFromStep ?? -1;
    expect(resumed % CHECKPOINT_EVERY).toBe(0);
    expect(resumed).toBeGreaterThanOrEqual(versions.size * CHECKPOINT_EVERY);
    expect(resumed).toBeLessThan(FINETUNE_STEPS);
    // ...and wrote the very adapter of the undisturbed fine-tune, which generates the same images.
    expect(await adapterFiles(result.adapterPrefix ?? '')).toEqual(referenceAdapter);
    expect(await imageHashes(result.manifest, 4)).toEqual(referenceDreamboothImages);
  });
});
