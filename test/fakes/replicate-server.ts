// Over 400 lines: a faithful fake of the whole Replicate API surface the client uses (predictions, trainings, files, faults).
/**
 * A fake Replicate HTTP API on 127.0.0.1 (random port), faithful to the documented shapes, for
 * tests that drive the real `replicate` npm client (pass `baseUrl: fake.baseUrl`).
 *
 * Endpoints (all under /v1, `Authorization: Bearer <token>` or `Token <token>`; otherwise 401 with
 * an RFC 7807 problem body `{title, detail, status}`):
 * - POST /v1/predictions                          body {version, input, webhook?} → 201 prediction
 * - POST /v1/models/{owner}/{name}/predictions    body {input} (official models: latest version) → 201
 * - GET  /v1/predictions/{id}                     → 200 prediction
 * - POST /v1/predictions/{id}/cancel              → 200 prediction (canceled unless already terminal)
 * - POST /v1/models/{owner}/{name}/versions/{version}/trainings   body {destination, input} → 201 training
 * - GET  /v1/trainings/{id}, POST /v1/trainings/{id}/cancel
 * - GET  /files/{id}/{name}: output files (no auth, like replicate.delivery), real PNG bytes made
 *   with sharp from the prediction's seed and prompt (so: same seed+prompt ⇒ same bytes).
 * `Prefer: wait[=n]` on a create holds the response until the prediction is terminal or n s passed.
 *
 * Prediction objects: {id, model, version, input, output, error, logs, status, source, data_removed,
 * created_at, started_at, completed_at, urls {get, cancel, web}, metrics {predict_time, total_time}}.
 * Lifecycle: starting → processing (after startMs) → succeeded | failed (after runMs), or canceled.
 *
 * Scriptable faults: 429 (+ Retry-After, JSON detail) for the next N creates; 5xx for the next N API
 * requests; predictions that fail with a given error string (by predicate on the input); the SD
 * safety checker's failure for chosen seeds; expiring outputs; held predictions/trainings (never
 * finish until released) for cancel tests. Counters and a request log for assertions.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';

export const NSFW_ERROR = 'NSFW content detected. Try running it again, or try a different prompt.';
export const DEFAULT_FAKE_TOKEN = 'r8_FAKEfakeFAKEfake0123456789abcdefSECRET';
export const SD_MODEL = 'stability-ai/stable-diffusion';
export const SD_VERSION = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
export const TRAINER_MODEL = 'replicate/dreambooth';
export const TRAINER_VERSION = 'a8ba568da0313951a6b311b43b1ea3bf9f2ef7b9fd97ed94cebd7ffd2da66654';

type Status = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';

export interface FakePrediction {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  status: Status;
  output: string[] | null;
  error: string | null;
  logs: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  /** Which endpoint created it. */
  endpoint: 'versions' | 'models';
  held: boolean;
  expired: boolean;
  timers: NodeJS.Timeout[];
}

export interface FakeTraining {
  id: string;
  model: string;
  version: string;
  destination: string;
  input: Record<string, unknown>;
  status: Status;
  output: { version: string; weights: string } | null;
  error: string | null;
  logs: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  held: boolean;
  timers: NodeJS.Timeout[];
}

export interface FakeModel {
  versions: string[];
  /** Official models accept POST /v1/models/{owner}/{name}/predictions. */
  official?: boolean;
  /** Trainable (a trainer): accepts trainings on its versions. */
  trainable?: boolean;
}

export interface FakeReplicateOptions {
  token?: string;
  /** `owner/name` → model. Default: SD (official, one version), the DreamBooth trainer, and `synthmix/dreambooth-out` as a destination. */
  models?: Record<string, FakeModel>;
  startMs?: number;
  runMs?: number;
  trainingRunMs?: number;
  /** Output image format (PNG by default, as SD on Replicate). */
  outputFormat?: 'png' | 'webp' | 'jpeg';
  /** Make outputs RGBA (to test conversion to RGB). */
  outputAlpha?: boolean;
}

