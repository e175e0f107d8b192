/**
 * `schedule create|list|delete`: nightly re-evaluation of a finished sweep as a Temporal Schedule.
 * Each action starts the `reevaluate` workflow (workflows/reevaluate.ts) on the cpu queue; it
 * evaluates the sweep's stored best models on its test set (or `--test-manifest`), appends the
 * accuracies to the sweep's history and renders its report again.
 *
 * Policies are explicit: overlap SKIP (a re-evaluation still running makes the next one skip), and
 * a catch-up window (default 1 day: after an outage, a missed run is still taken if it is at most
 * that late; older ones are dropped).
 */
import type { Command } from 'commander';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { msToNumber } from '@temporalio/common/lib/time.js';
import type { SynthmixConfig } from '../temporal.config.js';
import { BadInputError } from '../lib/errors.js';
import { readSweepRecord, resolveTestManifest, SweepRecordNotFoundError } from '../lib/report/record.js';
import { connectClient } from '../lib/temporal/connection.js';
import { createStore } from '../lib/store/index.js';
import type { ArtifactStore } from '../lib/store/types.js';
import type { Queues } from '../lib/temporal/queues.js';
import { reevaluate } from '../workflows/index.js';
import type { ReevaluateInput } from '../workflows/reevaluate.js';
import { UsageError } from './usage.js';

/** Memo that marks a schedule as a synthmix re-evaluation (what `schedule list` shows, `delete` accepts). */
export const SCHEDULE_KIND = 'synthmix-reevaluate';
export const DEFAULT_CATCHUP_WINDOW = '1 day';

export interface ScheduleMemo {
  kind: typeof SCHEDULE_KIND;
  sweepId: string;
  cron: string;
  timezone: string;
  testManifest?: string;
  catchupWindow: string;
}

export interface ScheduleCreateOptions {
  sweepId: string;
  cron: string;
  /** Store key of a test manifest to evaluate on instead of the sweep's own (read afresh at every run). */
  testManifest?: string;
  /** Default `synthmix-reeval-<sweepId>`. */
  scheduleId?: string;
  /** ms-style duration (`1 day`, `6h`); default 1 day. */
  catchupWindow?: string;
  /** IANA time zone of the cron expression; default UTC. */
  timezone?: string;
  /** Create it even when the sweep has no record yet (its runs fail until the sweep has finished). */
  pending?: boolean;
}

export interface ScheduleRow {
  scheduleId: string;
  sweepId: string;
  cron: string;
  timezone: string;
  testManifest?: string;
  paused: boolean;
  nextRun?: Date;
  lastRun?: Date;
  actionsTaken: number;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const CRON_FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, any: true },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0, any: true },
] as const;
const SHORTHANDS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

function cronFieldProblem(text: string, field: (typeof CRON_FIELDS)[number]): string | undefined {
  const value = (token: string): number | undefined => {
    if (/^\d+$/.test(token)) return Number(token);
    const names: readonly string[] | undefined = 'names' in field ? field.names : undefined;
    const index = names?.indexOf(token.toUpperCase()) ?? -1;
    return index >= 0 && 'nameBase' in field ? index + field.nameBase : undefined;
  };
  for (const part of text.split(',')) {
    const [range, step, ...extra] = part.split('/');
    if (extra.length > 0 || range === '') return `"${part}" is not a value, range or step`;
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `step "/${step}" must be a positive integer`;
    if (range === '*' || (range === '?' && 'any' in field)) continue;
    const bounds = range.split('-');
    if (bounds.length > 2) return `"${range}" is not a value or a range`;
    const numbers = bounds.map(value);
    for (const [i, n] of numbers.entries()) {
      if (n === undefined) return `"${bounds[i]}" is not a number${'names' in field ? ' or a name' : ''}`;
      if (n < field.min || n > field.max) return `${n} is outside ${field.min}-${field.max}`;
    }
    if (numbers.length === 2 && (numbers[0] as number) > (numbers[1] as number)) return `range "${range}" runs backwards`;
  }
  return undefined;
}

/** A 5-field cron expression (minute hour day-of-month month day-of-week) or a shorthand; UsageError naming what is wrong. */
export function validateCron(expression: unknown): string {
  if (typeof expression !== 'string' || expression.trim() === '') throw new UsageError('--cron is empty: give e.g. "0 3 * * *" (03:00 every day)');
  const cron = expression.trim().replace(/\s+/g, ' ');
  if (SHORTHANDS.includes(cron.toLowerCase())) return cron.toLowerCase();
  if (/^@every \d+[smhd](\/\d+[smhd])?$/.test(cron)) return cron;
  if (/^(CRON_)?TZ=/.test(cron)) throw new UsageError(`--cron "${cron}": give the time zone with --timezone instead of a TZ= prefix`);
  const fields = cron.split(' ');
  if (fields.length !== 5) {
    throw new UsageError(
      `--cron "${cron}" has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected 5 (minute hour day-of-month month day-of-week), ` +
        `e.g. "0 3 * * *", or one of ${SHORTHANDS.join(' ')} or "@every 12h"`,
    );
  }
  for (const [i, field] of CRON_FIELDS.entries()) {
    const problem = cronFieldProblem(fields[i], field);
    if (problem) throw new UsageError(`--cron "${cron}": ${field.name} field "${fields[i]}": ${problem}`);
  }
  return cron;
}

