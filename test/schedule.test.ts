/**
 * Nightly re-evaluation (issue 7.4) on real parts: a Temporal dev server, real cpu and gpu workers,
 * the local artifact store and real engine processes. A small but real finished sweep is built
 * cheaply (the tiny demo world curated, two real `experiment` cells trained and evaluated, the
 * report writer storing the sweep record), then the CLI's schedule functions create, list, trigger
 * and delete a Temporal Schedule whose runs append to the sweep's history.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import type { ArtifactStore } from '../lib/store/types.js';
import type { DevServer } from '../infra/temporal-dev-server.js';
import { startTestWorld, type TestWorld } from './support/world.js';
import { experiment, reevaluate } from '../workflows/index.js';
import type { ReevaluateResult } from '../workflows/reevaluate.js';
import type { Cell } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { writeDemoWorld } from '../lib/data/demo-world.js';
import { curate, type CurateResult } from '../activities/curate.js';
import { classifierArch } from '../lib/sweep/base-model-inputs.js';
import { experimentInput } from '../lib/sweep/experiment-input.js';
import { writeReport } from '../activities/report.js';
import type { CellOutcome } from '../lib/report/types.js';
import { historyPrefix, readHistory, sweepRecordKey } from '../lib/report/record.js';
import {
  createReevaluationSchedule,
  deleteReevaluationSchedule,
  formatScheduleRows,
  listReevaluationSchedules,
  type ScheduleRow,
} from '../cli/schedule-commands.js';
import { UsageError } from '../cli/usage.js';
import type { SynthmixConfig } from '../temporal.config.js';
import { envWithoutSynthmix } from './support/clean-env.js';

const SWEEP_ID = 'sched-sweep';
// 03:00 on Feb 29: years away, so only triggers run it.
const FAR_CRON = '0 3 29 2 *';

let tmp: string;
let server: DevServer;
let config: SynthmixConfig;
let client: Client;
let store: ArtifactStore;
let testWorld: TestWorld;
let curated: CurateResult;
let outcomes: CellOutcome[];

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Trigger the schedule and wait for the re-evaluation it started. */
async function triggerAndWait(scheduleId: string): Promise<ReevaluateResult> {
  const handle = client.schedule.getHandle(scheduleId);
  const recent = (await handle.describe()).info.recentActions;
  const seen = new Set(recent.map((a) => a.action.workflow.workflowId));
  // A started run's workflow id ends in its start time to the second: one trigger per second.
  const last = recent.at(-1)?.takenAt.getTime();
  if (last !== undefined && Math.floor(Date.now() / 1000) <= Math.floor(last / 1000)) await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
  await handle.trigger();
  const action = await waitFor('the triggered run', async () => {
    const description = await handle.describe();
    return description.info.recentActions.find((a) => !seen.has(a.action.workflow.workflowId));
  });
  return client.workflow.getHandle<typeof reevaluate>(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId).result();
}

async function listed(): Promise<ScheduleRow[]> {
  return listReevaluationSchedules(client);
}

