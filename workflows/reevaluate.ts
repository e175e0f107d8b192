/**
 * Nightly re-evaluation (started by a Temporal Schedule, `synthmix schedule create`): evaluate the
 * stored best weights of every done cell of a finished sweep on its test set (or a newly given
 * one), append the accuracies to the sweep's history and render its report again.
 *
 *   loadSweepRecord ─► evaluate per cell (bounded) ─► appendHistory ─► renderSweepReport
 *
 * Evaluations are memoized like every step: the same weights on the same test manifest give the
 * stored evaluation back without running the engine; a changed test set is evaluated afresh.
 */
import { ActivityFailure, ApplicationFailure, continueAsNew, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { HistoryEntry, ReevaluationPlan } from '../activities/history.js';
import type { ReportOutput } from '../lib/report/types.js';
import type { Queues } from '../lib/temporal/queues.js';
import { rootMessage } from './errors.js';
import { fanOutBounded } from './fan-out.js';
import { proxyCpuActivities, proxyGpuActivities } from './proxies.js';

/** The batch size the sweep's experiments evaluate with (so an unchanged test set reuses their evaluations). */
const EVALUATE_BATCH_SIZE = 128;

export interface ReevaluateInput {
  sweepId: string;
  queues: Queues;
  /** A store key of a test manifest to use instead of the sweep's own (pinned to its bytes at run time unless sha256 is given). */
  testManifest?: { key: string; sha256?: string };
  /** Evaluations at once (default 2). */
  concurrency?: number;
  /** State carried over `continueAsNew` (a sweep of thousands of cells): small entries only. */
  carried?: ReevaluateCarried;
}

interface ReevaluateCarried {
  /** The first run's time and run id: the history entry of this re-evaluation is one entry. */
  at: string;
  runId: string;
  /** The test manifest the first run resolved, pinned. */
  test: { key: string; sha256: string };
  /** One outcome per cell evaluated so far. */
  outcomes: Array<[string, CellEvaluationOutcome]>;
}

type CellEvaluationOutcome = { ok: HistoryEntry['cells'][number] } | { failed: HistoryEntry['failed'][number] };

export interface ReevaluateResult {
  sweepId: string;
  historyKey: string;
  historyEntries: number;
  entry: HistoryEntry;
  skipped: string[];
  report: ReportOutput;
}

export async function reevaluate(input: ReevaluateInput): Promise<ReevaluateResult> {
  const cpu = proxyCpuActivities(input.queues);
  const gpu = proxyGpuActivities(input.queues);
  // Workflow time: the same on every replay (and the first run's after a hand-over).
  const at = input.carried?.at ?? new Date().toISOString();
  const info = workflowInfo();
  const runId = input.carried?.runId ?? info.runId;

  const testManifest = input.carried?.test ?? input.testManifest;
  const plan: ReevaluationPlan = await cpu.loadSweepRecord({ sweepId: input.sweepId, ...(testManifest ? { testManifest } : {}) });
  if (plan.cells.length === 0) {
    throw ApplicationFailure.nonRetryable(`sweep ${input.sweepId} has no finished cell with stored weights to re-evaluate`, 'BadInput');
  }

  // Bounded fan-out over the cells, handing over with `continueAsNew` when the history grows long
  // (each evaluation's result carries its per-class accuracies: thousands of cells would not fit).
  const outcomes = new Map<string, CellEvaluationOutcome>(input.carried?.outcomes ?? []);
  const items = plan.cells.map((cell) => ({ id: cell.cellId, weightsKey: cell.weightsKey }));
  const ran = await fanOutBounded(items, Math.max(1, input.concurrency ?? 2), { outcomes, running: new Set() }, async (cell): Promise<CellEvaluationOutcome> => {
    try {
      const evaluation = await gpu.evaluate({ test: plan.test, classes: plan.classes, weightsKey: cell.weightsKey, arch: plan.arch, batchSize: EVALUATE_BATCH_SIZE });
      return { ok: { cellId: cell.id, overallAccuracy: evaluation.overallAccuracy, evaluationKey: evaluation.evaluationKey } };
    } catch (error) {
      // A cell whose weights cannot be evaluated (gone from the store...) is recorded, not fatal.
      if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
      return { failed: { cellId: cell.id, error: rootMessage(error) } };
    }
  });
  if (ran === 'continue-as-new') {
    await continueAsNew<typeof reevaluate>({ ...input, carried: { at, runId, test: { key: plan.test.key, sha256: plan.test.sha256 }, outcomes: [...outcomes.entries()] } });
  }
  const cells: HistoryEntry['cells'] = [];
  const failed: HistoryEntry['failed'] = [];
  for (const item of items) {
    const outcome = outcomes.get(item.id) as CellEvaluationOutcome;
    if ('ok' in outcome) cells.push(outcome.ok);
    else failed.push(outcome.failed);
  }
  if (cells.length === 0) {
    throw ApplicationFailure.nonRetryable(`sweep ${input.sweepId}: no stored model could be re-evaluated (${failed.map((f) => `${f.cellId}: ${f.error}`).join('; ')})`, 'ReevaluationFailed');
  }

  const entry: HistoryEntry = {
    at,
    testManifestKey: plan.test.key,
    testManifestSha256: plan.test.sha256,
    workflowId: info.workflowId,
    runId,
    cells,
    failed,
  };
  const appended = await cpu.appendHistory({ sweepId: input.sweepId, entry });
  const report = await cpu.renderSweepReport({ sweepId: input.sweepId });
  return { sweepId: input.sweepId, historyKey: appended.key, historyEntries: appended.entries, entry, skipped: plan.skipped, report };
}
