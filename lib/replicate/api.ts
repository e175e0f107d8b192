/**
 * A typed, error-normalising facade over the real `replicate` client (npm `replicate` 1.4.0).
 * Every error that leaves this module is a ReplicateError whose message is redacted: the client's
 * own ApiError is never rethrown because it carries the Request, whose headers hold the token.
 */
import Replicate from 'replicate';
import { ReplicateError, redact, type ReplicateErrorCode } from './errors.js';
import { createApiFetch, errorDetail, readReplicateToken, type FetchLike, type ReplicateLogger, type Sleep } from './http.js';
import type { ReplicateHttpPolicy } from './config.js';
import { assertSecretEndpoint, type EndpointPolicy } from '../config/endpoints.js';

export type PredictionStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled' | 'aborted';

/** The fields of a prediction object this backend reads (the API sends more). */
export interface PredictionObject {
  readonly id: string;
  readonly status: PredictionStatus;
  readonly model?: string;
  readonly version?: string;
  readonly input?: Record<string, unknown>;
  readonly output?: unknown;
  readonly error?: unknown;
  readonly logs?: string | null;
  readonly metrics?: { readonly predict_time?: number; readonly total_time?: number } | null;
  readonly created_at?: string;
  readonly started_at?: string | null;
  readonly completed_at?: string | null;
  readonly urls?: { readonly get?: string; readonly cancel?: string };
}

export interface TrainingObject {
  readonly id: string;
  readonly status: PredictionStatus;
  readonly model?: string;
  readonly version?: string;
  readonly input?: Record<string, unknown>;
  readonly output?: { readonly version?: string; readonly weights?: string } | null;
  readonly error?: unknown;
  readonly logs?: string | null;
  readonly metrics?: { readonly predict_time?: number } | null;
  readonly destination?: string;
}

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'canceled', 'aborted']);

export interface ConnectOptions {
  baseUrl: string;
  /** The worker's rule for where its token may go (lib/config/endpoints.ts): checked before any request. */
  endpoints: EndpointPolicy;
  http: ReplicateHttpPolicy;
  /** Fetch used for API calls (default: global fetch). */
  fetch?: FetchLike;
  sleep?: Sleep;
  signal?: AbortSignal;
  log?: ReplicateLogger;
}

export interface CreatePredictionArgs {
  /** `owner/name`. */
  readonly model: string;
  /** Version id; when absent the model endpoint (official models) is used. */
  readonly version?: string;
  readonly input: Record<string, unknown>;
  /** Sync mode (`Prefer: wait=n`), 0/undefined = off. */
  readonly waitSeconds?: number;
}

export interface ReplicateApi {
  /** Redacts the token from a text (the token itself is never exposed). */
  readonly redact: (text: string) => string;
  createPrediction(args: CreatePredictionArgs): Promise<PredictionObject>;
  getPrediction(id: string): Promise<PredictionObject>;
  cancelPrediction(id: string): Promise<PredictionObject>;
  createTraining(args: { trainerModel: string; trainerVersion: string; destination: string; input: Record<string, unknown> }): Promise<TrainingObject>;
  getTraining(id: string): Promise<TrainingObject>;
  cancelTraining(id: string): Promise<TrainingObject>;
}

function codeForStatus(status: number): { code: ReplicateErrorCode; nonRetryable: boolean } {
  if (status === 401 || status === 403) return { code: 'Unauthorized', nonRetryable: true };
  if (status === 429) return { code: 'RateLimited', nonRetryable: false };
  if (status === 408) return { code: 'ServerError', nonRetryable: false };
  if (status >= 500) return { code: 'ServerError', nonRetryable: false };
  return { code: 'BadRequest', nonRetryable: true };
}

interface ApiErrorLike {
  name: string;
  message: string;
  response?: { status?: number };
}

/** Turn anything the client throws into a redacted ReplicateError. */
export function toReplicateError(error: unknown, token: string, what: string, ids: { predictionId?: string; trainingId?: string } = {}): ReplicateError {
  if (error instanceof ReplicateError) return error;
  const e = error as ApiErrorLike;
  const status = e?.response?.status;
  if (e && e.name === 'ApiError' && typeof status === 'number') {
    // The client's message: `Request to URL failed with status N TEXT: BODY.`
    const match = /failed with status \d+[^:]*: ([\s\S]*)\.$/.exec(e.message);
    const detail = redact(errorDetail(match ? match[1] : ''), token);
    const { code, nonRetryable } = codeForStatus(status);
    const hint = code === 'Unauthorized' ? ' (check REPLICATE_API_TOKEN)' : '';
    return new ReplicateError(`Replicate API ${what}: HTTP ${status}${detail ? `: ${detail}` : ''}${hint}`, { code, nonRetryable, status, ...ids });
  }
  const text = redact(error instanceof Error ? error.message : String(error), token);
  return new ReplicateError(`Replicate API ${what}: ${text}`, { code: 'Network', nonRetryable: false, ...ids });
}

/** Connect: reads REPLICATE_API_TOKEN (throws MissingToken before any request when unset). */
export function connectReplicate(options: ConnectOptions): ReplicateApi {
  assertSecretEndpoint(options.baseUrl, options.endpoints, 'Replicate (baseUrl)', 'REPLICATE_API_TOKEN');
  const token = readReplicateToken();
  const client = new Replicate({
    auth: token,
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    userAgent: 'synthmix/0.1 (replicate-javascript)',
    fetch: createApiFetch({ policy: options.http, token, fetch: options.fetch, sleep: options.sleep, log: options.log }),
    useFileOutput: false,
  });
  const signal = options.signal;
  const call = async <T>(what: string, ids: { predictionId?: string; trainingId?: string }, fn: () => Promise<unknown>): Promise<T> => {
    try {
      return (await fn()) as T;
    } catch (error) {
      throw toReplicateError(error, token, what, ids);
    }
  };
  const splitModel = (ref: string): [string, string] => {
    const [owner, name] = ref.split('/');
    return [owner, name];
  };

  const api: ReplicateApi = {
    redact: (text) => redact(text, token),
    createPrediction: ({ model, version, input, waitSeconds }) =>
      call('create prediction', {}, () =>
        version
          ? client.predictions.create({ version, input, wait: waitSeconds && waitSeconds > 0 ? waitSeconds : undefined, signal })
          : client.predictions.create({ model, input, wait: waitSeconds && waitSeconds > 0 ? waitSeconds : undefined, signal }),
      ),
    getPrediction: (id) => call(`get prediction ${id}`, { predictionId: id }, () => client.predictions.get(id, { signal })),
    // Cancel must still go out when our signal has fired (that is when we cancel): no signal here.
    cancelPrediction: (id) => call(`cancel prediction ${id}`, { predictionId: id }, () => client.predictions.cancel(id)),
    createTraining: ({ trainerModel, trainerVersion, destination, input }) => {
      const [owner, name] = splitModel(trainerModel);
      return call('create training', {}, () =>
        client.trainings.create(owner, name, trainerVersion, { destination: destination as `${string}/${string}`, input, signal }),
      );
    },
    getTraining: (id) => call(`get training ${id}`, { trainingId: id }, () => client.trainings.get(id, { signal })),
    cancelTraining: (id) => call(`cancel training ${id}`, { trainingId: id }, () => client.trainings.cancel(id)),
  };
  return api;
}