export function validateSweepId(sweepId: unknown): string {
  if (typeof sweepId !== 'string' || !SAFE_ID.test(sweepId)) {
    throw new UsageError(`--sweep must be a sweep id (letters, digits, . _ -, as printed by \`synthmix sweep\`), got ${JSON.stringify(sweepId)}`);
  }
  return sweepId;
}

function validateScheduleId(scheduleId: unknown, what: string): string {
  if (typeof scheduleId !== 'string' || !SAFE_ID.test(scheduleId)) {
    throw new UsageError(`${what} must be a schedule id (letters, digits, . _ -), got ${JSON.stringify(scheduleId)}`);
  }
  return scheduleId;
}

function validateCatchupWindow(window: string): string {
  let ms: number;
  try {
    ms = msToNumber(window as Parameters<typeof msToNumber>[0]);
  } catch {
    throw new UsageError(`--catchup-window "${window}" is not a duration (e.g. "1 day", "6h", "30m")`);
  }
  if (!(ms >= 10_000)) throw new UsageError(`--catchup-window "${window}" must be at least 10 seconds`);
  return window;
}

function validateTimezone(timezone: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    throw new UsageError(`--timezone "${timezone}" is not an IANA time zone (e.g. UTC, Europe/Paris, America/New_York)`);
  }
  return timezone;
}

function isScheduleMemo(memo: Record<string, unknown> | undefined): memo is Record<string, unknown> & ScheduleMemo {
  return memo?.kind === SCHEDULE_KIND && typeof memo.sweepId === 'string';
}

/**
 * Create the schedule; returns its id and next run times. Checks, before creating anything, that the
 * sweep has a record in the store (unless `pending`) and that a given test manifest suits it.
 */
export async function createReevaluationSchedule(
  deps: { client: Client; store: ArtifactStore; queues: Queues },
  options: ScheduleCreateOptions,
): Promise<{ scheduleId: string; nextRuns: Date[] }> {
  const sweepId = validateSweepId(options.sweepId);
  const cron = validateCron(options.cron);
  const scheduleId = validateScheduleId(options.scheduleId ?? `synthmix-reeval-${sweepId}`, '--id');
  const catchupWindow = validateCatchupWindow(options.catchupWindow ?? DEFAULT_CATCHUP_WINDOW);
  const timezone = validateTimezone(options.timezone ?? 'UTC');
  if (options.testManifest !== undefined && options.testManifest.trim() === '') throw new UsageError('--test-manifest is empty: give a store key');

  try {
    const record = await readSweepRecord(deps.store, sweepId);
    if (options.testManifest !== undefined) await resolveTestManifest(deps.store, record, { key: options.testManifest });
  } catch (error) {
    if (error instanceof SweepRecordNotFoundError) {
      if (!options.pending) throw new UsageError(`${error.message}; pass --pending to schedule it anyway`);
    } else if (error instanceof BadInputError) {
      throw new UsageError(error.message);
    } else {
      throw error;
    }
  }

  const args: ReevaluateInput = { sweepId, queues: deps.queues, ...(options.testManifest !== undefined ? { testManifest: { key: options.testManifest } } : {}) };
  const memo: ScheduleMemo = { kind: SCHEDULE_KIND, sweepId, cron, timezone, catchupWindow, ...(options.testManifest !== undefined ? { testManifest: options.testManifest } : {}) };
  try {
    const handle = await deps.client.schedule.create({
      scheduleId,
      spec: { cronExpressions: [cron], timezone },
      action: { type: 'startWorkflow', workflowType: reevaluate, args: [args], taskQueue: deps.queues.cpu, workflowId: `${scheduleId}-run` },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow, pauseOnFailure: false },
      memo: { ...memo },
    });
    const description = await handle.describe();
    return { scheduleId, nextRuns: description.info.nextActionTimes };
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) {
      throw new UsageError(`schedule ${scheduleId} already exists: delete it first (\`synthmix schedule delete ${scheduleId}\`) or pass another --id`);
    }
    // The server's verdict on a spec our checks let through (e.g. an unknown time zone).
    if (error instanceof TypeError) throw new UsageError(`the Temporal server rejected the schedule: ${error.message}`);
    throw error;
  }
}

