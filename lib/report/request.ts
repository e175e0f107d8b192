/**
 * What the sweep hands the report step: `ReportInput` with the cell outcomes by reference. A
 * sweep's outcomes grow with cells × classes (each done cell's per-class accuracies), far past a
 * workflow payload's 2 MB, so the sweep keeps lean outcomes (no `perClass`: it is in the cell's
 * stored evaluation, `evaluationKey`) in stored pages, and the report step resolves them here into
 * the full `ReportInput` that rendering and the sweep record use.
 */
import { mapLimit } from '../concurrency.js';
import { evaluationFileSchema, parseEngineOutput } from '../engine/results.js';
import { BadInputError } from '../errors.js';
import { getValue, isStoredList, readList, type StoredList, type StoredValue } from '../store/values.js';
import type { ArtifactStore } from '../store/types.js';
import type { LeanCellOutcome } from './lean-outcome.js';
import type { CellOutcome, ReportInput, SampleGrid } from './types.js';

export type ReportRequest = Omit<ReportInput, 'cells' | 'samples'> & {
  /** The sample grid, or its stored reference (the sweep: it grows with the classes). */
  samples: SampleGrid | StoredValue;
  /** Stored pages of `LeanCellOutcome` in the sweep's cell order (the sweep), or the full outcomes themselves (a small caller). */
  cells: StoredList | CellOutcome[];
};

/** The full outcome again: the per-class accuracies read from the cell's stored evaluation. */
export async function fullOutcome(store: ArtifactStore, outcome: LeanCellOutcome): Promise<CellOutcome> {
  if (!outcome.evaluation) return outcome as CellOutcome;
  const stored = parseEngineOutput('evaluate-classifier', outcome.evaluation.evaluationKey, evaluationFileSchema, await store.getJson<unknown>(outcome.evaluation.evaluationKey));
  const perClass = Object.fromEntries(Object.entries(stored.perClass).map(([name, value]) => [name, value.accuracy]));
  return { ...outcome, evaluation: { ...outcome.evaluation, perClass } };
}

export async function resolveReportRequest(store: ArtifactStore, request: ReportRequest): Promise<ReportInput> {
  const samples = isStoredValue(request?.samples) ? await getValue<SampleGrid>(store, request.samples) : (request?.samples as SampleGrid);
  if (Array.isArray(request?.cells)) return { ...request, samples, cells: request.cells };
  if (!isStoredList(request?.cells)) throw new BadInputError(`report: cells must be a list of outcomes or stored pages ({ pages: [{ key, sha256 }] }), for sweep ${JSON.stringify(request?.sweepId)}`);
  const lean = await readList<LeanCellOutcome>(store, request.cells);
  return { ...request, samples, cells: await mapLimit(lean, 8, (outcome) => fullOutcome(store, outcome)) };
}

function isStoredValue(value: unknown): value is StoredValue {
  return typeof value === 'object' && value !== null && typeof (value as StoredValue).key === 'string' && typeof (value as StoredValue).sha256 === 'string' && !('images' in value);
}
