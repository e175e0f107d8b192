/**
 * cpu queue: the store side of a nightly re-evaluation (workflows/reevaluate.ts) — load what a
 * finished sweep recorded (its cells' best weights, test manifest, classifier arch), append one
 * history entry per re-evaluation, and render the sweep's report again with all of its history.
 * Layout in the store: lib/report/record.ts. Permanent errors become typed failures in the
 * workers' interceptor (workers/failure-mapping.ts).
 */
import type { ActivityDeps } from '../lib/deps.js';
import type { ManifestRef } from '../lib/data/manifest.js';
import {
  historyPoints,
  readHistory,
  readSweepRecord,
  resolveTestManifest,
  writeHistoryEntry,
  type HistoryEntry,
} from '../lib/report/record.js';
import type { ReportOutput } from '../lib/report/types.js';
import type { ClassifierArch } from '../lib/steps/classifier.js';
import { writeReport } from './report.js';

export type { HistoryEntry } from '../lib/report/record.js';

export interface LoadSweepRecordInput {
  sweepId: string;
  /** Evaluate on this manifest instead of the sweep's test set (pinned to its current bytes when no sha256). */
  testManifest?: { key: string; sha256?: string };
}

/** What a re-evaluation needs from the record (small: no report body). */
export interface ReevaluationPlan {
  sweepId: string;
  classes: string[];
  arch: ClassifierArch;
  test: ManifestRef;
  /** Every done cell with stored best weights. */
  cells: Array<{ cellId: string; weightsKey: string }>;
  /** Cells the sweep did not finish (failed, or without weights): not re-evaluated. */
  skipped: string[];
}

export interface AppendHistoryInput {
  sweepId: string;
  entry: HistoryEntry;
}

export function createHistoryActivities({ store }: ActivityDeps) {
  return {
    async loadSweepRecord(input: LoadSweepRecordInput): Promise<ReevaluationPlan> {
      const record = await readSweepRecord(store, input.sweepId);
      const test = await resolveTestManifest(store, record, input.testManifest);
      const cells: ReevaluationPlan['cells'] = [];
      const skipped: string[] = [];
      for (const outcome of record.report.cells) {
        if (outcome.status === 'done' && outcome.train?.weightsKey) cells.push({ cellId: outcome.cell.id, weightsKey: outcome.train.weightsKey });
        else skipped.push(outcome.cell.id);
      }
      return { sweepId: record.sweepId, classes: record.report.classes, arch: record.report.evaluationContext.arch, test, cells, skipped };
    },

    /** Store one re-evaluation (idempotent: a retry rewrites the same key); returns its key and the entry count. */
    async appendHistory(input: AppendHistoryInput): Promise<{ key: string; entries: number }> {
      const key = await writeHistoryEntry(store, input.sweepId, input.entry);
      return { key, entries: (await readHistory(store, input.sweepId)).length };
    },

    /** Render the sweep's report again from its record, with every history entry. */
    async renderSweepReport(input: { sweepId: string }): Promise<ReportOutput> {
      const record = await readSweepRecord(store, input.sweepId);
      const history = historyPoints(await readHistory(store, input.sweepId));
      return writeReport(store, { ...record.report, ...(history.length > 0 ? { history } : {}) });
    },
  };
}
