/**
 * DreamBooth-style fine-tunes through Replicate trainings, against the fake API with the real client.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadInputError } from '../lib/errors.js';
import {
  generateWithReplicate,
  parseTrainedVersion,
  ReplicateError,
  trainWithReplicate,
  zipStore,
  type ReplicateConfigInput,
  type TrainRequest,
} from '../lib/replicate/index.js';
import { toolPaths } from '../infra/tools.js';
import { startFakeReplicate, TRAINER_MODEL, TRAINER_VERSION, type FakeReplicate } from './fakes/replicate-server.js';
import { loadConfig } from '../lib/config/load.js';

const DESTINATION = 'synthmix/dreambooth-out';

let fake: FakeReplicate;
/** The worker's own config: the fake API runs on loopback, which only this setting lets the token reach. */
const endpoints = loadConfig({ env: {}, overrides: { endpoints: { allowLoopbackHttp: true } } }).endpoints;
let savedToken: string | undefined;

function config(overrides: Partial<ReplicateConfigInput> = {}): ReplicateConfigInput {
  return {
    baseUrl: fake.baseUrl,
    width: 64,
    height: 64,
    imageSize: 32,
    pollIntervalMs: 5,
    trainingPollIntervalMs: 5,
    http: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 40 },
    ...overrides,
  };
}

async function instanceZip(): Promise<Buffer> {
  const images = await Promise.all(
    [0, 1, 2].map((i) => sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 40 * i, g: 90, b: 200 } } }).png().toBuffer()),
  );
  return zipStore(images.map((bytes, i) => ({ name: `instance/${i}.png`, bytes })));
}

