/**
 * What the report knows about each cell's test set beyond its accuracies: counts per class and, from
 * evaluations written since the engine records them, whether each test image was classified right.
 * That is what within-run intervals (Wilson, bootstrap over test images) and paired-by-image
 * differences need. `fetchTestResults` reads the cells' `evaluation.json` files from the store (the
 * report activity calls it); `testResultsOf` falls back to counts inferred from the accuracies.
 */
import { EngineResultError, evaluationFileSchema, parseEngineOutput, type EvaluationFile } from '../engine/results.js';
import { mapLimit } from '../concurrency.js';
import { BadInputError, CorruptObjectError, NotFoundError } from '../errors.js';
import type { ArtifactStore } from '../store/types.js';
import type { CellOutcome, ReportInput } from './types.js';

/** How a cell's test data was obtained (the report says it when it is not the full evaluation). */
export type TestDataOrigin = 'per-image' | 'counts' | 'inferred';

export interface CellTestData {
  origin: TestDataOrigin;
  /** class → correct / total test images. */
  perClass: Record<string, { correct: number; total: number }>;
  /** Per test image in manifest order (origin `per-image` only): the label's class name index into `classes`, and 1 when predicted right. */
  images?: { classes: string[]; labels: number[]; correct: number[] };
}

/** cell id → its test data (cells without any are absent). */
export type TestResults = ReadonlyMap<string, CellTestData>;

/** The test data in one `evaluation.json` (null when it holds no counts to use). */
export function testDataFromEvaluation(file: EvaluationFile): CellTestData | null {
  const perClass: Record<string, { correct: number; total: number }> = {};
  for (const [name, entry] of Object.entries(file.perClass)) {
    if (entry.correct === undefined || entry.total === undefined) return null;
    perClass[name] = { correct: entry.correct, total: entry.total };
  }
  const { classes, labels, predictions } = file;
  if (classes && labels && predictions && labels.length === predictions.length && labels.every((l) => l < classes.length)) {
    const correct = labels.map((l, i) => (predictions[i] === l ? 1 : 0));
    return { origin: 'per-image', perClass, images: { classes, labels, correct } };
  }
  return { origin: 'counts', perClass };
}

/**
 * Counts from an accuracy and the configured test images per class (evaluations that cannot be read,
 * e.g. a report previewed from a fixture): correct = round(accuracy · testPerClass).
 */
export function inferredTestData(outcome: CellOutcome, testPerClass: number): CellTestData | null {
  if (outcome.status !== 'done' || !outcome.evaluation || !(testPerClass > 0)) return null;
  const perClass: Record<string, { correct: number; total: number }> = {};
  for (const [name, accuracy] of Object.entries(outcome.evaluation.perClass)) {
    if (!Number.isFinite(accuracy)) return null;
    perClass[name] = { correct: Math.round(accuracy * testPerClass), total: testPerClass };
  }
  return { origin: 'inferred', perClass };
}

/** The test data of every done cell: `fetched` where given, else inferred from its accuracies. */
export function testResultsOf(input: ReportInput, fetched: TestResults = new Map()): Map<string, CellTestData> {
  const out = new Map<string, CellTestData>();
  const testPerClass = input.config?.dataset?.testPerClass ?? 0;
  for (const outcome of input.cells) {
    if (outcome.status !== 'done') continue;
    const data = fetched.get(outcome.cell.id) ?? inferredTestData(outcome, testPerClass);
    if (data) out.set(outcome.cell.id, data);
  }
  return out;
}

/**
 * Read every done cell's evaluation file. A missing, corrupt or malformed one is left out (the report
 * then infers counts and says so); a store outage throws, so the activity retries.
 */
export async function fetchTestResults(store: ArtifactStore, input: ReportInput): Promise<TestResults> {
  const done = input.cells.filter((c) => c.status === 'done' && typeof c.evaluation?.evaluationKey === 'string');
  const fetched = await mapLimit(done, 8, async (outcome) => {
    const key = outcome.evaluation?.evaluationKey as string;
    try {
      const file = parseEngineOutput('evaluate-classifier', key, evaluationFileSchema, await store.getJson<unknown>(key));
      return { id: outcome.cell.id, data: testDataFromEvaluation(file) };
    } catch (error) {
      const unusable = error instanceof NotFoundError || error instanceof CorruptObjectError || error instanceof BadInputError || error instanceof EngineResultError;
      if (unusable) return { id: outcome.cell.id, data: null };
      throw error;
    }
  });
  const out = new Map<string, CellTestData>();
  for (const { id, data } of fetched) if (data) out.set(id, data);
  return out;
}
