/**
 * What `synthmix status` / `watch` and the demo's ticker show of one frame (a `SweepSnapshot`, read
 * by cli/progress-read.ts): the finished stages, then the current stage's own progress — pretrain
 * and fid: the step of each activity in flight; generate: images and fine-tunes done of their
 * totals with a rate and an ETA; experiments: the cell bar and each running cell's epoch. Pure.
 */
import type { GenerateProgress, SweepProgress } from '../workflows/sweep.js';
import type { PageProgress } from '../workflows/fan-out.js';

/** An activity in flight, from its heartbeat details (the engine runner's and `loopBeat`'s). */
export interface PendingActivity {
  activity: string;
  /** The engine's last progress event: its stage and step of total (an epoch, an image, a class). */
  stage?: string;
  step?: number;
  total?: number;
  /** A loop outside the engine (lib/heartbeat.ts): fetching images, hashing, storing features. */
  loop?: { phase: string; done: number; total?: number };
  attempt?: number;
}

/** The generate stage, counted over every source: what the sweep, its running pages and their running classes report. */
export interface GenerateCounts {
  images: { done: number; total: number };
  finetunes: { done: number; total: number };
  classes: { done: number; total: number; running: number };
}

/** One frame of a sweep, as `status --json` prints it (maps as plain objects there). */
export interface SweepSnapshot {
  id: string;
  /** Temporal's status name: RUNNING, COMPLETED, FAILED... */
  status: string;
  /** The sweep's progress query (running sweeps only). */
  progress?: SweepProgress;
  /** The sweep workflow's own activities in flight (curate, pretrain, fid). */
  activities: PendingActivity[];
  /** Running cell id → its activity in flight. */
  cells: Map<string, PendingActivity>;
  generate?: GenerateCounts;
}

/** What the reader found under the sweep's generate stage: per source (in `GenerateProgress.sources` order). */
export interface GenerateObserved {
  /** The running pages' own progress (a page that just returned is missing: the sweep counts it). */
  pages: PageProgress[];
  /** The running classes whose workflow was described this frame, with their activity in flight (none: between activities). */
  classes: Array<PendingActivity | undefined>;
}

/**
 * Images and fine-tunes done: whole classes (returned pages, then classes the running pages finished)
 * count `perClass` images each; a class in flight counts the images its generate attempt stored —
 * `perClass - (total - step)`, as a resumed attempt's total is only the images still missing — and
 * its fine-tune as done once it generates.
 */
export function generateCounts(g: GenerateProgress, observed: GenerateObserved[]): GenerateCounts {
  const counts: GenerateCounts = { images: { done: 0, total: 0 }, finetunes: { done: 0, total: 0 }, classes: { done: 0, total: 0, running: 0 } };
  g.sources.forEach((source, i) => {
    const seen = observed[i] ?? { pages: [], classes: [] };
    const classesDone = Math.min(source.classes, source.classesDone + seen.pages.reduce((n, p) => n + p.done, 0));
    const running = seen.pages.reduce((n, p) => n + p.running.length, 0);
    const generating = seen.classes.filter((a) => a?.activity === 'generate');
    const inFlight = generating.reduce((n, a) => n + (a?.stage === 'generate' && a.step !== undefined && a.total !== undefined ? clamp(g.perClass - (a.total - a.step), 0, g.perClass) : 0), 0);
    counts.classes.done += classesDone;
    counts.classes.total += source.classes;
    counts.classes.running += running;
    counts.images.done += classesDone * g.perClass + inFlight;
    counts.images.total += source.classes * g.perClass;
    if (source.finetunes) {
      counts.finetunes.done += classesDone + generating.length;
      counts.finetunes.total += source.classes;
    }
  });
  return counts;
}

/**
 * A large sweep's cells run in page children: the sweep counts a page's cells when the page returns.
 * The running pages' own progress adds the cells they finished and names those in flight.
 */
export function withCellPages(p: SweepProgress, pages: PageProgress[]): SweepProgress {
  if (pages.length === 0) return p;
  const failed = pages.reduce((n, page) => n + page.failed, 0);
  const done = pages.reduce((n, page) => n + page.done, 0) - failed;
  return { ...p, cells: { ...p.cells, done: p.cells.done + done, failed: p.cells.failed + failed, running: [...p.cells.running, ...pages.flatMap((page) => page.running)] } };
}

const clamp = (x: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, x));

function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

/** A bar, e.g. `[#######.......]`. */
export function bar(fraction: number, width = 30): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** Where an activity is: `train epoch 7/12`, `generate 40/100`, `fetch-images 3/8`. */
export function activityAt(a: PendingActivity): string {
  const parts: string[] = [];
  if (a.step !== undefined && a.total) parts.push(`${a.stage === 'train' && a.activity === 'train' ? 'epoch' : (a.stage ?? 'step')} ${a.step}/${a.total}`);
  if (a.loop) parts.push(`${a.loop.phase} ${a.loop.done}${a.loop.total !== undefined ? `/${a.loop.total}` : ''}`);
  return parts.join(', ');
}

