import { ApplicationFailure } from '@temporalio/common';

/**
 * Error types shared by activities. `nonRetryable` decides how Temporal treats them:
 * permanent problems (bad input, corrupt data) fail fast; transient ones retry with backoff.
 */
export class SynthmixError extends Error {
  constructor(
    message: string,
    readonly type: string,
    readonly nonRetryable: boolean,
  ) {
    super(message);
    this.name = type;
  }

  /** The Temporal failure that carries this error across the activity boundary. */
  toFailure(): ApplicationFailure {
    return ApplicationFailure.create({ message: this.message, type: this.type, nonRetryable: this.nonRetryable });
  }
}

export class BadInputError extends SynthmixError {
  constructor(message: string) {
    super(message, 'BadInput', true);
  }
}

export class NotFoundError extends SynthmixError {
  constructor(readonly key: string, where: string) {
    super(`object not found: ${key} (in ${where})`, 'NotFound', true);
  }
}

export class CorruptObjectError extends SynthmixError {
  constructor(readonly key: string, expected: string, actual: string) {
    super(`corrupt object ${key}: recorded sha256 ${expected}, read ${actual}`, 'CorruptObject', true);
  }
}

export class StoreUnavailableError extends SynthmixError {
  constructor(where: string, cause: string) {
    super(`artifact store ${where} is unavailable: ${cause}`, 'StoreUnavailable', false);
  }
}

/**
 * A local file changed while it was being stored (a writer replaced or rewrote it in place). Transient:
 * the writer is alive and a later attempt stores a settled file, so this never fails a step for good.
 */
export class SourceChangedError extends SynthmixError {
  constructor(key: string, path: string) {
    super(`put ${JSON.stringify(key)}: file ${path} was rewritten in place while it was being uploaded`, 'SourceChanged', false);
  }
}

/** Convert any thrown value into a Temporal failure with the right retry semantics. */
export function toActivityFailure(error: unknown): Error {
  if (error instanceof SynthmixError) return error.toFailure();
  if (error instanceof ApplicationFailure) return error;
  return error instanceof Error ? error : new Error(String(error));
}
