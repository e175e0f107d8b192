// Over 400 lines: one scenario per Replicate failure mode, all sharing the one fake server set up below.
/**
 * The Replicate generation backend against a fake Replicate API (test/fakes/replicate-server.ts),
 * through the real `replicate` npm client. No timing assertions: ordering and counters only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadInputError } from '../lib/errors.js';
import { sha256Hex } from '../lib/hash.js';
import { createLocalStore } from '../lib/store/local.js';
import {
  attemptSeed,
  generateWithReplicate,
  imageSeedFor,
  ReplicateError,
  SAFETY_SEED_STRIDE,
  type GenerateDeps,
  type GeneratedImageMeta,
  type ReplicateConfigInput,
  type ReplicateLogEvent,
} from '../lib/replicate/index.js';
import { realSleep } from '../lib/replicate/http.js';
import { NSFW_ERROR, SD_MODEL, SD_VERSION, startFakeReplicate, type FakeReplicate, type FakeReplicateOptions } from './fakes/replicate-server.js';
import { loadConfig } from '../lib/config/load.js';

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let fake: FakeReplicate;
/** The worker's own config: the fake API runs on loopback, which only this setting lets the token reach. */
const endpoints = loadConfig({ env: {}, overrides: { endpoints: { allowLoopbackHttp: true } } }).endpoints;
let savedToken: string | undefined;
let dirs: string[] = [];

async function useFake(options: FakeReplicateOptions = {}): Promise<FakeReplicate> {
  await fake?.close();
  fake = await startFakeReplicate(options);
  process.env.REPLICATE_API_TOKEN = fake.token;
  return fake;
}

function config(overrides: Partial<ReplicateConfigInput> = {}): ReplicateConfigInput {
  return {
    baseUrl: fake.baseUrl,
    model: SD_MODEL,
    version: SD_VERSION,
    width: 64,
    height: 64,
    imageSize: 32,
    numInferenceSteps: 20,
    guidanceScale: 7.5,
    maxConcurrency: 3,
    maxSafetyRetries: 2,
    pollIntervalMs: 5,
    http: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 40, maxRetryAfterMs: 5_000 },
    ...overrides,
  };
}

async function tempStore() {
  const dir = await mkdtemp(path.join(tmpdir(), 'synthmix-replicate-'));
  dirs.push(dir);
  return createLocalStore(dir);
}

async function expectReplicateError(promise: Promise<unknown>): Promise<ReplicateError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ReplicateError);
  return error as ReplicateError;
}

beforeEach(async () => {
  savedToken = process.env.REPLICATE_API_TOKEN;
  await useFake();
});

afterEach(async () => {
  await fake.close();
  if (savedToken === undefined) delete process.env.REPLICATE_API_TOKEN;
  else process.env.REPLICATE_API_TOKEN = savedToken;
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  dirs = [];
});

