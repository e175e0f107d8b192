// Over 400 lines: one prediction state machine (create, poll, safety retries, resume, download) shares the call's in-flight state.
/**
 * Generation through Replicate predictions: `count` images of one class, one prediction per image.
 *
 * - Inputs per image: prompt (prompts[index % prompts.length]), negative_prompt, width, height,
 *   num_inference_steps, guidance_scale, seed, num_outputs = 1 (+ config.extraInput).
 * - Seeds: image `i` of class `c` gets `deriveSeed(request.seed, 'replicate', c, i)` (a uint32; the
 *   same seed + a different prompt would give correlated images across classes). When the safety
 *   filter blocks it ("NSFW content detected"), attempt `k` uses `(imageSeed + k·1_000_003) mod 2^32`,
 *   up to `maxSafetyRetries` retries; then the image is reported blocked with its prediction ids.
 * - Bounded concurrency (`maxConcurrency` predictions in flight).
 * - Idempotent across activity attempts: `onPredictionStarted(index, id)` is called right after each
 *   create (heartbeat it), and a retried attempt passes those ids back as `knownPredictions`: they are
 *   GET'ed, never re-created, so nothing is paid twice. The attempt number of a known prediction is
 *   read back from its input seed. A known prediction is re-created (same seed) only when it cannot
 *   be used: it was canceled (e.g. by our own abort), aborted, failed with an error that asks to
 *   retry, or its output files have expired (Replicate deletes them after an hour).
 *   `completed` lists indices already stored (skipped).
 * - Each output is downloaded (no Authorization header goes to the file host), converted exactly as
 *   curated images are (lib/images normalizeImage: RGB, imageSize², center-crop, deterministic PNG),
 *   stored content-addressed when a store is given, then handed to `onImage`.
 * - Errors: a failed prediction ⇒ ReplicateError naming the prediction id (non-retryable unless the
 *   model's error asks for a retry); canceled ⇒ non-retryable; HTTP 429/5xx are retried below
 *   (http.ts), then surface as retryable errors. On the first error no new image is started; those in
 *   flight finish and are delivered, then the error is thrown. On abort (activity cancellation) the
 *   predictions in flight are canceled on Replicate (config.cancelOnAbort).
 */
import { mapLimit } from '../concurrency.js';
import { BadInputError } from '../errors.js';
import { deriveSeed } from '../random.js';
import { normalizeImage } from '../images/normalize.js';
import type { ArtifactStore } from '../store/types.js';
import { connectReplicate, TERMINAL_STATUSES, type PredictionObject, type ReplicateApi } from './api.js';
import { parseReplicateConfig, type ReplicateConfig, type ReplicateConfigInput } from './config.js';
import { ReplicateError } from './errors.js';
import { abortError, createApiFetch, realSleep, type FetchLike, type ReplicateLogger, type Sleep } from './http.js';
import type { EndpointPolicy } from '../config/endpoints.js';

/** Stride between the seeds of successive safety retries of one image. */
export const SAFETY_SEED_STRIDE = 1_000_003;
const TWO_POW_32 = 2 ** 32;

export interface GenerateRequest {
  /** The class (a safe path segment: it names the store prefix). */
  readonly className: string;
  /** Images to make. */
  readonly count: number;
  /** Base seed of the class's images (see the module comment). */
  readonly seed: number;
  /** Prompts, used round-robin by image index (see lib/prompts promptsForClass). */
  readonly prompts: readonly string[];
  readonly negativePrompt?: string;
  /** Override config.model, e.g. the destination of a fine-tune. */
  readonly model?: string;
  /** Override config.version, e.g. the version a training produced. */
  readonly version?: string;
  /** Store prefix for the PNGs. Default `synthetic/replicate/<className>`. */
  readonly storePrefix?: string;
}

