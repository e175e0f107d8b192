import { SynthmixError } from '../errors.js';

/** What went wrong, for callers that branch on it (the message is for humans). */
export type ReplicateErrorCode =
  | 'MissingToken' // REPLICATE_API_TOKEN unset: nothing was sent
  | 'Unauthorized' // 401/403 from the API
  | 'BadRequest' // 4xx other than 401/403/429 (invalid version, invalid input, destination missing...)
  | 'RateLimited' // 429 still after our retries (retryable by Temporal)
  | 'ServerError' // 5xx still after our retries (retryable)
  | 'Network' // connection errors still after our retries (retryable)
  | 'PredictionFailed' // status failed: the model raised (non-retryable unless the error says it is transient)
  | 'PredictionCanceled' // status canceled, not by us
  | 'PredictionAborted' // status aborted (terminated before it started; retryable)
  | 'TrainingFailed'
  | 'TrainingCanceled'
  | 'OutputInvalid' // output missing, not a URL, or not a decodable image
  | 'OutputDownload' // fetching an output file failed
  | 'Canceled'; // our caller aborted (activity cancellation)

export interface ReplicateErrorDetails {
  readonly code: ReplicateErrorCode;
  readonly nonRetryable: boolean;
  /** The prediction this error is about, when there is one. */
  readonly predictionId?: string;
  /** The training this error is about, when there is one. */
  readonly trainingId?: string;
  /** HTTP status, for API errors. */
  readonly status?: number;
}

/**
 * An error of the Replicate backend. It is a SynthmixError (type `Replicate<code>`), so
 * `toActivityFailure` turns it into an ApplicationFailure with the right retry semantics.
 * The message never contains the API token (every server-provided text is redacted).
 */
export class ReplicateError extends SynthmixError {
  readonly code: ReplicateErrorCode;
  readonly predictionId?: string;
  readonly trainingId?: string;
  readonly status?: number;

  constructor(message: string, details: ReplicateErrorDetails) {
    super(message, `Replicate${details.code}`, details.nonRetryable);
    this.code = details.code;
    this.predictionId = details.predictionId;
    this.trainingId = details.trainingId;
    this.status = details.status;
  }
}

/** Replace every occurrence of `secret` in `text` (no-op for an empty secret). */
export function redact(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('[REDACTED]');
}
