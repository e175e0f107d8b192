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
import { ActivityFailure, ApplicationFailure, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { HistoryEntry, ReevaluationPlan } from '../activities/history.js';
import type { ReportOutput } from '../lib/report/types.js';
import type { Queues } from '../lib/temporal/queues.js';
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
}

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
  // Workflow time: the same on every replay.
  const at = new Date().toISOString();
  const info = workflowInfo();

  const plan: ReevaluationPlan = await cpu.loadSweepRecord({ sweepId: input.sweepId, ...(input.testManifest ? { testManifest: input.testManifest } : {}) });
  if (plan.cells.length === 0) {
    throw ApplicationFailure.nonRetryable(`sweep ${input.sweepId} has no finished cell with stored weights to re-evaluate`, 'BadInput');
  }

  const cells: HistoryEntry['cells'] = [];
  const failed: HistoryEntry['failed'] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(input.concurrency ?? 2, plan.cells.length)) }, async () => {
    while (next < plan.cells.length) {
      const cell = plan.cells[next++];
      try {
        const evaluation = await gpu.evaluate({ test: plan.test, classes: plan.classes, weightsKey: cell.weightsKey, arch: plan.arch, batchSize: EVALUATE_BATCH_SIZE });
        cells.push({ cellId: cell.cellId, overallAccuracy: evaluation.overallAccuracy, evaluationKey: evaluation.evaluationKey });
      } catch (error) {
        // A cell whose weights cannot be evaluated (gone from the store...) is recorded, not fatal.
        if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
        failed.push({ cellId: cell.cellId, error: rootMessage(error) });
      }
    }
  });
  await Promise.all(lanes);
  if (cells.length === 0) {
    throw ApplicationFailure.nonRetryable(`sweep ${input.sweepId}: no stored model could be re-evaluated (${failed.map((f) => `${f.cellId}: ${f.error}`).join('; ')})`, 'ReevaluationFailed');
  }
  const order = new Map(plan.cells.map((c, i) => [c.cellId, i]));
  const byCell = (a: { cellId: string }, b: { cellId: string }) => (order.get(a.cellId) ?? 0) - (order.get(b.cellId) ?? 0);

  const entry: HistoryEntry = {
    at,
    testManifestKey: plan.test.key,
    testManifestSha256: plan.test.sha256,
    workflowId: info.workflowId,
    runId: info.runId,
    cells: cells.sort(byCell),
    failed: failed.sort(byCell),
  };
  const appended = await cpu.appendHistory({ sweepId: input.sweepId, entry });
  const report = await cpu.renderSweepReport({ sweepId: input.sweepId });
  return { sweepId: input.sweepId, historyKey: appended.key, historyEntries: appended.entries, entry, skipped: plan.skipped, report };
}

function rootMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
