/**
 * The product, end to end: the whole experiment graph (tiny preset: 3 sources, 3 p values,
 * 2 init modes, only-original arm, FID, report) on a real Temporal dev server, real workers,
 * a real artifact store and real engine processes. Then the same sweep again: nothing is
 * recomputed (memoization, counted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { loadConfig } from '../lib/config/load.js';
import { createLocalStore } from '../lib/store/local.js';
import type { ArtifactStore } from '../lib/store/types.js';
import { connectClient, connectWorker } from '../lib/temporal/connection.js';
import { createWorker } from '../workers/create.js';
import { startTemporalDevServer, type DevServer } from '../infra/temporal-dev-server.js';
import { sweep } from '../workflows/index.js';
import { enumerateCells, resolveSweepConfig } from '../lib/sweep/config.js';
import type { SynthmixConfig } from '../temporal.config.js';

let tmp: string;
let server: DevServer;
let config: SynthmixConfig;
let client: Client;
let store: ArtifactStore;
let workers: Worker[];
let running: Promise<void>[];

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-sweep-'));
  server = await startTemporalDevServer({ dbFile: path.join(tmp, 'temporal.sqlite') });
  config = loadConfig({
    env: {},
    overrides: {
      stateDir: path.join(tmp, 'state'),
      temporal: { mode: 'external', address: server.address },
      queues: { cpu: 'sweep-cpu', gpu: 'sweep-gpu' },
      storage: { kind: 'local', dir: path.join(tmp, 'store') },
      // One single-threaded engine per core, as `npm run demo` runs on a CPU-only machine.
      engine: { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work'), threads: 1 },
      workers: { gpuConcurrency: 2, shutdownGraceSeconds: 1 },
    },
  });
  store = createLocalStore(path.join(tmp, 'store'));
  const connection = await connectWorker(config);
  workers = [
    await createWorker({ config, connection, store, queue: 'cpu' }),
    await createWorker({ config, connection, store, queue: 'gpu' }),
  ];
  running = workers.map((w) => w.run());
  client = await connectClient(config);
});

afterAll(async () => {
  for (const worker of workers ?? []) if (worker.getState() === 'RUNNING') worker.shutdown();
  await Promise.allSettled(running ?? []);
  await client?.connection.close();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the sweep workflow', () => {
  const sweepConfig = resolveSweepConfig('tiny');
  const cells = enumerateCells(sweepConfig);

  it('runs the whole graph and writes a report whose numbers equal the stored evaluations', async () => {
    // 2 modes × (3 p × 3 sources + only-original at p < 1).
    expect(cells.length).toBe(2 * (3 * 3 + 2));
    const result = await client.workflow.execute(sweep, {
      taskQueue: config.queues.cpu,
      workflowId: 'sweep-tiny-1',
      args: [{ sweepId: 'sweep-tiny-1', config: sweepConfig, queues: config.queues }],
    });
    console.log(`tiny sweep stages:\n${result.stages.map((s) => `  ${s.stage.padEnd(12)} ${(s.wallMs / 1000).toFixed(1)} s wall, ${(s.activityMs / 1000).toFixed(1)} s in ${s.activities} activities`).join('\n')}`);
    expect(result.cells).toMatchObject({ total: cells.length, done: cells.length, failed: 0, computed: cells.length });
    for (const name of ['index.html', 'results.csv', 'results.json', 'fid.csv', 'samples.png']) {
      expect(result.report.files.some((key) => key.endsWith(`/${name}`)), name).toBe(true);
    }
    const stages = result.stages.map((s) => s.stage);
    expect(stages).toEqual(expect.arrayContaining(['curate', 'pretrain', 'generate', 'fid', 'experiments']));

    // The report's numbers are the evaluations in the store, cell by cell.
    const reported = await store.getJson<{ cells: Array<{ cellId?: string; id?: string; overallAccuracy: number | null }> }>(
      result.report.files.find((k) => k.endsWith('/results.json')) as string,
    );
    const reportedCells = reported.cells;
    expect(reportedCells.length).toBe(cells.length);
    const evaluations = (await store.list('steps/evaluate/')).filter((o) => o.key.endsWith('/evaluation.json'));
    const storedAccuracies = new Set<number>();
    for (const object of evaluations) storedAccuracies.add((await store.getJson<{ overallAccuracy: number }>(object.key)).overallAccuracy);
    for (const cell of reportedCells) expect(storedAccuracies.has(cell.overallAccuracy as number)).toBe(true);
    // Chance is 0.1 for 10 classes; trained classifiers are not all at chance.
    expect(Math.max(...reportedCells.map((c) => c.overallAccuracy as number))).toBeGreaterThan(0.1);
  }, 1_200_000);

  it('recomputes nothing when the finished sweep is run again', async () => {
    const result = await client.workflow.execute(sweep, {
      taskQueue: config.queues.cpu,
      workflowId: 'sweep-tiny-2',
      args: [{ sweepId: 'sweep-tiny-2', config: sweepConfig, queues: config.queues }],
    });
    expect(result.cells).toMatchObject({ total: cells.length, done: cells.length, computed: 0 });
    for (const stage of result.stages) expect(stage.computed, stage.stage).toBe(0);
  }, 600_000);
});
