/**
 * The product, end to end: the whole experiment graph (tiny preset: 3 sources, 3 p values,
 * 2 init modes, the only-original arm, FID, report) on a real Temporal dev server, real workers,
 * a real S3 server (SeaweedFS) and real engine processes. Then:
 *  - the same sweep again recomputes nothing (memoization, counted);
 *  - a cell that fails permanently fails alone, and the report says why;
 *  - the recorded histories replay against the current workflow code (determinism);
 *  - with the trained steps wiped, the sweep runs again through a Temporal server kill + restart
 *    and an S3 outage, and ends with exactly the numbers of the undisturbed run;
 *  - cancelling a sweep cancels its running engine step (the process is gone).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../workers/bundle.js';
import { renderProgress } from '../cli/sweep-progress.js';
import { readSnapshot } from '../cli/progress-read.js';
import type { ArtifactStore } from '../lib/store/index.js';
import type { DevServer } from '../infra/temporal-dev-server.js';
import { startSeaweedFS, type S3Server } from '../infra/seaweedfs.js';
import { progressQuery, sweep } from '../workflows/index.js';
import type { SweepResult } from '../workflows/sweep.js';
import { startTestWorld, type TestWorld } from './support/world.js';
import { enumerateCells } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { DEMO_PRESET_CLASSES } from '../lib/data/demo-world.js';
import type { SynthmixConfig } from '../temporal.config.js';

let world: TestWorld;
let s3: S3Server;
let client: Client;
let store: ArtifactStore;
let server: DevServer;
let config: SynthmixConfig;
const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

beforeAll(async () => {
  s3 = await startSeaweedFS({ bucket: 'sweep-test' });
  // The S3 store takes credentials from the default chain, as in production.
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  world = await startTestWorld({
    name: 'sweep',
    workers: ['cpu', 'gpu'],
    overrides: () => ({
      storage: { kind: 's3', bucket: s3.bucket, prefix: 'synthmix', endpoint: s3.endpoint, region: s3.region },
      // One single-threaded engine per core, as `npm run demo` runs on a CPU-only machine.
      engine: { threads: 1 },
      workers: { gpuConcurrency: 2 },
    }),
  });
  ({ client, store, server, config } = world);
});

afterAll(async () => {
  await world?.stop();
  await s3?.stop();
  process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
  process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
});

/** What must not change between runs: every cell's numbers and the FID table. */
function numbers(result: SweepResult, reported: ReportedResults) {
  return {
    cells: reported.cells.map((c) => [c.cellId, c.status, c.overallAccuracy]).sort(),
    fid: reported.fid,
    done: result.cells.done,
  };
}

interface ReportedResults {
  cells: Array<{ cellId: string; status: string; overallAccuracy: number | null }>;
  fid: unknown;
}

async function reportedResults(result: SweepResult): Promise<ReportedResults> {
  const results = await store.getJson<{ cells: ReportedResults['cells'] }>(result.report.files.find((k) => k.endsWith('/results.json')) as string);
  const fid = await store.getJson<{ rows: unknown }>(result.report.files.find((k) => k.endsWith('/fid.json')) as string);
  return { cells: results.cells, fid: fid.rows };
}

function printStages(label: string, result: SweepResult): void {
  const lines = result.stages.map((s) => `  ${s.stage.padEnd(12)} ${(s.wallMs / 1000).toFixed(1)} s wall, ${(s.activityMs / 1000).toFixed(1)} s in ${s.activities} activities (${s.computed} computed)`);
  console.log(`${label}:\n${lines.join('\n')}`);
}

const STAGES = ['curate', 'curate-prior', 'pretrain', 'generate', 'fid', 'experiments'];