async function request(overrides: Partial<TrainRequest['input']> = {}): Promise<TrainRequest> {
  return {
    trainerModel: TRAINER_MODEL,
    trainerVersion: TRAINER_VERSION,
    destination: DESTINATION,
    input: {
      instance_data: await instanceZip(),
      instance_prompt: 'a photo of sks airplane',
      class_prompt: 'a photo of a airplane',
      max_train_steps: 400,
      ...overrides,
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

beforeEach(async () => {
  savedToken = process.env.REPLICATE_API_TOKEN;
  fake = await startFakeReplicate();
  process.env.REPLICATE_API_TOKEN = fake.token;
});

afterEach(async () => {
  await fake.close();
  if (savedToken === undefined) delete process.env.REPLICATE_API_TOKEN;
  else process.env.REPLICATE_API_TOKEN = savedToken;
});

describe('trainWithReplicate', () => {
  it('creates a training, polls it, returns the new version, which then generates', async () => {
    const started: string[] = [];
    const result = await trainWithReplicate(await request(), { endpoints, config: config(), onTrainingStarted: (id) => void started.push(id) });
    expect(started).toHaveLength(1);
    expect(result.trainingId).toBe(started[0]);
    expect(result.model).toBe(DESTINATION);
    expect(result.version).toMatch(/^[0-9a-f]{64}$/);
    expect(result.ref).toBe(`${DESTINATION}:${result.version}`);
    expect(fake.counters.trainingsCreated).toBe(1);
    expect(fake.counters.createRequests[`/v1/models/${TRAINER_MODEL}/versions/${TRAINER_VERSION}/trainings`]).toBe(1);
    expect(fake.counters.trainingGets).toBeGreaterThanOrEqual(1);
    const training = fake.trainings.get(result.trainingId);
    expect(training?.destination).toBe(DESTINATION);
    expect(training?.input.instance_prompt).toBe('a photo of sks airplane');
    expect(training?.input.max_train_steps).toBe(400);
    expect(String(training?.input.instance_data)).toMatch(/^data:application\/zip;base64,/);

    const generated = await generateWithReplicate(
      { className: 'airplane', count: 2, seed: 1, prompts: ['a photo of sks airplane'], model: result.model, version: result.version },
      { endpoints, config: config() },
    );
    expect(generated.images).toHaveLength(2);
    expect([...fake.predictions.values()].every((p) => p.version === result.version && p.model === DESTINATION)).toBe(true);
  });

  it('a retried call with knownTrainingId polls it and creates nothing', async () => {
    const first = await trainWithReplicate(await request(), { endpoints, config: config() });
    const second = await trainWithReplicate(await request(), { endpoints, config: config(), knownTrainingId: first.trainingId });
    expect(second).toEqual(first);
    expect(fake.counters.trainingsCreated).toBe(1);
    expect(fake.totalCreateRequests()).toBe(1);
  });

  it('resumes a training still running', async () => {
    fake.hold(true);
    const abort = new AbortController();
    let id = '';
    const first = trainWithReplicate(await request(), {
      endpoints, config: config({ cancelOnAbort: false }),
      signal: abort.signal,
      onTrainingStarted: (trainingId) => {
        id = trainingId;
        abort.abort();
      },
    });
    expect(((await rejection(first)) as ReplicateError).code).toBe('Canceled');
    expect(fake.trainings.get(id)?.status).not.toBe('canceled');
    fake.release();
    const result = await trainWithReplicate(await request(), { endpoints, config: config(), knownTrainingId: id });
    expect(result.trainingId).toBe(id);
    expect(fake.counters.trainingsCreated).toBe(1);
  });

  it('abort cancels the training on Replicate; a retry re-creates it', async () => {
    fake.hold(true);
    const abort = new AbortController();
    let id = '';
    const error = (await rejection(
      trainWithReplicate(await request(), {
        endpoints, config: config(),
        signal: abort.signal,
        onTrainingStarted: (trainingId) => {
          id = trainingId;
        },
        onProgress: () => abort.abort(),
      }),
    )) as ReplicateError;
    expect(error).toBeInstanceOf(ReplicateError);
    expect(error.code).toBe('Canceled');
    expect(fake.counters.cancels).toBe(1);
    expect(fake.trainings.get(id)?.status).toBe('canceled');

    fake.hold(false);
    const result = await trainWithReplicate(await request(), { endpoints, config: config(), knownTrainingId: id });
    expect(result.trainingId).not.toBe(id);
    expect(fake.counters.trainingsCreated).toBe(2);
  });

  it('a failed training: non-retryable error naming the training id', async () => {
    fake.failTrainingsWhen(() => 'RuntimeError: CUDA error: device-side assert triggered');
    const error = (await rejection(trainWithReplicate(await request(), { endpoints, config: config() }))) as ReplicateError;
    expect(error).toBeInstanceOf(ReplicateError);
    expect(error.code).toBe('TrainingFailed');
    expect(error.nonRetryable).toBe(true);
    const id = [...fake.trainings.keys()][0];
    expect(error.trainingId).toBe(id);
    expect(error.message).toContain(id);
    expect(error.message).toContain('device-side assert');
  });

  it('a destination that does not exist: non-retryable BadRequest (404)', async () => {
    const bad = { ...(await request()), destination: 'synthmix/nope' };
    const error = (await rejection(trainWithReplicate(bad, { endpoints, config: config() }))) as ReplicateError;
    expect(error.code).toBe('BadRequest');
    expect(error.status).toBe(404);
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toMatch(/synthmix\/nope/);
  });

  it('a URL instance_data is passed as is; non-zip bytes are refused before any request', async () => {
    const result = await trainWithReplicate(await request({ instance_data: 'https://example.com/instances.zip' }), { endpoints, config: config() });
    expect(fake.trainings.get(result.trainingId)?.input.instance_data).toBe('https://example.com/instances.zip');
    const requests = fake.counters.requests;
    await expect(trainWithReplicate(await request({ instance_data: Buffer.from('not a zip') }), { endpoints, config: config() })).rejects.toBeInstanceOf(BadInputError);
    await expect(trainWithReplicate(await request({ instance_data: 'file:///etc/passwd' }), { endpoints, config: config() })).rejects.toBeInstanceOf(BadInputError);
    await expect(trainWithReplicate({ ...(await request()), destination: 'no-slash' }, { endpoints, config: config() })).rejects.toBeInstanceOf(BadInputError);
    expect(fake.counters.requests).toBe(requests);
  });

  it('missing token: clear error and zero requests', async () => {
    delete process.env.REPLICATE_API_TOKEN;
    const error = (await rejection(trainWithReplicate(await request(), { endpoints, config: config() }))) as ReplicateError;
    expect(error.code).toBe('MissingToken');
    expect(error.message).toMatch(/set REPLICATE_API_TOKEN/);
    expect(fake.counters.requests).toBe(0);
  });

  it('the token is not in results or errors', async () => {
    const ok = await trainWithReplicate(await request(), { endpoints, config: config() });
    fake.failTrainingsWhen(() => `bad credentials ${fake.token}`);
    const error = (await rejection(trainWithReplicate(await request(), { endpoints, config: config() }))) as Error;
    for (const text of [JSON.stringify(ok), String(error), error.stack ?? '', JSON.stringify(error)]) expect(text).not.toContain(fake.token);
  });

  it('parseTrainedVersion reads owner/model:version and bare ids', () => {
    expect(parseTrainedVersion({ version: 'me/m:abc123' }, 'x/y')).toEqual({ model: 'me/m', version: 'abc123' });
    expect(parseTrainedVersion({ version: 'abc123' }, 'x/y')).toEqual({ model: 'x/y', version: 'abc123' });
    expect(parseTrainedVersion(null, 'x/y')).toBeUndefined();
  });
});

describe('zipStore', () => {
  it('writes an archive Python zipfile reads back, byte for byte, deterministically', async () => {
    const entries = [
      { name: 'a.png', bytes: Buffer.from('first file') },
      { name: 'dir/b.bin', bytes: new Uint8Array([0, 1, 2, 255]) },
    ];
    const zip = zipStore(entries);
    expect(zipStore(entries).equals(zip)).toBe(true);
    const dir = await mkdtemp(path.join(tmpdir(), 'synthmix-zip-'));
    try {
      const file = path.join(dir, 'x.zip');
      await writeFile(file, zip);
      const python = existsSync(toolPaths.enginePython) ? toolPaths.enginePython : 'python3';
      const script = 'import sys,zipfile,json;z=zipfile.ZipFile(sys.argv[1]);assert z.testzip() is None;print(json.dumps({n:list(z.read(n)) for n in z.namelist()}))';
      const { stdout } = await promisify(execFile)(python, ['-c', script, file]);
      expect(JSON.parse(stdout)).toEqual({ 'a.png': [...Buffer.from('first file')], 'dir/b.bin': [0, 1, 2, 255] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(() => zipStore([{ name: '../x', bytes: Buffer.from('') }])).toThrow(BadInputError);
    expect(() => zipStore([])).toThrow(BadInputError);
  });
});
