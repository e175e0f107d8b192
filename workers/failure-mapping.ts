/**
 * Every activity's errors cross to Temporal with the right retry semantics. The SDK turns a plain
 * thrown Error into a *retryable* ApplicationFailure typed by its class name (`BadInputError`),
 * which the retry policies' `nonRetryableErrorTypes` (`BadInput`, ...) do not match: a permanent
 * error would be retried to the last attempt. This interceptor maps each SynthmixError to its own
 * failure (type `BadInput`, `NotFound`, ...; non-retryable where permanent) for every activity.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { toActivityFailure } from '../lib/errors.js';

export const mapActivityFailures: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (error) {
        throw toActivityFailure(error);
      }
    },
  },
});
