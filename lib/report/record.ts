/**
 * The sweep record and its re-evaluation history, in the artifact store:
 *
 *   sweeps/<sweepId>/record.json                  what the sweep's report step received (cells with
 *                                                 their best weights, classes, config) plus the test
 *                                                 manifest and classifier arch: all a later
 *                                                 re-evaluation needs. Written by the report step.
 *   sweeps/<sweepId>/history/<at>-<runId>.json    one object per re-evaluation (nightly schedule)
 *
 * They live outside `reports/<sweepId>/` on purpose: that folder is always exactly one rendered
 * report (the report step deletes whatever it did not write) and is what `synthmix report` copies.
 */
import { BadInputError, SynthmixError } from '../errors.js';
import { sha256Hex } from '../hash.js';
import { readManifest, type ManifestRef } from '../data/manifest.js';
import type { ArtifactStore } from '../store/types.js';
import type { ReportInput } from './types.js';
import { assertSweepId } from '../sweep/id.js';

export const SWEEP_RECORD_VERSION = 1 as const;

/** One entry of `ReportInput.history`, as the report draws it. */
export type HistoryPoint = NonNullable<ReportInput['history']>[number];

/** What is stored per re-evaluation: the report's point plus provenance. */
export interface HistoryEntry extends HistoryPoint {
  testManifestSha256: string;
  /** The re-evaluation workflow that wrote it. */
  workflowId: string;
  runId: string;
  cells: Array<{ cellId: string; overallAccuracy: number; evaluationKey: string }>;
  /** Done cells whose stored weights could not be evaluated (e.g. deleted from the store). */
  failed: Array<{ cellId: string; error: string }>;
}

export type RecordedReportInput = Omit<ReportInput, 'history'> & Required<Pick<ReportInput, 'evaluationContext'>>;

export interface SweepRecord {
  version: typeof SWEEP_RECORD_VERSION;
  sweepId: string;
  report: RecordedReportInput;
}

export function sweepRecordKey(sweepId: string): string {
  assertSweepId(sweepId);
  return `sweeps/${sweepId}/record.json`;
}

export function historyPrefix(sweepId: string): string {
  assertSweepId(sweepId);
  return `sweeps/${sweepId}/history/`;
}

/** `sweeps/<id>/history/<at>-<runId>.json`: one key per re-evaluation run, the same on a retry. */
export function historyKey(sweepId: string, at: string, runId: string): string {
  const stamp = at.replace(/[^0-9A-Za-z.]/g, '');
  if (!/^[0-9A-Za-z.]{8,40}$/.test(stamp)) throw new BadInputError(`history entry: bad time ${JSON.stringify(at)}`);
  if (!/^[A-Za-z0-9-]{1,100}$/.test(runId)) throw new BadInputError(`history entry: bad run id ${JSON.stringify(runId)}`);
  return `${historyPrefix(sweepId)}${stamp}-${runId}.json`;
}

/** A sweep without a record: permanent (non-retryable), and says why there may be none. */
export class SweepRecordNotFoundError extends SynthmixError {
  constructor(sweepId: string, where: string) {
    super(
      `sweep ${sweepId} has no record in ${where} (${sweepRecordKey(sweepId)}): it has not finished its report step, ` +
        'the id is wrong, or its report was written before sweep records were kept (run the sweep again: nothing is recomputed)',
      'NotFound',
      true,
    );
  }
}

/** Store the record of a reported sweep; a report without an evaluation context has none (returns undefined). */
export async function saveSweepRecord(store: ArtifactStore, input: ReportInput): Promise<string | undefined> {
  if (!input.evaluationContext) return undefined;
  const { history: _history, ...report } = input;
  const record: SweepRecord = { version: SWEEP_RECORD_VERSION, sweepId: input.sweepId, report: report as RecordedReportInput };
  const key = sweepRecordKey(input.sweepId);
  await store.put(key, `${JSON.stringify(record, null, 1)}\n`, { contentType: 'application/json' });
  return key;
}

export async function readSweepRecord(store: ArtifactStore, sweepId: string): Promise<SweepRecord> {
  const key = sweepRecordKey(sweepId);
  if (!(await store.exists(key))) throw new SweepRecordNotFoundError(sweepId, store.description);
  const record = await store.getJson<SweepRecord>(key);
  if (record?.version !== SWEEP_RECORD_VERSION || record.sweepId !== sweepId || !record.report?.evaluationContext) {
    throw new BadInputError(`sweep record ${key} is not a version-${SWEEP_RECORD_VERSION} record of sweep ${sweepId} with an evaluation context`);
  }
  return record;
}

/** Every re-evaluation of a sweep, oldest first. */
export async function readHistory(store: ArtifactStore, sweepId: string): Promise<HistoryEntry[]> {
  const objects = (await store.list(historyPrefix(sweepId))).filter((o) => o.key.endsWith('.json'));
  const entries: Array<{ key: string; entry: HistoryEntry }> = [];
  for (const object of objects) entries.push({ key: object.key, entry: await store.getJson<HistoryEntry>(object.key) });
  entries.sort((a, b) => (a.entry.at < b.entry.at ? -1 : a.entry.at > b.entry.at ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return entries.map((e) => e.entry);
}

/** The history as `ReportInput.history` takes it (exactly the fields the report draws). */
export function historyPoints(entries: readonly HistoryEntry[]): HistoryPoint[] {
  return entries.map((e) => ({ at: e.at, testManifestKey: e.testManifestKey, cells: e.cells.map((c) => ({ cellId: c.cellId, overallAccuracy: c.overallAccuracy })) }));
}

/** Write one re-evaluation; the same entry again (a retried attempt) writes the same key and bytes. */
export async function writeHistoryEntry(store: ArtifactStore, sweepId: string, entry: HistoryEntry): Promise<string> {
  const key = historyKey(sweepId, entry.at, entry.runId);
  await store.put(key, `${JSON.stringify(entry, null, 1)}\n`, { contentType: 'application/json' });
  return key;
}

/**
 * The test set of a re-evaluation: the sweep's own, or the manifest at `override.key` (pinned to the
 * sha256 of its bytes now, when none is given). A given manifest must hold only the sweep's classes
 * at its classifiers' image size.
 */
export async function resolveTestManifest(
  store: ArtifactStore,
  record: SweepRecord,
  override?: { key: string; sha256?: string },
): Promise<ManifestRef> {
  const { test, arch } = record.report.evaluationContext;
  if (!override) return test;
  if (typeof override.key !== 'string' || override.key.length === 0) throw new BadInputError('test manifest: the key is empty');
  if (!(await store.exists(override.key))) {
    throw new BadInputError(`test manifest ${override.key} is not in ${store.description}`);
  }
  const ref: ManifestRef = { key: override.key, sha256: override.sha256 ?? sha256Hex(await store.get(override.key)) };
  const manifest = await readManifest(store, ref);
  const known = new Set(record.report.classes);
  const unknown = manifest.classes.filter((c) => !known.has(c));
  if (unknown.length > 0) {
    throw new BadInputError(`test manifest ${override.key} has classes the sweep ${record.sweepId} was not trained on: ${unknown.join(', ')}`);
  }
  if (manifest.imageSize !== arch.imageSize) {
    throw new BadInputError(`test manifest ${override.key} holds ${manifest.imageSize}px images; the classifiers of sweep ${record.sweepId} take ${arch.imageSize}px`);
  }
  if (manifest.items.length === 0) throw new BadInputError(`test manifest ${override.key} has no images`);
  return ref;
}
