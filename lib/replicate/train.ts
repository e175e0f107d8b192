/**
 * DreamBooth-style fine-tunes through Replicate trainings:
 * `POST /v1/models/{trainer owner}/{trainer name}/versions/{trainer version}/trainings`
 * with `{destination: 'owner/model', input: {instance_data, instance_prompt, class_prompt,
 * max_train_steps, ...}}`, then `GET /v1/trainings/{id}` until succeeded | failed | canceled.
 * The result is the new version of the destination model (`output.version`, which Replicate gives as
 * `owner/model:versionid`; a bare id is accepted too), used by generateWithReplicate.
 *
 * Idempotent across activity attempts like generation: `onTrainingStarted(id)` right after the create
 * (heartbeat it); a retried attempt passes `knownTrainingId` and the training is polled, not
 * re-created. A known training that was canceled/aborted (e.g. by our own abort) is re-created.
 */
import { BadInputError } from '../errors.js';
import { connectReplicate, TERMINAL_STATUSES, type TrainingObject } from './api.js';
import { parseReplicateConfig, type ReplicateConfigInput } from './config.js';
import { ReplicateError } from './errors.js';
import { abortError, realSleep, type FetchLike, type ReplicateLogger, type Sleep } from './http.js';
import { looksLikeZip } from './zip.js';
import type { EndpointPolicy } from '../config/endpoints.js';

export interface TrainInput {
  /** A URL (https) of a zip of the instance images, a `data:` URI of one, or the zip bytes. */
  readonly instance_data: string | Uint8Array;
  readonly instance_prompt?: string;
  readonly class_prompt?: string;
  readonly max_train_steps?: number;
  readonly [key: string]: unknown;
}

export interface TrainRequest {
  /** The trainer, `owner/name` (e.g. a DreamBooth trainer). */
  readonly trainerModel: string;
  readonly trainerVersion: string;
  /** Where the new version goes: an existing model `owner/model`. */
  readonly destination: string;
  readonly input: TrainInput;
}

export interface TrainDeps {
  readonly config: ReplicateConfigInput;
  /** Where the worker lets its token go (its `endpoints` config): `config.baseUrl` must pass it. */
  readonly endpoints: EndpointPolicy;
  /** From the previous attempt's heartbeat: poll it instead of creating a new training. */
  readonly knownTrainingId?: string;
  /** Called right after the training is created: heartbeat the id. */
  readonly onTrainingStarted?: (trainingId: string) => void | Promise<void>;
  /** Called on every poll (e.g. to heartbeat progress). */
  readonly onProgress?: (training: { id: string; status: string; logs?: string }) => void;
  readonly signal?: AbortSignal;
  readonly fetch?: FetchLike;
  readonly sleep?: Sleep;
  readonly log?: ReplicateLogger;
}

export interface TrainResult {
  readonly trainingId: string;
  /** The destination model, `owner/model`. */
  readonly model: string;
  /** The new version id (bare). */
  readonly version: string;
  /** `owner/model:version`. */
  readonly ref: string;
  readonly weights?: string;
  readonly predictTime?: number;
}

/** Largest zip sent inline as a data URI; bigger archives must be given as a URL. */
export const MAX_INLINE_ZIP_BYTES = 100 * 1024 * 1024;

const MODEL_REF = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parse `output.version` (`owner/model:id` or `id`). */
export function parseTrainedVersion(output: unknown, destination: string): { model: string; version: string } | undefined {
  const value = (output as { version?: unknown } | null | undefined)?.version;
  if (typeof value !== 'string' || value === '') return undefined;
  const colon = value.lastIndexOf(':');
  if (colon >= 0) {
    const model = value.slice(0, colon);
    const version = value.slice(colon + 1);
    return MODEL_REF.test(model) && version !== '' ? { model, version } : undefined;
  }
  return { model: destination, version: value };
}

function encodeInstanceData(value: string | Uint8Array): string {
  if (typeof value === 'string') {
    if (!/^(https?:\/\/|data:)/.test(value)) {
      throw new BadInputError('train (replicate): input.instance_data must be an http(s) URL, a data: URI, or zip bytes');
    }
    return value;
  }
  if (!looksLikeZip(value)) throw new BadInputError('train (replicate): input.instance_data bytes are not a zip archive (use zipStore)');
  if (value.byteLength > MAX_INLINE_ZIP_BYTES) {
    throw new BadInputError(`train (replicate): instance zip is ${value.byteLength} bytes, over ${MAX_INLINE_ZIP_BYTES} for inline data: give a URL instead`);
  }
  return `data:application/zip;base64,${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`;
}