/** Images per second over the stage so far and the time left at that rate (none before the first image). */
function rateAndEta(counts: GenerateCounts, inStageMs: number): { rate?: number; eta?: string } {
  const { done, total } = counts.images;
  if (done <= 0 || inStageMs <= 0) return {};
  const rate = done / (inStageMs / 1000);
  return { rate, eta: seconds(((total - done) / rate) * 1000) };
}

/** One line: the stage and its own counts (the demo's ticker and `watch` in a log). */
export function formatProgress(s: SweepSnapshot, now: number): string {
  const p = s.progress;
  if (!p) return s.status;
  const head = p.stage.padEnd(12);
  if (p.stage === 'experiments') {
    const { total, done, failed, running } = p.cells;
    return `${head} ${bar(total === 0 ? 1 : (done + failed) / total)} ${done + failed}/${total} cells (${failed} failed)${running.length ? `  running: ${running.join(', ')}` : ''}`;
  }
  if (p.stage === 'generate' && s.generate) {
    const g = s.generate;
    const { eta } = rateAndEta(g, now - p.stageStartedAt);
    const tunes = g.finetunes.total > 0 ? `, ${g.finetunes.done}/${g.finetunes.total} fine-tunes` : '';
    return `${head} ${bar(g.images.total === 0 ? 1 : g.images.done / g.images.total)} ${g.images.done}/${g.images.total} images${tunes}, ${g.classes.done}/${g.classes.total} classes${eta ? `, ETA ${eta}` : ''}`;
  }
  const at = s.activities.map((a) => `${a.activity}${activityAt(a) ? ` ${activityAt(a)}` : ''}`);
  return `${head} ${at.length ? at.join('; ') : 'starting'}`;
}

/** The full picture, one line per stage, per activity in flight and per running cell; `now` in ms (Date.now()). */
export function renderProgress(s: SweepSnapshot, now: number): string[] {
  const p = s.progress;
  if (!p) return [];
  const lines: string[] = [];
  for (const t of p.stages) {
    lines.push(`  ${t.stage.padEnd(13)} done     ${seconds(t.wallMs).padStart(7)}  (${t.activities} activities, ${t.computed} computed)`);
  }
  const inStage = now - p.stageStartedAt;
  const activityLine = (name: string, a: PendingActivity | undefined) => {
    const at = a?.step !== undefined && a.total ? ` ${bar(a.step / a.total, 12)}` : '';
    return `    ${name.padEnd(32)} ${a ? [a.activity, activityAt(a)].filter(Boolean).join(' ') : 'starting'}${at}`;
  };
  if (p.stage === 'experiments') {
    const { total, done, failed } = p.cells;
    const finished = done + failed;
    const fromCarried = p.stages.filter((t) => t.stage === 'experiments').length > 0;
    const eta = finished > 0 && !fromCarried ? `, ETA ${seconds((inStage / finished) * (total - finished))}` : '';
    lines.push(`  ${'experiments'.padEnd(13)} ${bar(total === 0 ? 1 : finished / total)} ${finished}/${total} cells, ${failed} failed, ${seconds(inStage)}${eta}`);
    for (const cellId of p.cells.running) lines.push(activityLine(cellId, s.cells.get(cellId)));
  } else if (p.stage === 'generate' && s.generate) {
    const g = s.generate;
    const { rate, eta } = rateAndEta(g, inStage);
    const speed = rate !== undefined ? `, ${rate.toFixed(rate < 10 ? 2 : 0)} images/s, ETA ${eta}` : '';
    lines.push(`  ${'generate'.padEnd(13)} ${bar(g.images.total === 0 ? 1 : g.images.done / g.images.total)} ${g.images.done}/${g.images.total} images, ${seconds(inStage)}${speed}`);
    const tunes = g.finetunes.total > 0 ? `${g.finetunes.done}/${g.finetunes.total} fine-tunes, ` : '';
    lines.push(`  ${''.padEnd(13)} ${tunes}${g.classes.done}/${g.classes.total} classes done, ${g.classes.running} running`);
  } else if (p.stage !== 'done') {
    lines.push(`  ${p.stage.padEnd(13)} running  ${seconds(inStage).padStart(7)}`);
    for (const a of s.activities) lines.push(activityLine(a.activity, a));
  }
  return lines;
}

/** `status --json`: the snapshot with its maps as objects, and the stage's counts (for scripts). */
export function snapshotJson(s: SweepSnapshot): Record<string, unknown> {
  return {
    id: s.id,
    status: s.status,
    ...(s.progress
      ? {
          stage: s.progress.stage,
          stageStartedAt: new Date(s.progress.stageStartedAt).toISOString(),
          stages: s.progress.stages,
          cells: { ...s.progress.cells, running: s.progress.cells.running.map((id) => ({ id, ...(s.cells.get(id) ?? {}) })) },
          activities: s.activities,
          ...(s.generate ? { generate: s.generate } : {}),
        }
      : {}),
  };
}
