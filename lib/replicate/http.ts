/**
 * The HTTP layer under the `replicate` client: the token, and one retry policy.
 *
 * Why a fetch wrapper: replicate@1.4.0 retries by itself (lib/util.js `withAutomaticRetries`): a 429
 * on any method and a 5xx on GET are re-sent up to 5 more times, but its delay never applies in
 * practice: the Retry-After branch sits in a `catch` that a plain fetch never reaches (fetch resolves
 * with the 429 response, it does not throw ApiError), and the sleep is skipped because the jittered
 * delay is not an integer (and would be `NaN` ms if it were). So the client alone hammers the API
 * 6 times in a row and ignores Retry-After. We therefore give the client a fetch that does the real
 * policy (Retry-After honoured, exponential backoff + jitter, 5xx and connection errors retried),
 * and never hands the client a retryable response: when our budget is spent it throws, and every
 * later call with the same request (the client re-calls fetch with the same `init` object) rethrows
 * at once without touching the network. Net effect: no double retries, exactly `1 + maxRetries`
 * requests at most per logical call.
 *
 * The Replicate HTTP API has no idempotency key for creates (no `Idempotency-Key` header; `Prefer`
 * only selects sync mode), so duplicate protection across attempts is done above this layer: the
 * ids of created predictions/trainings go to the caller (heartbeats) at once, and a retried attempt
 * GETs them instead of creating. A create that got a 5xx is retried here; Replicate answers 5xx
 * before accepting a prediction in the usual cases, but an ambiguous 5xx could in principle leave
 * one orphan prediction (it is never polled nor delivered).
 */
import { ReplicateError, redact } from './errors.js';
import type { ReplicateHttpPolicy } from './config.js';

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** A structured event for logs. Never contains the token, request bodies or headers. */
export type ReplicateLogEvent =
  | { kind: 'http-retry'; method: string; path: string; status?: number; error?: string; attempt: number; delayMs: number; retryAfter?: boolean }
  | { kind: 'prediction-created'; index: number; predictionId: string; seed: number; attempt: number }
  | { kind: 'prediction-resumed'; index: number; predictionId: string; status: string }
  | { kind: 'prediction-recreate'; index: number; predictionId: string; reason: string }
  | { kind: 'safety-blocked'; index: number; predictionId: string; seed: number; attempt: number }
  | { kind: 'image-stored'; index: number; predictionId: string; sha256: string }
  | { kind: 'canceled'; what: 'prediction' | 'training'; id: string }
  | { kind: 'training-created'; trainingId: string }
  | { kind: 'training-resumed'; trainingId: string; status: string };

export type ReplicateLogger = (event: ReplicateLogEvent) => void;

/** Read the API token from the environment, the only place it may come from. */
export function readReplicateToken(): string {
  const token = process.env.REPLICATE_API_TOKEN;
  if (typeof token !== 'string' || token.trim() === '') {
    throw new ReplicateError(
      'Replicate backend: no API token: set REPLICATE_API_TOKEN in the environment of the worker (nothing was sent to Replicate)',
      { code: 'MissingToken', nonRetryable: true },
    );
  }
  return token.trim();
}

/** setTimeout as a promise; rejects with the signal's reason when aborted. */
export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export function abortError(): ReplicateError {
  return new ReplicateError('Replicate backend: canceled by the caller', { code: 'Canceled', nonRetryable: true });
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function backoffDelay(policy: ReplicateHttpPolicy, retry: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.round(exp + Math.random() * Math.min(exp, policy.baseDelayMs) * 0.5);
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status <= 599);
}

/** Extract a human message from an API error body: RFC 7807 `detail`/`title`, or the raw text. */
export function errorDetail(text: string): string {
  const trimmed = text.trim();
  try {
    const body = JSON.parse(trimmed) as Record<string, unknown>;
    const parts = [body.title, body.detail].filter((part): part is string => typeof part === 'string' && part !== '');
    if (parts.length > 0) return [...new Set(parts)].join(': ');
    const nested = body.error as Record<string, unknown> | undefined;
    if (nested && typeof nested.message === 'string') return nested.message;
  } catch {
    // not JSON
  }
  return trimmed.length > 500 ? `${trimmed.slice(0, 500)}…` : trimmed;
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : '';
    return `${error.message}${causeText}`;
  }
  return String(error);
}

export interface ApiFetchOptions {
  policy: ReplicateHttpPolicy;
  /** The token, only to redact it from texts that become error messages. */
  token: string;
  fetch?: FetchLike;
  sleep?: Sleep;
  log?: ReplicateLogger;
}

/**
 * The fetch handed to the `replicate` client (see the module comment). Cancellation follows each
 * request's own `init.signal` (a cancel request is sent without one, so it still goes out after the
 * caller aborted).
 */
export function createApiFetch(options: ApiFetchOptions): FetchLike {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? realSleep;
  const { policy, token, log } = options;
  const exhausted = new WeakMap<object, ReplicateError>();

  return async (input, init) => {
    const cached = init ? exhausted.get(init) : undefined;
    if (cached) throw cached;
    const signal = init?.signal ?? undefined;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const fail = (error: ReplicateError): never => {
      if (init) exhausted.set(init, error);
      throw error;
    };

    for (let retry = 0; ; retry += 1) {
      if (signal?.aborted) fail(abortError());
      let response: Response | undefined;
      let networkError: unknown;
      try {
        response = await baseFetch(input, init);
      } catch (error) {
        if (signal?.aborted) fail(abortError());
        networkError = error;
      }
      if (response && !isRetryableStatus(response.status)) return response;

      const retryAfterMs = response ? parseRetryAfter(response.headers.get('retry-after')) : undefined;
      const status = response?.status;
      const what = `${method} ${url.pathname}`;
      let reason: string;
      if (response) {
        const text = await response.text().catch(() => '');
        reason = `HTTP ${response.status}${text ? `: ${errorDetail(text)}` : ''}`;
      } else {
        reason = `connection error: ${describeNetworkError(networkError)}`;
      }
      reason = redact(reason, token);
      const code = status === 429 ? 'RateLimited' : status !== undefined ? 'ServerError' : 'Network';

      if (retry >= policy.maxRetries) {
        fail(new ReplicateError(`Replicate API ${what} still failing after ${retry + 1} tries: ${reason}`, { code, nonRetryable: false, status }));
      }
      if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) {
        fail(
          new ReplicateError(
            `Replicate API ${what}: ${reason}; Retry-After ${Math.ceil(retryAfterMs / 1000)} s exceeds the in-process limit of ${Math.ceil(policy.maxRetryAfterMs / 1000)} s (retry later)`,
            { code, nonRetryable: false, status },
          ),
        );
      }
      const delayMs = retryAfterMs ?? backoffDelay(policy, retry);
      log?.({ kind: 'http-retry', method, path: url.pathname, status, error: response ? undefined : reason, attempt: retry + 1, delayMs, retryAfter: retryAfterMs !== undefined });
      try {
        await sleep(delayMs, signal);
      } catch {
        fail(abortError());
      }
    }
  };
}