/** Run (or resume) one training and return the version it produced. */
export async function trainWithReplicate(request: TrainRequest, deps: TrainDeps): Promise<TrainResult> {
  const config = parseReplicateConfig(deps.config);
  const { trainerModel, trainerVersion, destination } = request;
  if (typeof trainerModel !== 'string' || !MODEL_REF.test(trainerModel)) throw new BadInputError(`train (replicate): trainerModel must be "owner/name", got ${JSON.stringify(trainerModel)}`);
  if (typeof trainerVersion !== 'string' || !/^[A-Za-z0-9]{8,128}$/.test(trainerVersion)) {
    throw new BadInputError(`train (replicate): trainerVersion must be a version id, got ${JSON.stringify(trainerVersion)}`);
  }
  if (typeof destination !== 'string' || !MODEL_REF.test(destination)) throw new BadInputError(`train (replicate): destination must be "owner/model", got ${JSON.stringify(destination)}`);
  if (typeof request.input !== 'object' || request.input === null) throw new BadInputError('train (replicate): input is required');
  if (request.input.instance_data === undefined) throw new BadInputError('train (replicate): input.instance_data is required');
  const input: Record<string, unknown> = { ...request.input, instance_data: encodeInstanceData(request.input.instance_data) };

  const signal = deps.signal;
  const sleep = deps.sleep ?? realSleep;
  const log = deps.log;
  const api = connectReplicate({ baseUrl: config.baseUrl, endpoints: deps.endpoints, http: config.http, fetch: deps.fetch, sleep, signal, log });

  let current: TrainingObject | undefined;
  let resumed = false;
  if (deps.knownTrainingId) {
    try {
      current = await api.getTraining(deps.knownTrainingId);
      resumed = true;
      log?.({ kind: 'training-resumed', trainingId: current.id, status: current.status });
    } catch (error) {
      if (!(error instanceof ReplicateError && error.status === 404)) throw error;
    }
  }

  try {
    for (;;) {
      if (!current) {
        if (signal?.aborted) throw abortError();
        current = await api.createTraining({ trainerModel, trainerVersion, destination, input });
        log?.({ kind: 'training-created', trainingId: current.id });
        await deps.onTrainingStarted?.(current.id);
        resumed = false;
      }
      while (!TERMINAL_STATUSES.has(current.status)) {
        deps.onProgress?.({ id: current.id, status: current.status, ...(current.logs ? { logs: current.logs } : {}) });
        await sleep(config.trainingPollIntervalMs, signal);
        current = await api.getTraining(current.id);
      }
      const done: TrainingObject = current;
      if (done.status === 'succeeded') {
        const parsed = parseTrainedVersion(done.output, destination);
        if (!parsed) {
          throw new ReplicateError(`training ${done.id} succeeded without an output.version`, { code: 'OutputInvalid', nonRetryable: true, trainingId: done.id });
        }
        return {
          trainingId: done.id,
          model: parsed.model,
          version: parsed.version,
          ref: `${parsed.model}:${parsed.version}`,
          ...(typeof done.output?.weights === 'string' ? { weights: done.output.weights } : {}),
          ...(typeof done.metrics?.predict_time === 'number' ? { predictTime: done.metrics.predict_time } : {}),
        };
      }
      if (done.status === 'failed') {
        const text = api.redact(typeof done.error === 'string' ? done.error : JSON.stringify(done.error ?? 'unknown error'));
        throw new ReplicateError(`training ${done.id} (${trainerModel} → ${destination}) failed: ${text}`, { code: 'TrainingFailed', nonRetryable: true, trainingId: done.id });
      }
      if (signal?.aborted) throw abortError();
      if (resumed) {
        current = undefined; // canceled/aborted before this attempt (e.g. our own abort): start again
        continue;
      }
      throw new ReplicateError(`training ${done.id} (${trainerModel} → ${destination}) was ${done.status} (not by this run)`, {
        code: 'TrainingCanceled',
        nonRetryable: done.status === 'canceled',
        trainingId: done.id,
      });
    }
  } catch (error) {
    if (signal?.aborted && current && !TERMINAL_STATUSES.has(current.status) && config.cancelOnAbort) {
      try {
        await api.cancelTraining(current.id);
        log?.({ kind: 'canceled', what: 'training', id: current.id });
      } catch {
        // best effort: the id is in the heartbeats
      }
      throw abortError();
    }
    throw error;
  }
}