/** What is known about one delivered image (goes to onImage and into the result). */
export interface GeneratedImageMeta {
  readonly index: number;
  readonly className: string;
  readonly prompt: string;
  readonly negativePrompt?: string;
  /** The seed the image was made with. */
  readonly seed: number;
  /** The image's attempt-0 seed. */
  readonly imageSeed: number;
  /** 0 unless the safety filter blocked earlier attempts. */
  readonly attempt: number;
  readonly predictionId: string;
  /** Predictions of this image blocked by the safety filter (those this call knows of). */
  readonly blockedPredictionIds: readonly string[];
  readonly model: string;
  readonly version?: string;
  /** sha256 of the stored PNG bytes. */
  readonly sha256: string;
  readonly size: number;
  /** Store key, when a store was given. */
  readonly key?: string;
  /** Side of the stored square PNG. */
  readonly imageSize: number;
  /** GPU seconds Replicate reports. */
  readonly predictTime?: number;
}

export interface BlockedImage {
  readonly index: number;
  readonly prompt: string;
  readonly seeds: readonly number[];
  readonly predictionIds: readonly string[];
  readonly error: string;
}

export interface GenerateResult {
  readonly className: string;
  readonly model: string;
  readonly version?: string;
  /** Images delivered by this call, by index. */
  readonly images: readonly GeneratedImageMeta[];
  /** Images the safety filter blocked on every allowed attempt. */
  readonly blocked: readonly BlockedImage[];
  /** Indices skipped because `completed` listed them. */
  readonly skipped: readonly number[];
  /** The latest prediction id of every index this call touched. */
  readonly predictions: Readonly<Record<number, string>>;
}

export interface PredictionStartedInfo {
  readonly attempt: number;
  readonly seed: number;
  /** Earlier predictions of this index (blocked by the safety filter). */
  readonly previous: readonly string[];
}

export interface GenerateDeps {
  readonly config: ReplicateConfigInput;
  /** Where the worker lets its token go (its `endpoints` config): `config.baseUrl` must pass it. */
  readonly endpoints: EndpointPolicy;
  /** Where PNGs go (putContentAddressed under the request's storePrefix). */
  readonly store?: ArtifactStore;
  /** Called once per delivered image with the stored PNG bytes. */
  readonly onImage?: (index: number, bytes: Buffer, meta: GeneratedImageMeta) => void | Promise<void>;
  /** Called right after each prediction is created: heartbeat the id. */
  readonly onPredictionStarted?: (index: number, predictionId: string, info: PredictionStartedInfo) => void | Promise<void>;
  /** index → prediction id (or all ids of the index, latest last) from a previous attempt's heartbeats. */
  readonly knownPredictions?: Readonly<Record<number, string | readonly string[]>>;
  /** Indices already delivered and stored: skipped. */
  readonly completed?: Iterable<number>;
  readonly signal?: AbortSignal;
  /** Fetch for the API and the downloads (default global fetch). */
  readonly fetch?: FetchLike;
  readonly sleep?: Sleep;
  readonly log?: ReplicateLogger;
}

/** The attempt-0 seed of image `index` of a class. */
export function imageSeedFor(seed: number, className: string, index: number): number {
  return deriveSeed(seed, 'replicate', className, index);
}

/** The seed of safety attempt `attempt` of an image. */
export function attemptSeed(imageSeed: number, attempt: number): number {
  return (imageSeed + attempt * SAFETY_SEED_STRIDE) % TWO_POW_32;
}

const SAFETY_PATTERN = /NSFW content detected|potential NSFW|flagged as sensitive/i;
const TRANSIENT_PATTERN = /please retry|prediction interrupted|timed out|temporarily unavailable|internal server error/i;

export function isSafetyError(error: unknown): boolean {
  return typeof error === 'string' && SAFETY_PATTERN.test(error);
}

const SAFE_CLASS = /^[A-Za-z0-9][A-Za-z0-9 _.+-]*$/;

function checkRequest(request: GenerateRequest, maxSafetyRetries: number): void {
  const { className, count, seed, prompts } = request;
  if (typeof className !== 'string' || !SAFE_CLASS.test(className) || className.length > 200) {
    throw new BadInputError(`generate (replicate): className must be a safe path segment (letters, digits, space, _ . + -), got ${JSON.stringify(className)}`);
  }
  if (!Number.isInteger(count) || count < 0 || count > 1_000_000) {
    throw new BadInputError(`generate (replicate) class "${className}": count must be an integer in [0, 1000000], got ${String(count)}`);
  }
  if (!Number.isSafeInteger(seed)) throw new BadInputError(`generate (replicate) class "${className}": seed must be a safe integer, got ${String(seed)}`);
  if (!Array.isArray(prompts) || prompts.length === 0 || prompts.some((p) => typeof p !== 'string' || p.trim() === '')) {
    throw new BadInputError(`generate (replicate) class "${className}": prompts must be a non-empty list of non-empty strings`);
  }
  if (maxSafetyRetries < 0) throw new BadInputError('generate (replicate): maxSafetyRetries must be >= 0');
}