describe('generateWithReplicate: success', () => {
  it('delivers count RGB PNGs at imageSize, stored by sha256, with the documented inputs', async () => {
    const store = await tempStore();
    const delivered: Array<{ index: number; bytes: Buffer; meta: GeneratedImageMeta }> = [];
    const started: Array<[number, string]> = [];
    const result = await generateWithReplicate(
      { className: 'airplane', count: 5, seed: 7, prompts: ['a photo of a airplane', 'a photo of the airplane'], negativePrompt: 'blurry' },
      {
        endpoints, config: config(),
        store,
        onImage: (index, bytes, meta) => {
          delivered.push({ index, bytes, meta });
        },
        onPredictionStarted: (index, id) => {
          started.push([index, id]);
        },
      },
    );

    expect(result.images.map((m) => m.index)).toEqual([0, 1, 2, 3, 4]);
    expect(result.blocked).toEqual([]);
    expect(delivered).toHaveLength(5);
    expect(started).toHaveLength(5);
    expect(fake.counters.predictionsCreated.versions).toBe(5);
    for (const { index, bytes, meta } of delivered) {
      expect(bytes.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
      const info = await sharp(bytes).metadata();
      expect([info.width, info.height, info.channels, info.format]).toEqual([32, 32, 3, 'png']);
      expect(meta.sha256).toBe(sha256Hex(bytes));
      expect(meta.key).toBe(`synthetic/replicate/airplane/${meta.sha256}.png`);
      expect((await store.get(meta.key as string)).equals(bytes)).toBe(true);
      expect(meta.predictionId).toBe(started.find(([i]) => i === index)?.[1]);
      expect(result.predictions[index]).toBe(meta.predictionId);

      const prediction = fake.predictions.get(meta.predictionId);
      expect(prediction?.version).toBe(SD_VERSION);
      expect(prediction?.input).toEqual({
        prompt: index % 2 === 0 ? 'a photo of a airplane' : 'a photo of the airplane',
        negative_prompt: 'blurry',
        width: 64,
        height: 64,
        num_inference_steps: 20,
        guidance_scale: 7.5,
        seed: imageSeedFor(7, 'airplane', index),
        num_outputs: 1,
      });
      expect(meta.seed).toBe(imageSeedFor(7, 'airplane', index));
      expect(meta.attempt).toBe(0);
    }
  });

  it('keeps at most maxConcurrency predictions in flight', async () => {
    const result = await generateWithReplicate({ className: 'ship', count: 6, seed: 1, prompts: ['a photo of a ship'] }, { endpoints, config: config({ maxConcurrency: 2 }) });
    expect(result.images).toHaveLength(6);
    expect(fake.counters.maxInFlight).toBeLessThanOrEqual(2);
    expect(fake.counters.maxInFlight).toBeGreaterThanOrEqual(1);
  });

  it('is deterministic: same seed and prompts give the same bytes (another server, another run)', async () => {
    const request = { className: 'cat', count: 3, seed: 42, prompts: ['a photo of a cat'] };
    const first = await generateWithReplicate(request, { endpoints, config: config() });
    await useFake();
    const second = await generateWithReplicate(request, { endpoints, config: config() });
    expect(second.images.map((m) => m.sha256)).toEqual(first.images.map((m) => m.sha256));
    expect(new Set(first.images.map((m) => m.sha256)).size).toBe(3);
  });

  it('converts RGBA WebP outputs to RGB PNG at imageSize', async () => {
    await useFake({ outputFormat: 'webp', outputAlpha: true });
    const bytes: Buffer[] = [];
    await generateWithReplicate({ className: 'frog', count: 1, seed: 3, prompts: ['a photo of a frog'] }, { endpoints, config: config({ imageSize: 16 }), onImage: (_i, b) => void bytes.push(b) });
    const info = await sharp(bytes[0]).metadata();
    expect([info.format, info.width, info.height, info.channels, info.hasAlpha]).toEqual(['png', 16, 16, 3, false]);
  });

  it('uses the model endpoint when no version is configured, and sync mode (Prefer: wait) needs no polling', async () => {
    const result = await generateWithReplicate(
      { className: 'deer', count: 2, seed: 5, prompts: ['a photo of a deer'] },
      { endpoints, config: config({ version: undefined, preferWaitSeconds: 10 }) },
    );
    expect(result.images).toHaveLength(2);
    expect(fake.counters.predictionsCreated).toEqual({ versions: 0, models: 2 });
    expect(fake.counters.createRequests[`/v1/models/${SD_MODEL}/predictions`]).toBe(2);
    expect(fake.counters.predictionGets).toBe(0);
  });

  it('skips completed indices', async () => {
    const result = await generateWithReplicate({ className: 'dog', count: 4, seed: 5, prompts: ['a photo of a dog'] }, { endpoints, config: config(), completed: [0, 2] });
    expect(result.images.map((m) => m.index)).toEqual([1, 3]);
    expect(result.skipped).toEqual([0, 2]);
    expect(fake.counters.predictionsCreated.versions).toBe(2);
  });
});

describe('generateWithReplicate: rate limits and server errors', () => {
  it('429: waits Retry-After seconds before the second create (ordering, no timing)', async () => {
    fake.rateLimitNextCreates(1, 1);
    const waits: Array<{ ms: number; createsBefore: number }> = [];
    const sleep: GenerateDeps['sleep'] = async (ms, signal) => {
      waits.push({ ms, createsBefore: fake.totalCreateRequests() });
      await realSleep(ms, signal);
    };
    const result = await generateWithReplicate({ className: 'horse', count: 1, seed: 9, prompts: ['a photo of a horse'] }, { endpoints, config: config(), sleep });
    expect(result.images).toHaveLength(1);
    // The only 1000 ms wait happened when exactly one create (the 429) had been seen...
    const retryWait = waits.filter((w) => w.ms === 1000);
    expect(retryWait).toEqual([{ ms: 1000, createsBefore: 1 }]);
    // ...and the second create came after it: 429 then 201, and the client added no retries of its own.
    const creates = fake.log.filter((e) => e.method === 'POST' && e.path === '/v1/predictions');
    expect(creates.map((e) => e.status)).toEqual([429, 201]);
    const waitIndex = waits.indexOf(retryWait[0]);
    expect(waits.slice(0, waitIndex).every((w) => w.createsBefore <= 1)).toBe(true);
    expect(fake.counters.predictionsCreated.versions).toBe(1);
  });

  it('429 forever: a retryable RateLimited error after 1 + maxRetries creates (no double retries with the client)', async () => {
    fake.rateLimitNextCreates(1000, 0);
    const error = await expectReplicateError(
      generateWithReplicate({ className: 'truck', count: 1, seed: 1, prompts: ['a photo of a truck'] }, { endpoints, config: config({ http: { maxRetries: 2, baseDelayMs: 1 } }) }),
    );
    expect(error.code).toBe('RateLimited');
    expect(error.nonRetryable).toBe(false);
    expect(error.status).toBe(429);
    expect(fake.counters.createRequests['/v1/predictions']).toBe(3);
    expect(fake.counters.predictionsCreated.versions).toBe(0);
  });

  it('Retry-After beyond the in-process limit: retryable error at once, no waiting', async () => {
    fake.rateLimitNextCreates(5, 600);
    const error = await expectReplicateError(
      generateWithReplicate({ className: 'truck', count: 1, seed: 1, prompts: ['a photo of a truck'] }, { endpoints, config: config({ http: { maxRetryAfterMs: 60_000 } }) }),
    );
    expect(error.code).toBe('RateLimited');
    expect(error.nonRetryable).toBe(false);
    expect(error.message).toMatch(/Retry-After 600 s/);
    expect(fake.counters.createRequests['/v1/predictions']).toBe(1);
  });

  it('5xx on create, then success', async () => {
    fake.failNextRequests(2, 503, 'create');
    const result = await generateWithReplicate({ className: 'bird', count: 1, seed: 2, prompts: ['a photo of a bird'] }, { endpoints, config: config() });
    expect(result.images).toHaveLength(1);
    const creates = fake.log.filter((e) => e.method === 'POST' && e.path === '/v1/predictions');
    expect(creates.map((e) => e.status)).toEqual([503, 503, 201]);
    expect(fake.counters.predictionsCreated.versions).toBe(1);
  });

  it('5xx on polling GETs, then success', async () => {
    fake.failNextRequests(2, 502, 'get');
    const result = await generateWithReplicate({ className: 'bird', count: 1, seed: 2, prompts: ['a photo of a bird'] }, { endpoints, config: config() });
    expect(result.images).toHaveLength(1);
    const gets = fake.log.filter((e) => e.method === 'GET' && e.path.startsWith('/v1/predictions/'));
    expect(gets.slice(0, 2).map((e) => e.status)).toEqual([502, 502]);
    expect(gets.at(-1)?.status).toBe(200);
  });

  it('5xx forever: retryable ServerError', async () => {
    fake.failNextRequests(1000, 500);
    const error = await expectReplicateError(
      generateWithReplicate({ className: 'bird', count: 1, seed: 2, prompts: ['a photo of a bird'] }, { endpoints, config: config({ http: { maxRetries: 1, baseDelayMs: 1 } }) }),
    );
    expect(error.code).toBe('ServerError');
    expect(error.nonRetryable).toBe(false);
    expect(fake.counters.createRequests['/v1/predictions']).toBe(2);
  });
});

describe('generateWithReplicate: failures', () => {
  it('a failed prediction: non-retryable error naming the prediction id', async () => {
    fake.failPredictionsWhen((input) => (String(input.prompt).includes('broken') ? 'ValueError: guidance_scale out of range' : undefined));
    const error = await expectReplicateError(
      generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['a broken prompt'] }, { endpoints, config: config() }),
    );
    const id = [...fake.predictions.keys()][0];
    expect(error.code).toBe('PredictionFailed');
    expect(error.nonRetryable).toBe(true);
    expect(error.predictionId).toBe(id);
    expect(error.message).toContain(id);
    expect(error.message).toContain('ValueError: guidance_scale out of range');
    expect(error.message).toContain('class "cat" image 0');
  });

  it('a failure that asks for a retry is retryable', async () => {
    fake.failPredictionsWhen(() => 'Prediction interrupted; please retry (code: PA)');
    const error = await expectReplicateError(generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints, config: config() }));
    expect(error.code).toBe('PredictionFailed');
    expect(error.nonRetryable).toBe(false);
  });

  it('invalid input rejected by the API (422): non-retryable BadRequest', async () => {
    const error = await expectReplicateError(
      generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints, config: config({ width: 1200 }) }),
    );
    expect(error.code).toBe('BadRequest');
    expect(error.status).toBe(422);
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toMatch(/input\.width/);
  });

  it('an unknown version: non-retryable BadRequest', async () => {
    const error = await expectReplicateError(
      generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints, config: config({ version: 'f'.repeat(64) }) }),
    );
    expect(error.code).toBe('BadRequest');
    expect(error.message).toMatch(/Invalid version/);
  });

  it('a prediction canceled out of band: non-retryable error naming it', async () => {
    fake.hold(true);
    const run = generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints, config: config() });
    await fake.waitFor(() => fake.predictions.size === 1);
    const id = [...fake.predictions.keys()][0];
    fake.cancelExternally(id);
    const error = await expectReplicateError(run);
    expect(error.code).toBe('PredictionCanceled');
    expect(error.nonRetryable).toBe(true);
    expect(error.predictionId).toBe(id);
    expect(error.message).toContain(id);
  });

  it('bad requests are refused before any HTTP request', async () => {
    await expect(generateWithReplicate({ className: '../etc', count: 1, seed: 1, prompts: ['x'] }, { endpoints, config: config() })).rejects.toBeInstanceOf(BadInputError);
    await expect(generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: [] }, { endpoints, config: config() })).rejects.toBeInstanceOf(BadInputError);
    await expect(generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints, config: config({ maxConcurrency: 0 }) })).rejects.toThrow(/maxConcurrency/);
    expect(fake.counters.requests).toBe(0);
  });
});

