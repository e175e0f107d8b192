/**
 * report: turn a finished sweep's summaries into the paper's figures and tables (Figs 3–7,
 * Table 1), an index.html and CSV/JSON of every number, written under `reports/<sweepId>/` in the
 * artifact store. Rendering is pure (lib/report/render.ts); this module fetches the sample images
 * and writes the files. Running it again for the same sweep replaces the report (files of an
 * earlier report that the new one lacks are deleted, so the folder is always one report).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ActivityDeps } from '../lib/deps.js';
import { BadInputError, CorruptObjectError, NotFoundError } from '../lib/errors.js';
import { mapLimit } from '../lib/concurrency.js';
import { renderReport, sampleKeys, type RenderedFile } from '../lib/report/render.js';
import type { ReportInput, ReportOutput } from '../lib/report/types.js';
import { assertSafePrefix, localPathForKey } from '../lib/store/index.js';
import type { ArtifactStore } from '../lib/store/types.js';
import { historyPoints, readHistory, saveSweepRecord } from '../lib/report/record.js';
import { fetchTestResults } from '../lib/report/evaluations.js';
import { resolveReportRequest, type ReportRequest } from '../lib/report/request.js';
import { resolveModels } from '../lib/report/models.js';
import { getValue } from '../lib/store/values.js';
import type { StoredPrompts } from '../lib/steps/prompts.js';
import { resolveBaselines } from '../lib/report/baselines.js';

export type { ReportInput, ReportOutput } from '../lib/report/types.js';

/** Where a sweep's report lives in the store. */
export function reportPrefix(sweepId: string): string {
  if (typeof sweepId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(sweepId)) {
    throw new BadInputError(`sweep id must be a safe name (letters, digits, . _ -), got ${JSON.stringify(sweepId)}`);
  }
  const prefix = `reports/${sweepId}`;
  assertSafePrefix(`${prefix}/`);
  return prefix;
}

/** Fetch the sample images; a missing or corrupt one is recorded (and drawn as a placeholder), a store outage throws. */
async function fetchSamples(store: ArtifactStore, input: ReportInput): Promise<{ images: Map<string, Buffer>; missing: Map<string, string> }> {
  const keys = sampleKeys(input);
  const images = new Map<string, Buffer>();
  const missing = new Map<string, string>();
  const fetched = await mapLimit(keys, 8, async (key) => {
    try {
      return { key, bytes: await store.get(key) };
    } catch (error) {
      if (error instanceof NotFoundError) return { key, problem: 'not in the store' };
      if (error instanceof CorruptObjectError) return { key, problem: `corrupt in the store (${error.message})` };
      if (error instanceof BadInputError) return { key, problem: `bad key (${error.message})` };
      throw error;
    }
  });
  for (const item of fetched) {
    if (item.bytes) images.set(item.key, item.bytes);
    else missing.set(item.key, item.problem ?? 'unavailable');
  }
  return { images, missing };
}

/**
 * Render the report of `input` and write it under `reports/<sweepId>/` (index.html last). With an
 * `evaluationContext`, first store the sweep record (`sweeps/<sweepId>/record.json`) that nightly
 * re-evaluations start from.
 */
export async function writeReport(store: ArtifactStore, input: ReportInput): Promise<ReportOutput> {
  const prefix = reportPrefix(input?.sweepId);
  await saveSweepRecord(store, input);
  const samples = await fetchSamples(store, input);
  // The models' sha256s are read now, from the store (the request carries their keys only).
  const models = await resolveModels(store, input);
  // The LLM's prompts travel by reference (they grow with the classes): read, checked against their sha256.
  const prompts = input.llmPrompts ? await getValue<StoredPrompts>(store, input.llmPrompts) : undefined;
  const baselines = await resolveBaselines(store, input);
  const files: RenderedFile[] = await renderReport(input, samples, await fetchTestResults(store, input), { models, ...(prompts ? { prompts } : {}), ...(baselines ? { baselines } : {}) });
  const keyOf = (name: string): string => `${prefix}/${name}`;
  const ordered = [...files.filter((f) => f.name !== 'index.html'), ...files.filter((f) => f.name === 'index.html')];
  for (const file of ordered) await store.put(keyOf(file.name), file.bytes, { contentType: file.contentType });
  const wanted = new Set(files.map((f) => keyOf(f.name)));
  for (const stale of await store.list(`${prefix}/`)) {
    if (!wanted.has(stale.key)) await store.delete(stale.key);
  }
  return { prefix, files: files.map((f) => keyOf(f.name)), htmlKey: keyOf('index.html') };
}

/**
 * Copy a stored report to a local folder (`synthmix report ID --out DIR`). Returns the local paths
 * written, sorted. Throws NotFoundError when the sweep has no report.
 */
export async function downloadReport(store: ArtifactStore, sweepId: string, outDir: string): Promise<string[]> {
  const prefix = reportPrefix(sweepId);
  const objects = await store.list(`${prefix}/`);
  if (objects.length === 0) throw new NotFoundError(`${prefix}/index.html`, `${store.description} (no report for sweep ${sweepId})`);
  const root = path.resolve(outDir);
  await mkdir(root, { recursive: true });
  const written: string[] = [];
  for (const object of objects) {
    const target = localPathForKey(root, object.key.slice(prefix.length + 1), object.key);
    await store.getToFile(object.key, target);
    written.push(target);
  }
  return written.sort();
}

/** The report activity, bound to its dependencies (registered by the cpu worker). */
export function createReportActivities({ store }: ActivityDeps) {
  return {
    async report(request: ReportRequest): Promise<ReportOutput> {
      // The sweep passes its cells by reference (their per-class results would not fit a payload).
      const input = await resolveReportRequest(store, request);
      // A sweep reported again keeps the re-evaluations already appended to its history.
      const history = input.history ?? historyPoints(await readHistory(store, input?.sweepId));
      return writeReport(store, history.length > 0 ? { ...input, history } : input);
    },
  };
}