/** Wait until the sweep is in stage `wanted` or a later one (a short stage can pass between two polls). */
async function waitForStage(workflowId: string, wanted: string): Promise<string> {
  const handle = client.workflow.getHandle(workflowId);
  for (;;) {
    const progress = await handle.query(progressQuery).catch(() => undefined);
    if (progress && STAGES.indexOf(progress.stage) >= STAGES.indexOf(wanted)) return progress.stage;
    if (progress?.stage === 'done') throw new Error(`sweep ${workflowId} finished before stage ${wanted}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the sweep workflow', () => {
  const sweepConfig = resolveSweepConfig('tiny');
  const cells = enumerateCells(sweepConfig);
  let undisturbed: ReturnType<typeof numbers>;

  it('runs the whole graph and writes a report whose numbers equal the stored evaluations', async () => {
    // 2 modes × (3 p × 3 sources + only-original at p < 1).
    expect(cells.length).toBe(2 * (3 * 3 + 2));
    const result = await client.workflow.execute(sweep, {
      taskQueue: config.queues.cpu,
      workflowId: 'sweep-tiny-1',
      args: [{ sweepId: 'sweep-tiny-1', config: sweepConfig, queues: config.queues }],
    });
    printStages('tiny sweep, first run', result);
    expect(result.cells).toMatchObject({ total: cells.length, done: cells.length, failed: 0, computed: cells.length });
    for (const name of ['index.html', 'results.csv', 'results.json', 'fid.csv', 'fid.json', 'samples.png', 'accuracy-scratch.png', 'per-class-frozen.svg']) {
      expect(result.report.files.some((key) => key.endsWith(`/${name}`)), name).toBe(true);
    }
    const stages = result.stages.map((s) => s.stage);
    expect(stages).toEqual(STAGES);

    // The report's numbers are the evaluations in the store, cell by cell.
    const reported = await reportedResults(result);
    expect(reported.cells.length).toBe(cells.length);
    const evaluations = (await store.list('steps/evaluate/')).filter((o) => o.key.endsWith('/evaluation.json'));
    const storedAccuracies = new Set<number>();
    for (const object of evaluations) storedAccuracies.add((await store.getJson<{ overallAccuracy: number }>(object.key)).overallAccuracy);
    for (const cell of reported.cells) expect(storedAccuracies.has(cell.overallAccuracy as number), cell.cellId).toBe(true);
    // The science, with a margin no CPU's float kernels can flip: on originals alone (p = 0) the
    // tiny world's classifiers reach twice chance (chance = 1 / classes). Typical: 0.5–0.75.
    const chance = 1 / DEMO_PRESET_CLASSES[sweepConfig.dataset.demoPreset].length;
    const atP0 = reported.cells.filter((c) => c.cellId.includes('-p0-')).map((c) => c.overallAccuracy as number);
    console.log(`p = 0 accuracies (chance ${chance}): ${atP0.map((a) => a.toFixed(3)).join(' ')}`);
    expect(Math.max(...atP0)).toBeGreaterThanOrEqual(2 * chance);
    // Where those numbers were computed, as the real engines reported it: every cell on this machine.
    const html = (await store.get(result.report.files.find((k) => k.endsWith('/index.html')) as string)).toString('utf8');
    expect(html).toMatch(new RegExp(`computed on</th><td class="l">[^<]*torch kernels: [A-Z0-9]+; torch [^<]*CPU only — ${cells.length} cells`));
    undisturbed = numbers(result, reported);
  }, 1_200_000);

  it('recomputes nothing when the finished sweep is run again', async () => {
    const result = await client.workflow.execute(sweep, {
      taskQueue: config.queues.cpu,
      workflowId: 'sweep-tiny-2',
      args: [{ sweepId: 'sweep-tiny-2', config: sweepConfig, queues: config.queues }],
    });
    expect(result.cells).toMatchObject({ total: cells.length, done: cells.length, computed: 0 });
    for (const stage of result.stages) expect(stage.computed, stage.stage).toBe(0);
    expect(numbers(result, await reportedResults(result))).toEqual(undisturbed);
  }, 600_000);

  it('a cell that fails permanently fails alone: the sweep completes and its report says why', async () => {
    // Validation purely on originals is impossible where d_total has none: the mixed cells at p = 1.
    // Everything before the cells is memoized from the first run; the cells' mixes differ, so only
    // a slice of the grid runs (p 0.5 and 1, frozen): 3 impossible cells beside 4 that train.
    const strict = resolveSweepConfig('tiny', { mix: { realValidation: true, p: [0.5, 1] }, train: { modes: ['frozen'] } });
    const strictCells = enumerateCells(strict);
    const result = await client.workflow.execute(sweep, {
      taskQueue: config.queues.cpu,
      workflowId: 'sweep-tiny-strict',
      args: [{ sweepId: 'sweep-tiny-strict', config: strict, queues: config.queues }],
    });
    const impossible = strictCells.filter((c) => c.arm === 'mixed' && c.p === 1).map((c) => c.id).sort();
    expect(impossible.length).toBe(3);
    expect(result.cells).toMatchObject({ total: strictCells.length, done: strictCells.length - 3, failed: 3 });
    const reported = await store.getJson<{ cells: Array<{ cellId: string; status: string; error: string | null; overallAccuracy: number | null }> }>(
      result.report.files.find((k) => k.endsWith('/results.json')) as string,
    );
    const failed = reported.cells.filter((c) => c.status === 'failed');
    expect(failed.map((c) => c.cellId).sort()).toEqual(impossible);
    for (const cell of failed) expect(cell.error).toContain('realValidation needs enough originals');
    // Permanent means not retried: the failing mix ran once.
    const history = await client.workflow.getHandle(`sweep-tiny-strict/${impossible[0]}`).fetchHistory();
    const mixStarts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
    expect(mixStarts.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]);
    expect(reported.cells.filter((c) => c.status === 'done').every((c) => typeof c.overallAccuracy === 'number')).toBe(true);
  }, 600_000);

  it('replays the recorded histories of the sweep and its cells against the current workflow code', async () => {
    const ids = ['sweep-tiny-1', `sweep-tiny-1/${cells[0].id}`, `sweep-tiny-1/${cells[cells.length - 1].id}`];
    const histories = await Promise.all(ids.map((id) => client.workflow.getHandle(id).fetchHistory()));
    const bundle = await workflowBundle();
    for (const [i, history] of histories.entries()) {
      // Throws DeterminismViolationError if the code no longer produces the recorded commands.
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, ids[i]);
    }
    expect(histories.every((h) => (h.events?.length ?? 0) > 10)).toBe(true);
  }, 300_000);

  it('recomputes through a Temporal server restart and an S3 outage to the same numbers', async () => {
    // Wipe what the sweep trained, so the run below redoes the classifier pretrain (the tiny preset's
    // is shipped: uploaded again, engine/pretrained/) and recomputes every cell (mix, training,
    // evaluation). Fine-tunes, generated images and FID are kept (CI time); a worker killed
    // mid-generation is test/generate-resume.test.ts's.
    for (const prefix of ['steps/train/', 'steps/evaluate/', 'mix/']) {
      for (const object of await store.list(prefix)) await store.delete(object.key);
    }
    const workflowId = 'sweep-tiny-3';
    const handle = await client.workflow.start(sweep, {
      taskQueue: config.queues.cpu,
      workflowId,
      args: [{ sweepId: workflowId, config: sweepConfig, queues: config.queues, heartbeatTimeout: '20 seconds' }],
    });

    // The server dies while the cells train: activities in flight on the workers lose their server.
    console.log(`Temporal server killed in stage ${await waitForStage(workflowId, 'experiments')}`);
    await server.kill();
    await new Promise((r) => setTimeout(r, 2000));
    await server.restart();

    await waitForStage(workflowId, 'experiments');
    // What `synthmix status` shows now: the cell bar and the running cells' activities.
    const status = renderProgress(await readSnapshot(client, workflowId), Date.now());
    expect(status.some((line) => line.includes(`/${cells.length} cells`))).toBe(true);
    await s3.stop();
    await new Promise((r) => setTimeout(r, 8000));
    await s3.restart();

    const result = await handle.result();
    printStages('tiny sweep, disturbed run', result);
    expect(result.cells).toMatchObject({ total: cells.length, done: cells.length, failed: 0 });
    expect(result.cells.computed).toBeGreaterThan(0);
    expect(result.stages.find((s) => s.stage === 'pretrain')?.computed).toBeGreaterThan(0);
    expect(numbers(result, await reportedResults(result))).toEqual(undisturbed);
  }, 1_200_000);

  it('cancelling a sweep cancels its running engine step and leaves no engine process', async () => {
    // Another seed: nothing is memoized, so the sweep is soon pretraining in an engine.
    const seeded = resolveSweepConfig('tiny', { seeds: [7] });
    const handle = await client.workflow.start(sweep, {
      taskQueue: config.queues.cpu,
      workflowId: 'sweep-tiny-cancel',
      args: [{ sweepId: 'sweep-tiny-cancel', config: seeded, queues: config.queues }],
    });
    await waitForStage('sweep-tiny-cancel', 'pretrain');
    const engines = () => {
      try {
        // Only this test's engines (their spec lies under its work dir), not another program's on the machine.
        return execFileSync('pgrep', ['-f', `synthmix_engine (pretrain-generator|train-classifier) .*--spec ${config.engine.workDir}/`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    for (let i = 0; i < 600 && engines().length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(engines().length).toBeGreaterThan(0);
    await handle.cancel();
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    for (let i = 0; i < 300 && engines().length > 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(engines()).toEqual([]);
  }, 300_000);
});