describe('generateWithReplicate: safety filter', () => {
  it('a blocked image is retried with seed + attempt·1_000_003', async () => {
    const s0 = imageSeedFor(11, 'cat', 0);
    fake.setNsfwSeeds([s0]);
    const result = await generateWithReplicate({ className: 'cat', count: 2, seed: 11, prompts: ['a photo of a cat'] }, { endpoints, config: config() });
    expect(result.images).toHaveLength(2);
    expect(result.blocked).toEqual([]);
    const first = result.images[0];
    expect(first.attempt).toBe(1);
    expect(first.seed).toBe(s0 + SAFETY_SEED_STRIDE);
    expect(first.blockedPredictionIds).toHaveLength(1);
    const blockedPrediction = fake.predictions.get(first.blockedPredictionIds[0]);
    expect(blockedPrediction?.status).toBe('failed');
    expect(blockedPrediction?.error).toBe(NSFW_ERROR);
    expect(blockedPrediction?.input.seed).toBe(s0);
    expect(fake.predictions.get(first.predictionId)?.input.seed).toBe(s0 + SAFETY_SEED_STRIDE);
    expect(fake.counters.predictionsCreated.versions).toBe(3);
  });

  it('always blocked: reported after maxSafetyRetries with every prediction id, nothing thrown', async () => {
    fake.setNsfwSeeds('all');
    const result = await generateWithReplicate({ className: 'cat', count: 2, seed: 11, prompts: ['a photo of a cat'] }, { endpoints, config: config({ maxSafetyRetries: 2 }) });
    expect(result.images).toEqual([]);
    expect(result.blocked.map((b) => b.index)).toEqual([0, 1]);
    for (const blocked of result.blocked) {
      const s0 = imageSeedFor(11, 'cat', blocked.index);
      expect(blocked.seeds).toEqual([0, 1, 2].map((k) => attemptSeed(s0, k)));
      expect(blocked.predictionIds).toHaveLength(3);
      expect(blocked.predictionIds.map((id) => fake.predictions.get(id)?.input.seed)).toEqual(blocked.seeds);
      expect(blocked.error).toMatch(/NSFW content detected/);
    }
    expect(fake.counters.predictionsCreated.versions).toBe(6);
  });
});