/** The synthmix re-evaluation schedules of the namespace, sorted by id (listing is eventually consistent). */
export async function listReevaluationSchedules(client: Client): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for await (const summary of client.schedule.list()) {
    if (!isScheduleMemo(summary.memo)) continue;
    // The listing may lag; describe() has the current state and next run times.
    let description;
    try {
      description = await client.schedule.getHandle(summary.scheduleId).describe();
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) continue; // deleted since it was listed
      throw error;
    }
    const memo = isScheduleMemo(description.memo) ? description.memo : summary.memo;
    const recent = description.info.recentActions;
    rows.push({
      scheduleId: summary.scheduleId,
      sweepId: memo.sweepId,
      cron: memo.cron,
      timezone: memo.timezone,
      ...(memo.testManifest ? { testManifest: memo.testManifest } : {}),
      paused: description.state.paused,
      ...(description.info.nextActionTimes[0] ? { nextRun: description.info.nextActionTimes[0] } : {}),
      ...(recent.length > 0 ? { lastRun: recent[recent.length - 1].takenAt } : {}),
      actionsTaken: description.info.numActionsTaken,
    });
  }
  return rows.sort((a, b) => (a.scheduleId < b.scheduleId ? -1 : a.scheduleId > b.scheduleId ? 1 : 0));
}

export function formatScheduleRows(rows: readonly ScheduleRow[]): string {
  if (rows.length === 0) return 'no re-evaluation schedules';
  const table = [
    ['SCHEDULE', 'SWEEP', 'CRON', 'NEXT RUN', 'LAST RUN', 'RUNS', 'TEST SET'],
    ...rows.map((r) => [
      r.scheduleId,
      r.sweepId,
      `${r.cron}${r.timezone === 'UTC' ? '' : ` (${r.timezone})`}`,
      r.paused ? 'paused' : (r.nextRun?.toISOString() ?? '-'),
      r.lastRun?.toISOString() ?? '-',
      String(r.actionsTaken),
      r.testManifest ?? "the sweep's",
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** Delete a synthmix re-evaluation schedule (UsageError for an unknown id or a schedule that is not one). */
export async function deleteReevaluationSchedule(client: Client, scheduleId: string): Promise<void> {
  validateScheduleId(scheduleId, 'the schedule id');
  const handle = client.schedule.getHandle(scheduleId);
  try {
    const description = await handle.describe();
    if (!isScheduleMemo(description.memo)) throw new UsageError(`schedule ${scheduleId} is not a synthmix re-evaluation schedule: not deleted`);
    await handle.delete();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) throw new UsageError(`no schedule ${scheduleId} (see \`synthmix schedule list\`)`);
    throw error;
  }
}

export function registerScheduleCommands(program: Command, config: () => SynthmixConfig): void {
  const schedule = program.command('schedule').description('Nightly re-evaluation of a finished sweep (Temporal Schedules): create, list, delete.');

  schedule
    .command('create')
    .description("Re-evaluate a sweep's stored best models on a cron schedule and append the results to its report history.")
    .requiredOption('--sweep <id>', 'the sweep id')
    .requiredOption('--cron <expr>', 'when, as 5-field cron: minute hour day-of-month month day-of-week (e.g. "0 3 * * *")')
    .option('--test-manifest <key>', "store key of a test manifest to evaluate on instead of the sweep's test set (read afresh at every run)")
    .option('--id <scheduleId>', 'schedule id (default synthmix-reeval-<sweep>)')
    .option('--timezone <tz>', 'IANA time zone of the cron expression', 'UTC')
    .option('--catchup-window <duration>', 'after an outage, still take a missed run at most this late', DEFAULT_CATCHUP_WINDOW)
    .option('--pending', 'create it even if the sweep has not finished yet (its runs fail until it has)', false)
    .action(async (options: { sweep: string; cron: string; testManifest?: string; id?: string; timezone: string; catchupWindow: string; pending: boolean }) => {
      // Check the arguments before connecting anywhere.
      validateSweepId(options.sweep);
      validateCron(options.cron);
      const cfg = config();
      const client = await connectClient(cfg);
      try {
        const created = await createReevaluationSchedule(
          { client, store: createStore(cfg.storage), queues: cfg.queues },
          {
            sweepId: options.sweep,
            cron: options.cron,
            timezone: options.timezone,
            catchupWindow: options.catchupWindow,
            pending: options.pending,
            ...(options.testManifest !== undefined ? { testManifest: options.testManifest } : {}),
            ...(options.id !== undefined ? { scheduleId: options.id } : {}),
          },
        );
        console.log(created.scheduleId);
        if (created.nextRuns[0]) console.log(`next run: ${created.nextRuns[0].toISOString()}`);
      } finally {
        await client.connection.close();
      }
    });

  schedule
    .command('list')
    .description('The re-evaluation schedules: id, sweep, cron, next and last run.')
    .action(async () => {
      const client = await connectClient(config());
      try {
        console.log(formatScheduleRows(await listReevaluationSchedules(client)));
      } finally {
        await client.connection.close();
      }
    });

  schedule
    .command('delete <scheduleId>')
    .description('Delete a re-evaluation schedule (the history it appended stays).')
    .action(async (scheduleId: string) => {
      const client = await connectClient(config());
      try {
        await deleteReevaluationSchedule(client, scheduleId);
        console.log(`deleted schedule ${scheduleId}`);
      } finally {
        await client.connection.close();
      }
    });
}
