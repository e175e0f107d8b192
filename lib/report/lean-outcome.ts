/**
 * A cell outcome as workflows carry it. Its own module, free of the engine-output schemas that
 * resolving it needs (lib/report/request.ts): workflows import it, and a workflow evaluates every
 * module it imports once per new workflow.
 */
import type { CellEvaluation, CellOutcome } from './types.js';

/** A cell outcome as workflows carry it: the per-class accuracies stay in the store. */
export type LeanCellOutcome = Omit<CellOutcome, 'evaluation'> & { evaluation?: Omit<CellEvaluation, 'perClass'> };

/** Drop what is already in the store (pure: used in workflows). */
export function leanOutcome(outcome: CellOutcome): LeanCellOutcome {
  if (!outcome.evaluation) return outcome;
  const { perClass: _perClass, ...evaluation } = outcome.evaluation;
  return { ...outcome, evaluation };
}
