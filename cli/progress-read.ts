/**
 * One frame of a sweep for `status`, `watch` and the demo's ticker: the sweep's progress query, and
 * the heartbeat details of the activities in flight, read with `describe()` (answered by the server,
 * no worker replays anything). Per frame: one describe of the sweep (status, its own activities:
 * curate, pretrain, fid), one per running cell (at most MAX_DESCRIBED_CELLS), a progress query
 * per running page child (a few: cells of a large sweep, and per source in the generate stage) and a
 * describe of at most MAX_DESCRIBED_CLASSES running classes — never a call per class or cell of a
 * large sweep.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { mapLimit } from '../lib/concurrency.js';
import { progressQuery, type GenerateProgress } from '../workflows/sweep.js';
import { pageProgressQuery, type PageProgress } from '../workflows/fan-out.js';
import { classImagesWorkflowId } from '../workflows/class-images.js';
import { generateCounts, withCellPages, type GenerateObserved, type PendingActivity, type SweepSnapshot } from './sweep-progress.js';

/** Running classes described per frame (over all sources): enough to see images move, cheap at any size. */
export const MAX_DESCRIBED_CLASSES = 32;
/** Running cells of page children described per frame (a large sweep runs `concurrency` cells at once). */
export const MAX_DESCRIBED_CELLS = 64;
/** Describes / queries in flight at once. */
const CALLS_AT_ONCE = 8;

/** What the engine runner and `loopBeat` put in a heartbeat (lib/engine/events.ts EngineHeartbeat, lib/heartbeat.ts). */
const heartbeatSchema = z.object({
  progress: z.object({ stage: z.string(), step: z.number(), total: z.number() }).partial().optional(),
  loop: z.object({ phase: z.string(), done: z.number(), total: z.number().optional() }).optional(),
});

function heartbeatOf(data: Uint8Array | null | undefined): z.infer<typeof heartbeatSchema> {
  if (!data) return {};
  try {
    const parsed = heartbeatSchema.safeParse(JSON.parse(Buffer.from(data).toString('utf8')));
    return parsed.success ? parsed.data : {};
  } catch {
    // not JSON (another payload converter): no progress to show
    return {};
  }
}

interface Described {
  status: string;
  activities: PendingActivity[];
}

/** A workflow's status and its activities in flight (throws when it does not exist). */
async function describe(client: Client, workflowId: string): Promise<Described> {
  const d = await client.workflow.getHandle(workflowId).describe();
  const activities = (d.raw.pendingActivities ?? []).map((pending): PendingActivity => {
    const beat = heartbeatOf(pending.heartbeatDetails?.payloads?.[0]?.data);
    return {
      activity: pending.activityType?.name ?? '?',
      ...(beat.progress ?? {}),
      ...(beat.loop ? { loop: beat.loop } : {}),
      ...(pending.attempt ? { attempt: pending.attempt } : {}),
    };
  });
  return { status: d.status.name, activities };
}

/** As `describe`, undefined for a child that finished and went, or has not started yet. */
const describePending = (client: Client, workflowId: string): Promise<Described | undefined> => describe(client, workflowId).catch(() => undefined);

/** The progress of running page children (a page that just returned is left out: its parent counts it). */
async function queryPages(client: Client, workflowIds: string[]): Promise<PageProgress[]> {
  const pages = await mapLimit(workflowIds, CALLS_AT_ONCE, (pageId) =>
    client.workflow
      .getHandle(pageId)
      .query(pageProgressQuery)
      .catch(() => undefined),
  );
  return pages.filter((p): p is PageProgress => p !== undefined);
}

/** The running pages' progress and a bounded sample of their running classes, per source. */
async function observeGenerate(client: Client, sweepId: string, g: GenerateProgress): Promise<GenerateObserved[]> {
  const found = await Promise.all(g.sources.map((s) => queryPages(client, s.runningPages)));
  // The running classes to describe, over all sources, up to the cap.
  const wanted = found.flatMap((list, i) => list.flatMap((p) => p.running.map((className) => ({ source: i, className })))).slice(0, MAX_DESCRIBED_CLASSES);
  const described = await mapLimit(wanted, CALLS_AT_ONCE, (w) => describePending(client, classImagesWorkflowId(sweepId, g.sources[w.source].source, w.className, g.sources[w.source].seed)));
  return found.map((list, i) => ({
    pages: list,
    classes: wanted.flatMap((w, k) => (w.source === i ? [described[k]?.activities[0]] : [])),
  }));
}

/** One frame of sweep `id` (a sweep that is not running: its status only). */
export async function readSnapshot(client: Client, id: string): Promise<SweepSnapshot> {
  const own = await describe(client, id);
  const snapshot: SweepSnapshot = { id, status: own.status, activities: [], cells: new Map() };
  if (own.status !== 'RUNNING') return snapshot;
  // Between runs of a continued sweep the query may fail: the frame has the status only.
  const queried = await client.workflow
    .getHandle(id)
    .query(progressQuery)
    .catch(() => undefined);
  if (!queried) return snapshot;
  const progress = withCellPages(queried, await queryPages(client, queried.cells.runningPages ?? []));
  snapshot.progress = progress;
  snapshot.activities = own.activities;
  const described = progress.cells.running.slice(0, MAX_DESCRIBED_CELLS);
  const cells = await mapLimit(described, CALLS_AT_ONCE, (cellId) => describePending(client, `${id}/${cellId}`));
  described.forEach((cellId, i) => {
    const a = cells[i]?.activities[0];
    if (a) snapshot.cells.set(cellId, a);
  });
  if (progress.generate) snapshot.generate = generateCounts(progress.generate, await observeGenerate(client, id, progress.generate));
  return snapshot;
}