function normalizeKnown(value: string | readonly string[] | undefined): { current: string; previous: string[] } | undefined {
  if (value === undefined) return undefined;
  const ids = (typeof value === 'string' ? [value] : [...value]).filter((id) => typeof id === 'string' && id !== '');
  if (ids.length === 0) return undefined;
  return { current: ids[ids.length - 1], previous: ids.slice(0, -1) };
}

function firstOutputUrl(output: unknown): string | undefined {
  if (typeof output === 'string') return output;
  if (Array.isArray(output) && typeof output[0] === 'string') return output[0];
  return undefined;
}

type Outcome = { kind: 'image'; meta: GeneratedImageMeta } | { kind: 'blocked'; blocked: BlockedImage };

/** Generate `request.count` images of one class through Replicate predictions. */
export async function generateWithReplicate(request: GenerateRequest, deps: GenerateDeps): Promise<GenerateResult> {
  const config: ReplicateConfig = parseReplicateConfig(deps.config);
  checkRequest(request, config.maxSafetyRetries);
  const { className, count } = request;
  const signal = deps.signal;
  const sleep = deps.sleep ?? realSleep;
  const log = deps.log;
  const model = request.model ?? config.model;
  const version = request.version ?? (request.model ? undefined : config.version);
  const storePrefix = request.storePrefix ?? `synthetic/replicate/${className}`;
  const completed = new Set<number>(deps.completed ?? []);
  const known = deps.knownPredictions ?? {};
  for (const key of Object.keys(known)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new BadInputError(`generate (replicate) class "${className}": knownPredictions has index ${key}, outside [0, ${count})`);
    }
  }

  // Token check first: throws MissingToken before any request.
  const api: ReplicateApi = connectReplicate({ baseUrl: config.baseUrl, endpoints: deps.endpoints, http: config.http, fetch: deps.fetch, sleep, signal, log });
  // Downloads: same retry policy, plain fetch (the client, and so the token, is not involved).
  const downloadFetch = createApiFetch({ policy: config.http, token: '', fetch: deps.fetch, sleep, log });

  const todo: number[] = [];
  const skipped: number[] = [];
  for (let i = 0; i < count; i += 1) (completed.has(i) ? skipped : todo).push(i);

  const latest: Record<number, string> = {};
  const inFlight = new Map<number, string>();

  const describe = (index: number) => `class "${className}" image ${index}`;

  const waitTerminal = async (index: number, prediction: PredictionObject): Promise<PredictionObject> => {
    let current = prediction;
    inFlight.set(index, current.id);
    while (!TERMINAL_STATUSES.has(current.status)) {
      await sleep(config.pollIntervalMs, signal);
      current = await api.getPrediction(current.id);
    }
    inFlight.delete(index);
    return current;
  };

  const download = async (prediction: PredictionObject, index: number): Promise<Buffer> => {
    const url = firstOutputUrl(prediction.output);
    if (!url || !/^(https?:|data:)/.test(url)) {
      throw new ReplicateError(`prediction ${prediction.id} (${describe(index)}) succeeded without a file URL in its output`, {
        code: 'OutputInvalid',
        nonRetryable: true,
        predictionId: prediction.id,
      });
    }
    if (url.startsWith('data:')) {
      const match = /^data:[^,]*?(;base64)?,(.*)$/s.exec(url);
      if (!match) throw new ReplicateError(`prediction ${prediction.id}: unreadable data URI output`, { code: 'OutputInvalid', nonRetryable: true, predictionId: prediction.id });
      return match[1] ? Buffer.from(match[2], 'base64') : Buffer.from(decodeURIComponent(match[2]), 'latin1');
    }
    let response: Response;
    try {
      response = await downloadFetch(url, { method: 'GET', signal });
    } catch (error) {
      if (error instanceof ReplicateError && error.code === 'Canceled') throw error;
      const text = error instanceof Error ? error.message : String(error);
      throw new ReplicateError(`prediction ${prediction.id} (${describe(index)}): downloading its output failed: ${text}`, {
        code: 'OutputDownload',
        nonRetryable: false,
        predictionId: prediction.id,
      });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new ReplicateError(`prediction ${prediction.id} (${describe(index)}): downloading its output failed: HTTP ${response.status}`, {
        code: 'OutputDownload',
        nonRetryable: false,
        predictionId: prediction.id,
        status: response.status,
      });
    }
    return Buffer.from(await response.arrayBuffer());
  };

  const deliver = async (index: number, prediction: PredictionObject, prompt: string, imageSeed: number, attempt: number, history: string[]): Promise<GeneratedImageMeta> => {
    const raw = await download(prediction, index);
    const normalized = await normalizeImage(raw, { imageSize: config.imageSize, resize: config.resize });
    if (!normalized.ok) {
      throw new ReplicateError(`prediction ${prediction.id} (${describe(index)}): output is not a usable image (${normalized.reason}: ${normalized.detail})`, {
        code: 'OutputInvalid',
        nonRetryable: normalized.reason !== 'truncated',
        predictionId: prediction.id,
      });
    }
    const stored = deps.store ? await deps.store.putContentAddressed(storePrefix, normalized.png, '.png') : undefined;
    const meta: GeneratedImageMeta = {
      index,
      className,
      prompt,
      ...(request.negativePrompt !== undefined ? { negativePrompt: request.negativePrompt } : {}),
      seed: attemptSeed(imageSeed, attempt),
      imageSeed,
      attempt,
      predictionId: prediction.id,
      blockedPredictionIds: [...history],
      model,
      ...(version !== undefined ? { version } : {}),
      sha256: normalized.sha256,
      size: normalized.png.length,
      ...(stored ? { key: stored.key } : {}),
      imageSize: config.imageSize,
      ...(typeof prediction.metrics?.predict_time === 'number' ? { predictTime: prediction.metrics.predict_time } : {}),
    };
    await deps.onImage?.(index, normalized.png, meta);
    log?.({ kind: 'image-stored', index, predictionId: prediction.id, sha256: normalized.sha256 });
    return meta;
  };

  const runImage = async (index: number): Promise<Outcome> => {
    const prompt = request.prompts[index % request.prompts.length];
    const imageSeed = imageSeedFor(request.seed, className, index);
    const history: string[] = [];
    let attempt = 0;
    let current: PredictionObject | undefined;
    let resumed = false;

    const knownIds = normalizeKnown(known[index]);
    if (knownIds) {
      history.push(...knownIds.previous);
      try {
        current = await api.getPrediction(knownIds.current);
      } catch (error) {
        if (!(error instanceof ReplicateError && error.status === 404)) throw error;
        log?.({ kind: 'prediction-recreate', index, predictionId: knownIds.current, reason: 'not found (404)' });
      }
      if (current) {
        const seed = current.input?.seed;
        let k = -1;
        for (let a = 0; a <= config.maxSafetyRetries; a += 1) {
          if (seed === attemptSeed(imageSeed, a)) {
            k = a;
            break;
          }
        }
        if (k < 0) {
          log?.({ kind: 'prediction-recreate', index, predictionId: current.id, reason: 'its input seed is not one of this image' });
          current = undefined;
        } else {
          attempt = k;
          resumed = true;
          latest[index] = current.id;
          log?.({ kind: 'prediction-resumed', index, predictionId: current.id, status: current.status });
        }
      }
    }

    for (;;) {
      if (!current) {
        if (signal?.aborted) throw abortError();
        const seed = attemptSeed(imageSeed, attempt);
        const input: Record<string, unknown> = {
          ...config.extraInput,
          prompt,
          ...(request.negativePrompt !== undefined && request.negativePrompt !== '' ? { negative_prompt: request.negativePrompt } : {}),
          width: config.width,
          height: config.height,
          num_inference_steps: config.numInferenceSteps,
          guidance_scale: config.guidanceScale,
          seed,
          num_outputs: 1,
        };
        current = await api.createPrediction({ model, version, input, waitSeconds: config.preferWaitSeconds });
        latest[index] = current.id;
        if (!TERMINAL_STATUSES.has(current.status)) inFlight.set(index, current.id);
        log?.({ kind: 'prediction-created', index, predictionId: current.id, seed, attempt });
        await deps.onPredictionStarted?.(index, current.id, { attempt, seed, previous: [...history] });
        resumed = false;
      }
      const done = await waitTerminal(index, current);
      const recreate = (reason: string) => {
        log?.({ kind: 'prediction-recreate', index, predictionId: done.id, reason });
        current = undefined;
        resumed = false;
      };

      if (done.status === 'succeeded') {
        try {
          return { kind: 'image', meta: await deliver(index, done, prompt, imageSeed, attempt, history) };
        } catch (error) {
          if (resumed && error instanceof ReplicateError && error.code === 'OutputDownload' && (error.status === 404 || error.status === 410)) {
            recreate('its output files have expired');
            continue;
          }
          throw error;
        }
      }
      if (done.status === 'failed') {
        const text = api.redact(typeof done.error === 'string' ? done.error : JSON.stringify(done.error ?? 'unknown error'));
        if (isSafetyError(text)) {
          history.push(done.id);
          log?.({ kind: 'safety-blocked', index, predictionId: done.id, seed: attemptSeed(imageSeed, attempt), attempt });
          if (attempt >= config.maxSafetyRetries) {
            return {
              kind: 'blocked',
              blocked: {
                index,
                prompt,
                seeds: Array.from({ length: attempt + 1 }, (_, a) => attemptSeed(imageSeed, a)),
                predictionIds: [...history],
                error: `blocked by the safety filter on ${attempt + 1} attempt(s): ${text}`,
              },
            };
          }
          attempt += 1;
          current = undefined;
          resumed = false;
          continue;
        }
        const transient = TRANSIENT_PATTERN.test(text);
        if (resumed && transient) {
          recreate(`it failed with a transient error: ${text}`);
          continue;
        }
        throw new ReplicateError(`prediction ${done.id} (${describe(index)}) failed: ${text}`, {
          code: 'PredictionFailed',
          nonRetryable: !transient,
          predictionId: done.id,
        });
      }
      if (done.status === 'canceled') {
        if (signal?.aborted) throw abortError();
        if (resumed) {
          recreate('it was canceled (e.g. by an earlier attempt that was aborted)');
          continue;
        }
        throw new ReplicateError(`prediction ${done.id} (${describe(index)}) was canceled (not by this run)`, {
          code: 'PredictionCanceled',
          nonRetryable: true,
          predictionId: done.id,
        });
      }
      // aborted: terminated before it started (e.g. a deadline); nothing was produced.
      if (resumed) {
        recreate('it was aborted before it ran');
        continue;
      }
      throw new ReplicateError(`prediction ${done.id} (${describe(index)}) was aborted before it ran`, {
        code: 'PredictionAborted',
        nonRetryable: false,
        predictionId: done.id,
      });
    }
  };

  let outcomes: Outcome[] = [];
  let failed: { error: unknown } | undefined;
  try {
    // mapLimit rethrows the first error (others, e.g. aborts of siblings, are consequences) once those in flight finish.
    outcomes = await mapLimit(todo, config.maxConcurrency, (index) => runImage(index));
  } catch (error) {
    failed = { error };
  }
  const firstError = failed?.error;

  if (signal?.aborted || (firstError instanceof ReplicateError && firstError.code === 'Canceled')) {
    if (config.cancelOnAbort) {
      await Promise.all(
        [...inFlight.values()].map(async (id) => {
          try {
            await api.cancelPrediction(id);
            log?.({ kind: 'canceled', what: 'prediction', id });
          } catch {
            // best effort: the prediction id is in the heartbeats
          }
        }),
      );
    }
    throw abortError();
  }
  if (failed) throw failed.error;

  // todo is in index order and mapLimit keeps it.
  const images = outcomes.flatMap((o) => (o.kind === 'image' ? [o.meta] : []));
  const blocked = outcomes.flatMap((o) => (o.kind === 'blocked' ? [o.blocked] : []));
  return { className, model, ...(version !== undefined ? { version } : {}), images, blocked, skipped, predictions: latest };
}