export interface FakeCounters {
  /** Create requests received per route (incl. the ones answered 429/5xx/4xx). */
  createRequests: Record<string, number>;
  /** Predictions actually created, per endpoint kind. */
  predictionsCreated: { versions: number; models: number };
  trainingsCreated: number;
  predictionGets: number;
  trainingGets: number;
  cancels: number;
  fileGets: number;
  /** Every request (API and files). */
  requests: number;
  unauthorized: number;
  /** Most predictions in starting/processing at once (seen at each create). */
  maxInFlight: number;
}

export interface RequestLogEntry {
  seq: number;
  method: string;
  path: string;
  status: number;
}

export interface FakeReplicate {
  readonly origin: string;
  /** The `baseUrl` for the client: `${origin}/v1`. */
  readonly baseUrl: string;
  readonly token: string;
  readonly counters: FakeCounters;
  readonly log: RequestLogEntry[];
  readonly predictions: Map<string, FakePrediction>;
  readonly trainings: Map<string, FakeTraining>;
  readonly models: Map<string, FakeModel>;
  /** The next `n` create requests (predictions or trainings) get 429 with `Retry-After: retryAfter`. */
  rateLimitNextCreates(n: number, retryAfterSeconds?: number): void;
  /** The next `n` API requests (optionally only creates / only GETs) get `status` (5xx). */
  failNextRequests(n: number, status?: number, only?: 'any' | 'create' | 'get'): void;
  /** Predictions whose input matches fail with the returned error string (undefined: no failure). */
  failPredictionsWhen(rule: ((input: Record<string, unknown>) => string | undefined) | undefined): void;
  /** The safety checker fires for these seeds. `'all'` blocks every seed. */
  setNsfwSeeds(seeds: Iterable<number> | 'all'): void;
  /** Trainings fail with the returned error string. */
  failTrainingsWhen(rule: ((input: Record<string, unknown>) => string | undefined) | undefined): void;
  /** New predictions/trainings stay `processing` until `release()`. */
  hold(on: boolean): void;
  /** Finish every held prediction/training now. */
  release(): void;
  /** Output files of this prediction now answer 404 (Replicate deletes outputs after an hour). */
  expireOutputs(id: string): void;
  /** Cancel a prediction out of band (as from the web UI). */
  cancelExternally(id: string): void;
  /** Resolves when `predicate` holds (checked on every state change and request). */
  waitFor(predicate: () => boolean): Promise<void>;
  totalCreateRequests(): number;
  close(): Promise<void>;
}

function newId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return Array.from(randomBytes(26), (b) => alphabet[b % 32]).join('');
}

function newVersionId(): string {
  return randomBytes(32).toString('hex');
}

const now = () => new Date().toISOString();

function problem(res: ServerResponse, status: number, title: string, detail: string, headers: Record<string, string> = {}): number {
  const body = JSON.stringify({ title, detail, status });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
  return status;
}