describe('generateWithReplicate: token', () => {
  it('missing token: clear non-retryable error and zero requests', async () => {
    delete process.env.REPLICATE_API_TOKEN;
    const error = await expectReplicateError(generateWithReplicate({ className: 'cat', count: 2, seed: 1, prompts: ['x'] }, { endpoints, config: config() }));
    expect(error.code).toBe('MissingToken');
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toMatch(/set REPLICATE_API_TOKEN/);
    process.env.REPLICATE_API_TOKEN = '   ';
    await expectReplicateError(generateWithReplicate({ className: 'cat', count: 2, seed: 1, prompts: ['x'] }, { endpoints, config: config() }));
    expect(fake.counters.requests).toBe(0);
  });

  it('the token goes only where the worker config allows: refused endpoints get zero requests', async () => {
    const strict = loadConfig({ env: {} }).endpoints; // the defaults: https://api.replicate.com/v1 only, no loopback
    const refusals: Array<[string, typeof strict, RegExp]> = [
      [fake.baseUrl, strict, /must be https.*endpoints\.allowLoopbackHttp/],
      ['http://replicate.example.com/v1', endpoints, /must be https/],
      ['https://collector.example.com/v1', strict, /not on the worker's allow-list \(endpoints\.allowed/],
    ];
    for (const [baseUrl, policy, message] of refusals) {
      const error = await generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints: policy, config: config({ baseUrl }) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadInputError);
      expect((error as BadInputError).nonRetryable).toBe(true);
      expect((error as Error).message).toContain(baseUrl);
      expect((error as Error).message).toMatch(message);
    }
    expect(fake.counters.requests).toBe(0);
  });

  it('a wrong token: non-retryable Unauthorized (401), token not in the message', async () => {
    process.env.REPLICATE_API_TOKEN = 'r8_wrong_token_value_123';
    const error = await expectReplicateError(generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints, config: config() }));
    expect(error.code).toBe('Unauthorized');
    expect(error.status).toBe(401);
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toMatch(/REPLICATE_API_TOKEN/);
    expect(error.message).not.toContain('r8_wrong_token_value_123');
    expect(fake.counters.unauthorized).toBe(1);
  });

  it('the token never appears in results, errors, or log events', async () => {
    const token = fake.token;
    const events: ReplicateLogEvent[] = [];
    const texts: string[] = [];
    const scan = (error: unknown) => {
      const e = error as Error & { cause?: unknown };
      texts.push(String(e), e.message, e.stack ?? '', JSON.stringify(e), JSON.stringify(Object.entries(e)), String(e.cause ?? ''));
    };
    fake.rateLimitNextCreates(1, 0);
    const ok = await generateWithReplicate({ className: 'cat', count: 2, seed: 1, prompts: ['x'] }, { endpoints, config: config(), log: (e) => events.push(e) });
    texts.push(JSON.stringify(ok));
    // A model whose error text echoes the token (hostile, but it must still not leak).
    fake.failPredictionsWhen(() => `auth failed for ${token}`);
    try {
      await generateWithReplicate({ className: 'cat', count: 1, seed: 2, prompts: ['x'] }, { endpoints, config: config(), log: (e) => events.push(e) });
    } catch (error) {
      scan(error);
      expect(String(error)).toContain('[REDACTED]');
    }
    fake.failPredictionsWhen(undefined);
    fake.failNextRequests(100, 500);
    try {
      await generateWithReplicate({ className: 'cat', count: 1, seed: 3, prompts: ['x'] }, { endpoints, config: config({ http: { maxRetries: 1, baseDelayMs: 1 } }), log: (e) => events.push(e) });
    } catch (error) {
      scan(error);
    }
    fake.failNextRequests(0);
    texts.push(JSON.stringify(events));
    expect(texts.length).toBeGreaterThan(5);
    for (const text of texts) expect(text).not.toContain(token);
  });
});

