/**
 * What `synthmix status` and `watch` show: the sweep's stages, a bar for its cells with an ETA,
 * and for every running cell the step its engine is at (the epoch of a training), read from the
 * heartbeat details of the cell workflow's pending activity.
 */
import type { Client } from '@temporalio/client';
import type { SweepProgress } from '../workflows/sweep.js';

export interface CellActivity {
  activity: string;
  stage?: string;
  step?: number;
  total?: number;
}

/** The pending activity of each running cell (`<sweepId>/<cellId>` child workflows). */
export async function runningCellActivities(client: Client, sweepId: string, cellIds: string[]): Promise<Map<string, CellActivity>> {
  const found = new Map<string, CellActivity>();
  await Promise.all(
    cellIds.map(async (cellId) => {
      try {
        const description = await client.workflow.getHandle(`${sweepId}/${cellId}`).describe();
        const pending = description.raw.pendingActivities?.[0];
        if (!pending) return;
        const activity = pending.activityType?.name ?? '?';
        const payload = pending.heartbeatDetails?.payloads?.[0]?.data;
        const details = payload ? (JSON.parse(Buffer.from(payload).toString('utf8')) as { progress?: { stage?: string; step?: number; total?: number } }) : undefined;
        found.set(cellId, { activity, ...(details?.progress ?? {}) });
      } catch {
        // the cell finished between the query and the describe
      }
    }),
  );
  return found;
}

function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

/** A bar, e.g. `[#######.......]`. */
export function bar(fraction: number, width = 30): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** One line: stage, cell bar and counts (the demo's ticker). */
export function formatProgress(p: SweepProgress): string {
  const { total, done, failed, running } = p.cells;
  return `${p.stage.padEnd(12)} ${bar(total === 0 ? 1 : (done + failed) / total)} ${done + failed}/${total} cells (${failed} failed)${running.length ? `  running: ${running.join(', ')}` : ''}`;
}

/** The full picture, one line per stage and per running cell; `now` in ms (Date.now()). */
export function renderProgress(p: SweepProgress, cells: Map<string, CellActivity>, now: number): string[] {
  const lines: string[] = [];
  for (const s of p.stages) {
    lines.push(`  ${s.stage.padEnd(13)} done     ${seconds(s.wallMs).padStart(7)}  (${s.activities} activities, ${s.computed} computed)`);
  }
  const inStage = now - p.stageStartedAt;
  if (p.stage === 'experiments') {
    const { total, done, failed } = p.cells;
    const finished = done + failed;
    const fromCarried = p.stages.filter((s) => s.stage === 'experiments').length > 0;
    const eta = finished > 0 && !fromCarried ? `, ETA ${seconds((inStage / finished) * (total - finished))}` : '';
    lines.push(`  ${'experiments'.padEnd(13)} ${bar(total === 0 ? 1 : finished / total)} ${finished}/${total} cells, ${failed} failed, ${seconds(inStage)}${eta}`);
    for (const cellId of p.cells.running) {
      const a = cells.get(cellId);
      const at = a?.step !== undefined && a.total ? ` ${a.stage === 'train' ? 'epoch' : (a.stage ?? 'step')} ${a.step}/${a.total} ${bar(a.step / a.total, 12)}` : '';
      lines.push(`    ${cellId.padEnd(32)} ${a ? a.activity : 'starting'}${at}`);
    }
  } else if (p.stage !== 'done') {
    lines.push(`  ${p.stage.padEnd(13)} running  ${seconds(inStage).padStart(7)}`);
  }
  return lines;
}