function json(res: ServerResponse, status: number, value: unknown): number {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return status;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function checkDim(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 64 || value > 1024 || value % 8 !== 0) {
    return `- input.${name}: must be an integer in [64, 1024], a multiple of 8, given: ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** Deterministic image for (seed, prompt, index): a gradient whose colours come from a hash. */
async function renderImage(input: Record<string, unknown>, index: number, format: 'png' | 'webp' | 'jpeg', alpha: boolean): Promise<Buffer> {
  const width = typeof input.width === 'number' ? input.width : 512;
  const height = typeof input.height === 'number' ? input.height : 512;
  const h = createHash('sha256').update(`${String(input.seed)}|${String(input.prompt)}|${index}`).digest();
  const channels = alpha ? 4 : 3;
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const o = (y * width + x) * channels;
      data[o] = (h[0] + ((x * h[3]) >> 4)) & 255;
      data[o + 1] = (h[1] + ((y * h[4]) >> 4)) & 255;
      data[o + 2] = (h[2] + (((x + y) * h[5]) >> 5)) & 255;
      if (alpha) data[o + 3] = (x + y) % 2 === 0 ? 255 : 128;
    }
  }
  const img = sharp(data, { raw: { width, height, channels } });
  if (format === 'webp') return img.webp({ lossless: true }).toBuffer();
  if (format === 'jpeg') return img.jpeg({ quality: 90 }).toBuffer();
  return img.png().toBuffer();
}

export async function startFakeReplicate(options: FakeReplicateOptions = {}): Promise<FakeReplicate> {
  const token = options.token ?? DEFAULT_FAKE_TOKEN;
  const startMs = options.startMs ?? 5;
  const runMs = options.runMs ?? 15;
  const trainingRunMs = options.trainingRunMs ?? 30;
  const outputFormat = options.outputFormat ?? 'png';
  const models = new Map<string, FakeModel>(
    Object.entries(
      options.models ?? {
        [SD_MODEL]: { versions: [SD_VERSION], official: true },
        [TRAINER_MODEL]: { versions: [TRAINER_VERSION], trainable: true },
        'synthmix/dreambooth-out': { versions: [] },
      },
    ).map(([name, model]) => [name, { ...model, versions: [...model.versions] }]),
  );
  const predictions = new Map<string, FakePrediction>();
  const trainings = new Map<string, FakeTraining>();
  const counters: FakeCounters = {
    createRequests: {},
    predictionsCreated: { versions: 0, models: 0 },
    trainingsCreated: 0,
    predictionGets: 0,
    trainingGets: 0,
    cancels: 0,
    fileGets: 0,
    requests: 0,
    unauthorized: 0,
    maxInFlight: 0,
  };
  const log: RequestLogEntry[] = [];
  let seq = 0;
  let rateLimit = { n: 0, retryAfter: 1 };
  let serverErrors = { n: 0, status: 503, only: 'any' as 'any' | 'create' | 'get' };
  let failRule: ((input: Record<string, unknown>) => string | undefined) | undefined;
  let trainingFailRule: ((input: Record<string, unknown>) => string | undefined) | undefined;
  let nsfw: Set<number> | 'all' = new Set();
  let holding = false;
  const waiters: Array<{ predicate: () => boolean; resolve: () => void }> = [];
  const fileCache = new Map<string, Buffer>();
  let origin = '';

  const notify = () => {
    for (const waiter of [...waiters]) {
      if (waiter.predicate()) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  /** Cancel a prediction or training that has not finished (a prediction also gets a start time). */
  const cancelJob = (job: FakePrediction | FakeTraining, markStarted: boolean): void => {
    if (job.status !== 'starting' && job.status !== 'processing') return;
    job.timers.forEach(clearTimeout);
    job.status = 'canceled';
    job.completed_at = now();
    if (markStarted) job.started_at ??= job.completed_at;
    notify();
  };


  const predictionJson = (p: FakePrediction) => {
    const terminal = p.status === 'succeeded' || p.status === 'failed' || p.status === 'canceled';
    const started = p.started_at ? Date.parse(p.started_at) : undefined;
    const done = p.completed_at ? Date.parse(p.completed_at) : undefined;
    return {
      id: p.id,
      model: p.model,
      version: p.version,
      input: p.input,
      logs: p.logs,
      output: p.status === 'succeeded' ? p.output : null,
      data_removed: false,
      error: p.error,
      status: p.status,
      source: 'api',
      created_at: p.created_at,
      started_at: p.started_at,
      completed_at: p.completed_at,
      urls: {
        get: `${origin}/v1/predictions/${p.id}`,
        cancel: `${origin}/v1/predictions/${p.id}/cancel`,
        web: `${origin}/p/${p.id}`,
      },
      ...(terminal && started !== undefined && done !== undefined
        ? { metrics: { predict_time: (done - started) / 1000, total_time: (done - Date.parse(p.created_at)) / 1000 } }
        : {}),
    };
  };

  const trainingJson = (t: FakeTraining) => {
    const terminal = t.status === 'succeeded' || t.status === 'failed' || t.status === 'canceled';
    return {
      id: t.id,
      model: t.model,
      version: t.version,
      destination: t.destination,
      input: t.input,
      logs: t.logs,
      output: t.status === 'succeeded' ? t.output : null,
      error: t.error,
      status: t.status,
      source: 'api',
      created_at: t.created_at,
      started_at: t.started_at,
      completed_at: t.completed_at,
      urls: { get: `${origin}/v1/trainings/${t.id}`, cancel: `${origin}/v1/trainings/${t.id}/cancel` },
      ...(terminal && t.started_at && t.completed_at
        ? { metrics: { predict_time: (Date.parse(t.completed_at) - Date.parse(t.started_at)) / 1000 } }
        : {}),
    };
  };

  const finishPrediction = (p: FakePrediction) => {
    if (p.status !== 'processing') return;
    const seed = typeof p.input.seed === 'number' ? p.input.seed : undefined;
    const blocked = nsfw === 'all' || (seed !== undefined && nsfw.has(seed));
    const failure = failRule?.(p.input);
    p.completed_at = now();
    if (blocked) {
      p.status = 'failed';
      p.error = NSFW_ERROR;
      p.logs += `Using seed: ${seed}\nPotential NSFW content was detected in one or more images.\n`;
    } else if (failure !== undefined) {
      p.status = 'failed';
      p.error = failure;
      p.logs += `Traceback (most recent call last):\n${failure}\n`;
    } else {
      const n = typeof p.input.num_outputs === 'number' ? p.input.num_outputs : 1;
      const ext = outputFormat === 'jpeg' ? 'jpg' : outputFormat;
      p.status = 'succeeded';
      p.output = Array.from({ length: n }, (_, i) => `${origin}/files/${p.id}/out-${i}.${ext}`);
      p.logs += `Using seed: ${seed}\n100%|██████████| ${String(p.input.num_inference_steps ?? 50)}/${String(p.input.num_inference_steps ?? 50)}\n`;
    }
    notify();
  };

  const schedulePrediction = (p: FakePrediction) => {
    p.timers.push(
      setTimeout(() => {
        if (p.status !== 'starting') return;
        p.status = 'processing';
        p.started_at = now();
        p.logs = 'Starting prediction\n';
        notify();
        p.timers.push(
          setTimeout(() => {
            if (!p.held) finishPrediction(p);
          }, runMs),
        );
      }, startMs),
    );
  };

  const finishTraining = (t: FakeTraining) => {
    if (t.status !== 'processing') return;
    t.completed_at = now();
    const failure = trainingFailRule?.(t.input);
    if (failure !== undefined) {
      t.status = 'failed';
      t.error = failure;
    } else {
      const version = newVersionId();
      models.get(t.destination)?.versions.push(version);
      t.status = 'succeeded';
      t.output = { version: `${t.destination}:${version}`, weights: `${origin}/files/${t.id}/weights.tar` };
      t.logs += 'Training complete\n';
    }
    notify();
  };

  const scheduleTraining = (t: FakeTraining) => {
    t.timers.push(
      setTimeout(() => {
        if (t.status !== 'starting') return;
        t.status = 'processing';
        t.started_at = now();
        t.logs = `steps: ${String(t.input.max_train_steps ?? '?')}\n`;
        notify();
        t.timers.push(
          setTimeout(() => {
            if (!t.held) finishTraining(t);
          }, trainingRunMs),
        );
      }, startMs),
    );
  };

  const authorized = (req: IncomingMessage) => {
    const header = req.headers.authorization ?? '';
    const match = /^(Bearer|Token)\s+(.+)$/.exec(header);
    return match !== null && match[2] === token;
  };

  const waitTerminal = (p: FakePrediction, seconds: number) =>
    new Promise<void>((resolve) => {
      const isDone = () => p.status !== 'starting' && p.status !== 'processing';
      if (isDone()) return resolve();
      const timer = setTimeout(() => {
        const i = waiters.findIndex((w) => w.resolve === done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }, seconds * 1000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      waiters.push({ predicate: isDone, resolve: done });
    });

  const createPrediction = async (
    req: IncomingMessage,
    res: ServerResponse,
    body: Record<string, unknown>,
    model: string,
    version: string,
    endpoint: 'versions' | 'models',
  ): Promise<number> => {
    const input = body.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return problem(res, 422, 'Input validation failed', '- input: Invalid type. Expected: object');
    }
    const inp = input as Record<string, unknown>;
    const problems: string[] = [];
    if (typeof inp.prompt !== 'string' || inp.prompt.trim() === '') {
      problems.push(`- input.prompt: Invalid type. Expected: string, given: ${JSON.stringify(inp.prompt ?? null)}`);
    }
    for (const dim of ['width', 'height']) {
      const p = checkDim(dim, inp[dim]);
      if (p) problems.push(p);
    }
    if (inp.num_outputs !== undefined && (typeof inp.num_outputs !== 'number' || inp.num_outputs < 1 || inp.num_outputs > 4)) {
      problems.push('- input.num_outputs: Must be between 1 and 4');
    }
    if (inp.seed !== undefined && (typeof inp.seed !== 'number' || !Number.isInteger(inp.seed))) {
      problems.push('- input.seed: Invalid type. Expected: integer');
    }
    if (problems.length > 0) return problem(res, 422, 'Input validation failed', problems.join('\n'));

    const p: FakePrediction = {
      id: newId(),
      model,
      version,
      input: inp,
      status: 'starting',
      output: null,
      error: null,
      logs: '',
      created_at: now(),
      started_at: null,
      completed_at: null,
      endpoint,
      held: holding,
      expired: false,
      timers: [],
    };
    predictions.set(p.id, p);
    counters.predictionsCreated[endpoint] += 1;
    const running = [...predictions.values()].filter((q) => q.status === 'starting' || q.status === 'processing').length;
    counters.maxInFlight = Math.max(counters.maxInFlight, running);
    schedulePrediction(p);
    notify();
    const prefer = /(?:^|[\s,;])wait(?:=(\d+))?/.exec(String(req.headers.prefer ?? ''));
    if (prefer) await waitTerminal(p, prefer[1] ? Number(prefer[1]) : 60);
    return json(res, 201, predictionJson(p));
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, path: string, method: string): Promise<number> => {
    if (!authorized(req)) {
      counters.unauthorized += 1;
      return problem(res, 401, 'Unauthenticated', 'You did not pass a valid authentication token');
    }
    const isCreate =
      method === 'POST' && (path === '/v1/predictions' || /^\/v1\/models\/[^/]+\/[^/]+\/(predictions|versions\/[^/]+\/trainings)$/.test(path));
    if (isCreate) counters.createRequests[path] = (counters.createRequests[path] ?? 0) + 1;

    if (serverErrors.n > 0 && (serverErrors.only === 'any' || (serverErrors.only === 'create' ? isCreate : method === 'GET'))) {
      serverErrors.n -= 1;
      return problem(res, serverErrors.status, 'Internal Server Error', 'Something went wrong on our end (injected fault)');
    }
    if (isCreate && rateLimit.n > 0) {
      rateLimit.n -= 1;
      return problem(res, 429, 'Request was throttled', `Request was throttled. Expected available in ${rateLimit.retryAfter} second${rateLimit.retryAfter === 1 ? '' : 's'}.`, {
        'retry-after': String(rateLimit.retryAfter),
      });
    }

    let body: Record<string, unknown> = {};
    if (method === 'POST') {
      const text = await readBody(req);
      if (text.trim() !== '') {
        try {
          const parsed = JSON.parse(text) as unknown;
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
          body = parsed as Record<string, unknown>;
        } catch {
          return problem(res, 400, 'Bad request', 'Request body is not a valid JSON object');
        }
      }
    }

    if (method === 'POST' && path === '/v1/predictions') {
      const version = body.version;
      if (typeof version !== 'string' || version === '') return problem(res, 422, 'Invalid request', '- version: version is required');
      const model = [...models.entries()].find(([, m]) => m.versions.includes(version))?.[0];
      if (!model) {
        return problem(res, 422, 'Invalid version or not permitted', "The specified version does not exist (or perhaps you don't have permission to use it?)");
      }
      return createPrediction(req, res, body, model, version, 'versions');
    }
    let m = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(path);
    if (method === 'POST' && m) {
      const name = `${m[1]}/${m[2]}`;
      const model = models.get(name);
      if (!model || !model.official || model.versions.length === 0) return problem(res, 404, 'Not found', 'Not found.');
      return createPrediction(req, res, body, name, model.versions[model.versions.length - 1], 'models');
    }
    m = /^\/v1\/predictions\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      counters.predictionGets += 1;
      const p = predictions.get(m[1]);
      return p ? json(res, 200, predictionJson(p)) : problem(res, 404, 'Not found', 'Not found.');
    }
    m = /^\/v1\/predictions\/([^/]+)\/cancel$/.exec(path);
    if (method === 'POST' && m) {
      counters.cancels += 1;
      const p = predictions.get(m[1]);
      if (!p) return problem(res, 404, 'Not found', 'Not found.');
      cancelJob(p, true);
      return json(res, 200, predictionJson(p));
    }
    m = /^\/v1\/models\/([^/]+)\/([^/]+)\/versions\/([^/]+)\/trainings$/.exec(path);
    if (method === 'POST' && m) {
      const trainer = `${m[1]}/${m[2]}`;
      const model = models.get(trainer);
      if (!model || !model.versions.includes(m[3])) return problem(res, 404, 'Not found', 'Not found.');
      if (!model.trainable) return problem(res, 422, 'Model does not support training', `The model ${trainer} cannot be trained`);
      const destination = body.destination;
      if (typeof destination !== 'string' || !/^[^/\s]+\/[^/\s]+$/.test(destination)) {
        return problem(res, 422, 'Invalid request', '- destination: must be of the form "owner/name"');
      }
      if (!models.has(destination)) {
        return problem(res, 404, 'Destination not found', `The destination model ${destination} does not exist. Create it first.`);
      }
      const input = body.input;
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        return problem(res, 422, 'Input validation failed', '- input: Invalid type. Expected: object');
      }
      const inp = input as Record<string, unknown>;
      const data = inp.instance_data;
      if (typeof data !== 'string' || !/^(https?:|data:)/.test(data)) {
        return problem(res, 422, 'Input validation failed', '- input.instance_data: must be a URL or a data URI');
      }
      if (data.startsWith('data:')) {
        const b64 = /^data:[^;,]*;base64,(.*)$/s.exec(data);
        const bytes = b64 ? Buffer.from(b64[1], 'base64') : Buffer.alloc(0);
        if (bytes.length < 4 || bytes.readUInt32LE(0) !== 0x04034b50) {
          return problem(res, 422, 'Input validation failed', '- input.instance_data: the data URI is not a zip archive');
        }
      }
      const t: FakeTraining = {
        id: newId(),
        model: trainer,
        version: m[3],
        destination,
        input: inp,
        status: 'starting',
        output: null,
        error: null,
        logs: '',
        created_at: now(),
        started_at: null,
        completed_at: null,
        held: holding,
        timers: [],
      };
      trainings.set(t.id, t);
      counters.trainingsCreated += 1;
      scheduleTraining(t);
      notify();
      return json(res, 201, trainingJson(t));
    }
    m = /^\/v1\/trainings\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      counters.trainingGets += 1;
      const t = trainings.get(m[1]);
      return t ? json(res, 200, trainingJson(t)) : problem(res, 404, 'Not found', 'Not found.');
    }
    m = /^\/v1\/trainings\/([^/]+)\/cancel$/.exec(path);
    if (method === 'POST' && m) {
      counters.cancels += 1;
      const t = trainings.get(m[1]);
      if (!t) return problem(res, 404, 'Not found', 'Not found.');
      cancelJob(t, false);
      return json(res, 200, trainingJson(t));
    }
    return problem(res, 404, 'Not found', 'Not found.');
  };

  const handleFile = async (res: ServerResponse, path: string): Promise<number> => {
    counters.fileGets += 1;
    const m = /^\/files\/([^/]+)\/out-(\d+)\.(png|webp|jpg)$/.exec(path);
    const p = m ? predictions.get(m[1]) : undefined;
    if (!m || !p || p.status !== 'succeeded' || p.expired) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
      return 404;
    }
    let bytes = fileCache.get(path);
    if (!bytes) {
      bytes = await renderImage(p.input, Number(m[2]), outputFormat, options.outputAlpha ?? false);
      fileCache.set(path, bytes);
    }
    const type = outputFormat === 'jpeg' ? 'image/jpeg' : `image/${outputFormat}`;
    res.writeHead(200, { 'content-type': type, 'content-length': bytes.length });
    res.end(bytes);
    return 200;
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const entry: RequestLogEntry = { seq: ++seq, method, path: url.pathname, status: 0 };
    counters.requests += 1;
    log.push(entry);
    const work = url.pathname.startsWith('/files/') ? handleFile(res, url.pathname) : handleApi(req, res, url.pathname, method);
    work
      .then((status) => {
        entry.status = status;
        notify();
      })
      .catch((error: unknown) => {
        entry.status = 500;
        if (!res.headersSent) problem(res, 500, 'Internal Server Error', `fake server bug: ${String(error)}`);
        else res.destroy();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeReplicate = {
    origin,
    baseUrl: `${origin}/v1`,
    token,
    counters,
    log,
    predictions,
    trainings,
    models,
    rateLimitNextCreates(n, retryAfterSeconds = 1) {
      rateLimit = { n, retryAfter: retryAfterSeconds };
    },
    failNextRequests(n, status = 503, only = 'any') {
      serverErrors = { n, status, only };
    },
    failPredictionsWhen(rule) {
      failRule = rule;
    },
    setNsfwSeeds(seeds) {
      nsfw = seeds === 'all' ? 'all' : new Set(seeds);
    },
    failTrainingsWhen(rule) {
      trainingFailRule = rule;
    },
    hold(on) {
      holding = on;
    },
    release() {
      holding = false;
      for (const p of predictions.values()) {
        if (p.held) {
          p.held = false;
          if (p.status === 'processing') finishPrediction(p);
        }
      }
      for (const t of trainings.values()) {
        if (t.held) {
          t.held = false;
          if (t.status === 'processing') finishTraining(t);
        }
      }
    },
    expireOutputs(id) {
      const p = predictions.get(id);
      if (p) p.expired = true;
    },
    cancelExternally(id) {
      const p = predictions.get(id);
      if (p && (p.status === 'starting' || p.status === 'processing')) {
        p.timers.forEach(clearTimeout);
        p.status = 'canceled';
        p.completed_at = now();
        notify();
      }
    },
    waitFor(predicate) {
      return new Promise<void>((resolve) => {
        if (predicate()) resolve();
        else waiters.push({ predicate, resolve });
      });
    },
    totalCreateRequests() {
      return Object.values(counters.createRequests).reduce((a, b) => a + b, 0);
    },
    async close() {
      for (const p of predictions.values()) p.timers.forEach(clearTimeout);
      for (const t of trainings.values()) t.timers.forEach(clearTimeout);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