describe('generateWithReplicate: idempotency across attempts', () => {
  it('a retried call with knownPredictions GETs them and creates nothing new', async () => {
    fake.hold(true);
    const abort = new AbortController();
    const heartbeat: Record<number, string> = {};
    const first = generateWithReplicate(
      { className: 'cat', count: 3, seed: 4, prompts: ['a photo of a cat'] },
      {
        endpoints, config: config({ cancelOnAbort: false }), // a worker that dies leaves its predictions running
        signal: abort.signal,
        onPredictionStarted: (index, id) => {
          heartbeat[index] = id;
          if (Object.keys(heartbeat).length === 3) abort.abort();
        },
      },
    );
    const error = await expectReplicateError(first);
    expect(error.code).toBe('Canceled');
    expect(fake.counters.predictionsCreated.versions).toBe(3);
    expect(fake.counters.cancels).toBe(0);

    fake.release();
    const second = await generateWithReplicate({ className: 'cat', count: 3, seed: 4, prompts: ['a photo of a cat'] }, { endpoints, config: config(), knownPredictions: heartbeat });
    expect(second.images.map((m) => m.predictionId)).toEqual([heartbeat[0], heartbeat[1], heartbeat[2]]);
    expect(fake.counters.predictionsCreated.versions).toBe(3); // never paid twice
    expect(fake.totalCreateRequests()).toBe(3);
  });

  it('abort cancels the predictions in flight; a retry re-creates the canceled ones (same seeds, same bytes)', async () => {
    const reference = await generateWithReplicate({ className: 'cat', count: 2, seed: 4, prompts: ['a photo of a cat'] }, { endpoints, config: config() });
    await useFake();
    fake.hold(true);
    const abort = new AbortController();
    const heartbeat: Record<number, string> = {};
    const error = await expectReplicateError(
      generateWithReplicate(
        { className: 'cat', count: 2, seed: 4, prompts: ['a photo of a cat'] },
        {
          endpoints, config: config(),
          signal: abort.signal,
          onPredictionStarted: (index, id) => {
            heartbeat[index] = id;
            if (Object.keys(heartbeat).length === 2) abort.abort();
          },
        },
      ),
    );
    expect(error.code).toBe('Canceled');
    expect(fake.counters.cancels).toBe(2);
    expect([...fake.predictions.values()].map((p) => p.status)).toEqual(['canceled', 'canceled']);

    fake.hold(false);
    const retry = await generateWithReplicate({ className: 'cat', count: 2, seed: 4, prompts: ['a photo of a cat'] }, { endpoints, config: config(), knownPredictions: heartbeat });
    expect(fake.counters.predictionsCreated.versions).toBe(4);
    expect(retry.images.map((m) => m.sha256)).toEqual(reference.images.map((m) => m.sha256));
  });

  it('a known succeeded prediction whose outputs expired is re-created with the same seed', async () => {
    const first = await generateWithReplicate({ className: 'ship', count: 1, seed: 8, prompts: ['a photo of a ship'] }, { endpoints, config: config() });
    const id = first.images[0].predictionId;
    fake.expireOutputs(id);
    const events: ReplicateLogEvent[] = [];
    const second = await generateWithReplicate(
      { className: 'ship', count: 1, seed: 8, prompts: ['a photo of a ship'] },
      { endpoints, config: config(), knownPredictions: { 0: id }, log: (e) => events.push(e) },
    );
    expect(fake.counters.predictionsCreated.versions).toBe(2);
    expect(second.images[0].predictionId).not.toBe(id);
    expect(second.images[0].sha256).toBe(first.images[0].sha256);
    expect(events.some((e) => e.kind === 'prediction-recreate' && /expired/.test(e.reason))).toBe(true);
  });

  it('a known prediction blocked by the safety filter resumes at the next attempt', async () => {
    const s0 = imageSeedFor(3, 'cat', 0);
    fake.setNsfwSeeds([s0]);
    fake.hold(true);
    const abort = new AbortController();
    const ids: string[] = [];
    const first = generateWithReplicate(
      { className: 'cat', count: 1, seed: 3, prompts: ['x'] },
      { endpoints, config: config({ cancelOnAbort: false }), signal: abort.signal, onPredictionStarted: (_i, id) => void ids.push(id) },
    );
    await fake.waitFor(() => fake.predictions.size === 1 && [...fake.predictions.values()][0].status === 'processing');
    fake.release(); // finishes as blocked
    await fake.waitFor(() => [...fake.predictions.values()][0].status === 'failed');
    abort.abort();
    await first.catch(() => undefined);
    const created = fake.counters.predictionsCreated.versions;

    const second = await generateWithReplicate({ className: 'cat', count: 1, seed: 3, prompts: ['x'] }, { endpoints, config: config(), knownPredictions: { 0: ids } });
    expect(second.images[0].attempt).toBe(1);
    expect(second.images[0].seed).toBe(attemptSeed(s0, 1));
    expect(second.images[0].blockedPredictionIds).toEqual([ids[0]]);
    expect(fake.counters.predictionsCreated.versions).toBeLessThanOrEqual(created + 1);
  });

  it('knownPredictions outside [0, count) are bad input', async () => {
    await expect(
      generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints, config: config(), knownPredictions: { 5: 'abc' } }),
    ).rejects.toBeInstanceOf(BadInputError);
  });
});
