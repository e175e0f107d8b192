/**
 * The sweep on the Replicate generator backend, end to end: a real Temporal dev server, real cpu and
 * gpu workers, a local artifact store, real engine processes (classifier, FID), and the fake
 * Replicate API (test/fakes/replicate-server.ts) behind the real `replicate` client. The tiny preset
 * with sources vanilla + DreamBooth, one p and one init mode: every synthetic image comes from a
 * Replicate prediction, every DreamBooth version from a Replicate training.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { Manifest } from '../lib/data/manifest.js';
import { sha256Hex } from '../lib/hash.js';
import { normalizeImage } from '../lib/images/normalize.js';
import type { ArtifactStore } from '../lib/store/types.js';
import { enumerateCells } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { sweep } from '../workflows/index.js';
import type { SweepResult } from '../workflows/sweep.js';
import type { SynthmixConfig } from '../temporal.config.js';
import { startTestWorld, type TestWorld } from './support/world.js';
import { SD_MODEL, SD_VERSION, startFakeReplicate, TRAINER_MODEL, TRAINER_VERSION, type FakeReplicate } from './fakes/replicate-server.js';

const DESTINATION = 'synthmix/dreambooth-out';

let world: TestWorld;
let fake: FakeReplicate;
let config: SynthmixConfig;
let client: Client;
let store: ArtifactStore;
const savedToken = process.env.REPLICATE_API_TOKEN;

beforeAll(async () => {
  // WebP with alpha, as some Replicate models return: stored as RGB PNG at the sweep's size.
  fake = await startFakeReplicate({ outputFormat: 'webp', outputAlpha: true });
  world = await startTestWorld({
    name: 'replicate-sweep',
    workers: ['cpu', 'gpu'],
    // Replicate activities wait on the network: more of them at once than cores.
    // The fake Replicate API is on loopback: the workers' own config lets the token go there.
    overrides: () => ({ engine: { threads: 1 }, workers: { cpuConcurrency: 8, gpuConcurrency: 2 }, endpoints: { allowLoopbackHttp: true } }),
  });
  ({ config, client, store } = world);
});

afterAll(async () => {
  await world?.stop();
  await fake?.close();
  if (savedToken === undefined) delete process.env.REPLICATE_API_TOKEN;
  else process.env.REPLICATE_API_TOKEN = savedToken;
});

function sweepConfig() {
  return resolveSweepConfig('tiny', {
    name: 'replicate-tiny',
    generator: {
      backend: 'replicate',
      replicate: {
        baseUrl: fake.baseUrl,
        model: SD_MODEL,
        version: SD_VERSION,
        maxConcurrency: 4,
        width: 64,
        height: 64,
        pollIntervalMs: 5,
        trainingPollIntervalMs: 5,
        http: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 40 },
        trainer: { model: TRAINER_MODEL, version: TRAINER_VERSION },
        destination: DESTINATION,
      },
    },
    sources: ['vanilla', 'dreambooth'],
    mix: { p: [0.5] },
    train: { modes: ['scratch'] },
  });
}

function runSweep(id: string): Promise<SweepResult> {
  return client.workflow.execute(sweep, { taskQueue: config.queues.cpu, workflowId: id, args: [{ sweepId: id, config: sweepConfig(), queues: config.queues }] });
}

function causes(error: unknown): Array<{ message: string; type?: string }> {
  const chain: Array<{ message: string; type?: string }> = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push({ message: e.message, type: (e as { type?: string }).type });
  return chain;
}

async function syntheticManifests(): Promise<Manifest[]> {
  const keys = (await store.list('steps/replicate-generate/')).map((o) => o.key).filter((key) => key.endsWith('/manifest.json'));
  return Promise.all(keys.map((key) => store.getJson<Manifest>(key)));
}

describe('the sweep on the Replicate backend', () => {
  it('the sweep config refuses textual inversion with Replicate, naming the field', () => {
    expect(() => resolveSweepConfig('tiny', { generator: { backend: 'replicate', replicate: { model: 'a/b' } }, sources: ['vanilla', 'textual'] })).toThrow(/sources[\s\S]*textual/);
    expect(() => resolveSweepConfig('tiny', { generator: { backend: 'replicate', replicate: { model: 'a/b' } }, sources: ['dreambooth'] })).toThrow(/trainer[\s\S]*destination/);
  });

  it('without REPLICATE_API_TOKEN the generate stage fails with a clear, non-retried error and nothing reaches Replicate', async () => {
    delete process.env.REPLICATE_API_TOKEN;
    const error = await runSweep('replicate-no-token').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const chain = causes(error);
    const failure = chain.find((c) => c.type === 'ReplicateMissingToken');
    expect(failure, JSON.stringify(chain)).toBeDefined();
    expect(failure?.message).toMatch(/set REPLICATE_API_TOKEN/);
    expect(fake.counters.requests).toBe(0);
    // It failed in the generate stage: after the data stages, with no generator pretrained.
    expect(await store.list('steps/pretrain-generator/')).toEqual([]);
  }, 600_000);

  it('runs the sweep from Replicate images and trainings; a retried activity and a re-run pay for nothing twice', async () => {
    process.env.REPLICATE_API_TOKEN = fake.token;
    // One prediction fails with a transient error: its generate activity fails, Temporal retries
    // it, and the retry resumes every prediction the first attempt started.
    let interrupted: string | undefined;
    fake.failPredictionsWhen((input) => {
      if (interrupted !== undefined) return undefined;
      interrupted = `${String(input.prompt)}|${String(input.seed)}`;
      return 'Prediction interrupted; please retry (code: PA)';
    });

    const cfg = sweepConfig();
    const cells = enumerateCells(cfg);
    const result = await runSweep('replicate-sweep-1');
    expect(result.cells).toMatchObject({ total: cells.length, done: cells.length, failed: 0 });
    expect(result.stages.map((s) => s.stage)).toEqual(['curate', 'curate-prior', 'pretrain', 'generate', 'fid', 'experiments']);
    // No local generator was pretrained: the pretrain stage is the classifier's alone.
    expect(await store.list('steps/pretrain-generator/')).toEqual([]);
    expect(result.stages.find((s) => s.stage === 'pretrain')?.activities).toBe(1);
    expect(result.report.files.some((key) => key.endsWith('/index.html'))).toBe(true);

    // Exactly the predictions and trainings the sweep needs, plus the one interrupted prediction.
    const manifests = await syntheticManifests();
    const classes = [...new Set(manifests.map((m) => m.classes[0]))];
    expect(manifests).toHaveLength(2 * classes.length);
    const images = 2 * classes.length * cfg.dataset.perClass;
    expect(fake.counters.trainingsCreated).toBe(classes.length);
    expect(fake.counters.predictionsCreated.versions + fake.counters.predictionsCreated.models).toBe(images + 1);
    expect(interrupted).toBeDefined();
    const byInput = new Map<string, string[]>();
    for (const p of fake.predictions.values()) {
      const key = `${p.version}|${String(p.input.prompt)}|${String(p.input.seed)}`;
      byInput.set(key, [...(byInput.get(key) ?? []), p.status]);
    }
    expect(byInput.size).toBe(images);
    // The interrupted generate activity was retried by Temporal (a second attempt started).
    const history = await client.workflow.getHandle('replicate-sweep-1').fetchHistory();
    const retried = (history.events ?? []).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried.length).toBeGreaterThanOrEqual(1);
    for (const [key, statuses] of byInput) {
      // Every image paid once, but the interrupted one: failed, then re-created once (same seed).
      expect(statuses, key).toEqual(key.endsWith(`|${interrupted}`) ? ['failed', 'succeeded'] : ['succeeded']);
    }

    // Every stored image is its prediction's output converted to the sweep's size (RGB PNG).
    const trainedVersions = new Set([...fake.trainings.values()].map((t) => t.output?.version.split(':')[1]));
    expect(trainedVersions.size).toBe(classes.length);
    let checked = 0;
    for (const manifest of manifests) {
      expect(manifest.split).toBe('synthetic');
      expect(manifest.imageSize).toBe(cfg.dataset.imageSize);
      expect(manifest.items).toHaveLength(cfg.dataset.perClass);
      for (const item of manifest.items) {
        const meta = item.meta as Record<string, string | number>;
        const prediction = fake.predictions.get(String(meta.predictionId));
        expect(prediction?.status).toBe('succeeded');
        if (!prediction?.output) throw new Error(`no output for ${String(meta.predictionId)}`);
        expect(prediction.input).toMatchObject({ prompt: item.prompt, seed: meta.seed, num_inference_steps: cfg.generator.steps, guidance_scale: cfg.generator.guidance, width: 64, height: 64 });
        if (item.source.startsWith('dreambooth/')) {
          expect(prediction.model).toBe(DESTINATION);
          expect(trainedVersions.has(prediction.version)).toBe(true);
          expect(item.prompt).toContain(`sks ${item.class}`);
        } else {
          expect(item.source.startsWith('vanilla/')).toBe(true);
          expect(prediction.version).toBe(SD_VERSION);
          expect(item.prompt).not.toContain('sks');
        }
        expect(meta.modelId).toBe(`${prediction.model}:${prediction.version}`);
        const output = Buffer.from(await (await fetch(prediction.output[0])).arrayBuffer());
        const converted = await normalizeImage(output, { imageSize: cfg.dataset.imageSize, resize: cfg.dataset.resize });
        if (!converted.ok) throw new Error(`fake output of ${prediction.id} does not decode`);
        const stored = await store.get(item.key);
        expect(sha256Hex(stored)).toBe(item.sha256);
        expect(converted.sha256).toBe(item.sha256);
        const info = await sharp(stored).metadata();
        expect([info.format, info.width, info.height, info.channels]).toEqual(['png', cfg.dataset.imageSize, cfg.dataset.imageSize, 3]);
        checked += 1;
      }
    }
    expect(checked).toBe(images);

    // The same sweep again: nothing recomputed, not one request to Replicate.
    const before = fake.counters.requests - fake.counters.fileGets;
    const fileGets = fake.counters.fileGets;
    const again = await runSweep('replicate-sweep-2');
    expect(again.cells).toMatchObject({ total: cells.length, done: cells.length, computed: 0 });
    for (const stage of again.stages) expect(stage.computed, stage.stage).toBe(0);
    expect(fake.counters.requests - fake.counters.fileGets).toBe(before);
    expect(fake.counters.fileGets).toBe(fileGets);
    expect(fake.counters.trainingsCreated).toBe(classes.length);
    expect(fake.predictions.size).toBe(images + 1);
  }, 900_000);
});
