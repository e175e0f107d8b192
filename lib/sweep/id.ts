/**
 * The one check of a sweep id. A sweep id names workflow ids and store prefixes
 * (`reports/<id>/`, `sweeps/<id>/`), so it must be a safe single path segment.
 */
import { BadInputError } from '../errors.js';

const SWEEP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** Throws BadInputError naming `field` unless `sweepId` is a safe name (letters, digits, . _ -). */
export function assertSweepId(sweepId: unknown, field = 'sweep id'): asserts sweepId is string {
  if (typeof sweepId !== 'string' || !SWEEP_ID.test(sweepId)) {
    throw new BadInputError(`${field} must be a safe name (letters, digits, . _ -; at most 201 characters, not starting with . _ -), got ${JSON.stringify(sweepId)}`);
  }
}