/** The real `synthmix` command, configured by environment variables like a user's shell (async: the workers share this process). */
function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = envWithoutSynthmix();
  Object.assign(env, {
    SYNTHMIX_STATE_DIR: path.join(tmp, 'state'),
    SYNTHMIX_TEMPORAL_MODE: 'external',
    SYNTHMIX_TEMPORAL_ADDRESS: server.address,
    SYNTHMIX_QUEUE_CPU: config.queues.cpu,
    SYNTHMIX_QUEUE_GPU: config.queues.gpu,
    SYNTHMIX_STORE: 'local',
    SYNTHMIX_STORE_DIR: path.join(tmp, 'store'),
  });
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.resolve('cli/synthmix.ts'), ...args], { env, timeout: 120_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

function historyCsvRows(csv: string): string[][] {
  return csv.trim().split(/\r?\n/).slice(1).map((line) => line.split(','));
}

beforeAll(async () => {
  testWorld = await startTestWorld({ name: 'sched', workers: ['cpu', 'gpu'] });
  ({ tmp, server, config, client, store } = testWorld);

  // A real finished sweep, small: the tiny demo world, two only-original scratch cells, the report.
  const sweepConfig = resolveSweepConfig('tiny', { name: 'sched' });
  const world = await writeDemoWorld(path.join(tmp, 'world'), { preset: 'tiny', seed: 0 });
  curated = await curate(
    { source: { kind: 'local', path: world.roots.train }, testSource: { kind: 'local', path: world.roots.test }, perClass: 12, testPerClass: 8, seed: 0, imageSize: 32 },
    { store },
  );
  const arch = classifierArch(sweepConfig, curated.classes.length);
  const cellConfig = { ...sweepConfig, train: { ...sweepConfig.train, epochs: { scratch: 1, finetune: 1, frozen: 1 } } };
  const data = { classes: curated.classes, original: curated.trainManifest, test: curated.testManifest, pretrainedKey: '', arch };
  const cells: Cell[] = [0, 1].map((seed) => ({ id: `original-p0-scratch-s${seed}`, arm: 'only-original', source: 'original', p: 0, mode: 'scratch', seed }));
  const startedAt = new Date().toISOString();
  outcomes = await Promise.all(
    cells.map((cell) =>
      client.workflow.execute(experiment, {
        taskQueue: config.queues.cpu,
        workflowId: `${SWEEP_ID}/${cell.id}`,
        args: [experimentInput(cellConfig, cell, data, { queues: config.queues })],
      }),
    ),
  );
  await writeReport(store, {
    sweepId: SWEEP_ID,
    config: sweepConfig,
    classes: curated.classes,
    cells: outcomes,
    fid: [],
    samples: { classes: curated.classes, columns: ['original'], images: {} },
    stages: [],
    codeVersion: 'test',
    backends: { classifier: 'resnet18 (PyTorch engine)' },
    startedAt,
    finishedAt: new Date().toISOString(),
    evaluationContext: { test: curated.testManifest, arch },
  });
}, 600_000);

afterAll(() => testWorld?.stop());

describe('nightly re-evaluation schedule', () => {
  it('the report step stored the sweep record (cells with their best weights, test set, arch)', async () => {
    expect(outcomes.map((o) => o.status)).toEqual(['done', 'done']);
    const record = await store.getJson<{ report: { cells: CellOutcome[]; evaluationContext: { test: { key: string } } } }>(sweepRecordKey(SWEEP_ID));
    expect(record.report.cells.map((c) => c.train?.weightsKey)).toEqual(outcomes.map((o) => o.train?.weightsKey));
    expect(record.report.evaluationContext.test.key).toBe(curated.testManifest.key);
    // The report folder is still exactly one report, without history yet.
    const reportFiles = (await store.list(`reports/${SWEEP_ID}/`)).map((o) => o.key);
    expect(reportFiles).toContain(`reports/${SWEEP_ID}/index.html`);
    expect(reportFiles).not.toContain(`reports/${SWEEP_ID}/history.csv`);
  });

  it('re-evaluating a sweep with no record fails with a clear, non-retryable error', async () => {
    const error = await client.workflow
      .execute(reevaluate, { taskQueue: config.queues.cpu, workflowId: 'reeval-missing', args: [{ sweepId: 'no-such-sweep', queues: config.queues }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const activity = (error as WorkflowFailedError).cause;
    expect(activity).toBeInstanceOf(ActivityFailure);
    const cause = (activity as ActivityFailure).cause as ApplicationFailure;
    expect(cause.type).toBe('NotFound');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toContain('sweep no-such-sweep has no record');
    expect((activity as ActivityFailure).activityType).toBe('loadSweepRecord');

    // The CLI refuses to schedule it (exit 2), and says how to anyway.
    await expect(createReevaluationSchedule({ client, store, queues: config.queues }, { sweepId: 'no-such-sweep', cron: FAR_CRON })).rejects.toMatchObject({
      name: 'UsageError',
      message: expect.stringContaining('--pending'),
    });
  });

  it('rejects bad arguments with usage errors before creating anything', async () => {
    const deps = { client, store, queues: config.queues };
    const bad = [
      { sweepId: SWEEP_ID, cron: '0 3 * *' }, // 4 fields
      { sweepId: SWEEP_ID, cron: '61 3 * * *' },
      { sweepId: SWEEP_ID, cron: '0 3 * * FUNDAY' },
      { sweepId: '../etc', cron: FAR_CRON },
      { sweepId: SWEEP_ID, cron: FAR_CRON, catchupWindow: 'soon' },
      { sweepId: SWEEP_ID, cron: FAR_CRON, timezone: 'Mars/Olympus' },
      { sweepId: SWEEP_ID, cron: FAR_CRON, testManifest: 'datasets/none/manifest.json' },
    ];
    for (const options of bad) await expect(createReevaluationSchedule(deps, options), JSON.stringify(options)).rejects.toBeInstanceOf(UsageError);
    expect((await listed()).length).toBe(0);
  });

  it('create, list, trigger (twice) and delete: each run appends the same accuracies to the history', async () => {
    const deps = { client, store, queues: config.queues };
    const created = await createReevaluationSchedule(deps, { sweepId: SWEEP_ID, cron: FAR_CRON });
    expect(created.scheduleId).toBe(`synthmix-reeval-${SWEEP_ID}`);
    expect(created.nextRuns[0].getTime()).toBeGreaterThan(Date.now());
    await expect(createReevaluationSchedule(deps, { sweepId: SWEEP_ID, cron: FAR_CRON })).rejects.toThrow(/already exists/);

    // Policies as asked: overlap SKIP, an explicit catch-up window.
    const description = await client.schedule.getHandle(created.scheduleId).describe();
    expect(description.policies.overlap).toBe('SKIP');
    expect(description.policies.catchupWindow).toBe(24 * 3600 * 1000);
    expect(description.action.taskQueue).toBe(config.queues.cpu);

    const rows = await waitFor('the schedule in the list', async () => {
      const r = await listed();
      return r.some((row) => row.scheduleId === created.scheduleId) ? r : undefined;
    });
    const row = rows.find((r) => r.scheduleId === created.scheduleId) as ScheduleRow;
    expect(row).toMatchObject({ sweepId: SWEEP_ID, cron: FAR_CRON, timezone: 'UTC', paused: false, actionsTaken: 0 });
    expect(row.nextRun?.getTime()).toBe(created.nextRuns[0].getTime());
    expect(formatScheduleRows(rows)).toMatch(new RegExp(`${created.scheduleId}\\s+${SWEEP_ID}\\s+0 3 29 2 \\*`));

    // First run: the same weights on the same test set give the sweep's own numbers.
    const first = await triggerAndWait(created.scheduleId);
    expect(first.entry.testManifestKey).toBe(curated.testManifest.key);
    expect(first.entry.failed).toEqual([]);
    expect(first.entry.cells.map((c) => [c.cellId, c.overallAccuracy])).toEqual(outcomes.map((o) => [o.cell.id, o.evaluation?.overallAccuracy]));
    expect(first.historyEntries).toBe(1);
    let history = await readHistory(store, SWEEP_ID);
    expect(history).toHaveLength(1);
    expect(history[0]).toEqual(first.entry);
    let csv = (await store.get(`reports/${SWEEP_ID}/history.csv`)).toString('utf8');
    expect(historyCsvRows(csv)).toEqual(first.entry.cells.map((c) => [first.entry.at, curated.testManifest.key, c.cellId, String(c.overallAccuracy)]));
    expect((await store.get(`reports/${SWEEP_ID}/index.html`)).toString('utf8')).toContain('id="history"');

    // Second run: one more entry, at a later time.
    const second = await triggerAndWait(created.scheduleId);
    expect(second.historyEntries).toBe(2);
    expect(second.entry.at > first.entry.at).toBe(true);
    expect(second.entry.cells).toEqual(first.entry.cells);
    history = await readHistory(store, SWEEP_ID);
    expect(history.map((e) => e.at)).toEqual([first.entry.at, second.entry.at]);
    expect((await store.list(historyPrefix(SWEEP_ID))).length).toBe(2);
    csv = (await store.get(`reports/${SWEEP_ID}/history.csv`)).toString('utf8');
    expect(historyCsvRows(csv)).toHaveLength(2 * outcomes.length);

    await deleteReevaluationSchedule(client, created.scheduleId);
    await waitFor('the schedule to leave the list', async () => ((await listed()).some((r) => r.scheduleId === created.scheduleId) ? undefined : true));
    await expect(deleteReevaluationSchedule(client, created.scheduleId)).rejects.toThrow(/no schedule/);
    // The history stays.
    expect(await readHistory(store, SWEEP_ID)).toHaveLength(2);
  });

  it('re-evaluates on a newly given test manifest: evaluated afresh by the engine', async () => {
    // The sweep's test images under a new key: a new test set as far as the store knows.
    const newKey = 'datasets/retest/manifest.json';
    await store.put(newKey, await store.get(curated.testManifest.key));
    const created = await createReevaluationSchedule(
      { client, store, queues: config.queues },
      { sweepId: SWEEP_ID, cron: FAR_CRON, testManifest: newKey, scheduleId: 'retest-nightly', catchupWindow: '6h' },
    );
    expect((await client.schedule.getHandle(created.scheduleId).describe()).policies.catchupWindow).toBe(6 * 3600 * 1000);
    const run = await triggerAndWait(created.scheduleId);
    expect(run.entry.testManifestKey).toBe(newKey);
    // Not the stored evaluations of the sweep (a fresh engine run), yet the same numbers: same images, same weights.
    const originalKeys = new Set(outcomes.map((o) => o.evaluation?.evaluationKey));
    for (const cell of run.entry.cells) expect(originalKeys.has(cell.evaluationKey)).toBe(false);
    expect(run.entry.cells.map((c) => c.overallAccuracy)).toEqual(outcomes.map((o) => o.evaluation?.overallAccuracy));
    expect(await readHistory(store, SWEEP_ID)).toHaveLength(3);
    await deleteReevaluationSchedule(client, created.scheduleId);
  });

  it('the synthmix command: schedule create / list / delete, with exit codes', async () => {
    const badCron = await runCli(['schedule', 'create', '--sweep', SWEEP_ID, '--cron', '0 3 * *']);
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toContain('expected 5 (minute hour day-of-month month day-of-week)');

    const created = await runCli(['schedule', 'create', '--sweep', SWEEP_ID, '--cron', FAR_CRON, '--id', 'cli-nightly']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.split('\n')[0]).toBe('cli-nightly');
    expect(created.stdout).toMatch(/next run: \d{4}-02-29T03:00:00\.000Z/);

    await waitFor('the schedule in the list', async () => ((await listed()).some((r) => r.scheduleId === 'cli-nightly') ? true : undefined));
    const list = await runCli(['schedule', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^SCHEDULE\s+SWEEP\s+CRON\s+NEXT RUN/);
    expect(list.stdout).toMatch(new RegExp(`cli-nightly\\s+${SWEEP_ID}\\s+0 3 29 2 \\*\\s+\\d{4}-02-29T03:00:00\\.000Z`));

    const deleted = await runCli(['schedule', 'delete', 'cli-nightly']);
    expect(deleted.code, deleted.stderr).toBe(0);
    const again = await runCli(['schedule', 'delete', 'cli-nightly']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no schedule cli-nightly');
  });
});
