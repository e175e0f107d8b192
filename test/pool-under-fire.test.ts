/**
 * A pool under fire (issue 16, point 8), on real parts: 2 cpu and 2 gpu `synthmix worker` processes
 * on one Temporal dev server and one SeaweedFS, two tiny sweeps at once sharing the store (same
 * data, base models, images and FID; scratch cells in one, frozen in the other), worker processes
 * SIGKILLed at seeded random moments and restarted (test/support/pool-under-fire.ts). Then:
 *  - both sweeps complete, every cell done;
 *  - every cell's numbers (accuracies, per class, best epoch, the bytes of its weights and its
 *    predictions) and the FID table equal those of an undisturbed sweep over the same cells;
 *  - no killed worker left a process behind (checked after each kill, bounded wait: the helper throws);
 *  - the second sweep computed none of the steps it shares with the first.
 * The bench (`bench/pool-under-fire.ts`) runs a longer version: N kills, M workers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSeaweedFS, type S3Server } from '../infra/seaweedfs.js';
import { enumerateCells } from '../lib/sweep/cells.js';
import { DATA_STAGES, mergedNumbers, poolSweepConfigs, runPoolUnderFire, type PoolRun } from './support/pool-under-fire.js';

let s3: S3Server;
const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
const KILLS = 3;

beforeAll(async () => {
  s3 = await startSeaweedFS({ bucket: 'pool-test' });
  // Workers (in-process and child processes) take the S3 credentials from the default chain.
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
});

afterAll(async () => {
  await s3?.stop();
  process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
  process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
});

describe('a pool of worker processes under fire', () => {
  it('two sweeps sharing the store survive SIGKILLed workers with the numbers of an undisturbed run', async () => {
    const configs = poolSweepConfigs('ci');
    const cells = { first: enumerateCells(configs.first).length, second: enumerateCells(configs.second).length };
    // Kills every 4–10 s from the first sweep's pretrain stage on: all three land while the sweeps
    // run (their engine stages alone outlast that on any CPU). Seed 1 picks gpu, cpu, gpu workers;
    // a gpu victim is killed once an engine step runs on it.
    const run: PoolRun = await runPoolUnderFire({
      s3,
      seed: 1,
      kills: KILLS,
      cpuWorkers: 2,
      gpuWorkers: 2,
      gapSeconds: [4, 10],
      restartDelayMs: 1000,
      size: 'ci',
      log: (line) => console.log(`[pool] ${line}`),
    });
    console.log(
      `[pool] figures: ${run.kills.length} kills survived (${run.kills.filter((k) => k.queue === 'gpu').length} gpu, ${run.kills.filter((k) => k.engines > 0).length} with an engine step running), ` +
        `${run.restarts} restarts, under fire ${(run.wallMs / 1000).toFixed(1)} s, undisturbed reference ${(run.reference.wallMs / 1000).toFixed(1)} s`,
    );

    // Every kill was dealt while a sweep ran, and each worker's processes died with it (else runPoolUnderFire threw).
    expect(run.kills.length).toBe(KILLS);
    expect(run.restarts).toBe(KILLS);
    for (const kill of run.kills) expect(kill.orphansGoneMs).toBeLessThanOrEqual(30_000);
    expect(run.kills.map((k) => k.queue)).toEqual(['gpu', 'cpu', 'gpu']);
    // At least one kill took a running engine step (and its forkserver) down with its worker.
    expect(run.kills.some((k) => k.engines > 0 && k.descendants > k.engines)).toBe(true);

    // Both complete, every cell done.
    expect(run.first.result.cells).toMatchObject({ total: cells.first, done: cells.first, failed: 0 });
    expect(run.second.result.cells).toMatchObject({ total: cells.second, done: cells.second, failed: 0 });

    // Exactly the numbers of the undisturbed run, cell by cell, down to the weights' bytes.
    const together = mergedNumbers(run.first.numbers, run.second.numbers);
    expect(together.cells.map((c) => c.cellId)).toEqual(run.reference.numbers.cells.map((c) => c.cellId));
    expect(together.cells.every((c) => c.status === 'done' && c.weightsSha256 !== null && c.weightsSha256 !== 'missing')).toBe(true);
    expect(together).toEqual(run.reference.numbers);
    expect(run.second.numbers.fid).toEqual(run.first.numbers.fid);

    // The second sweep asked for every shared step and computed none: the first's results were reused.
    expect(run.secondDataStages.map((s) => s.stage)).toEqual(DATA_STAGES.filter((s) => run.first.result.stages.some((t) => t.stage === s)));
    for (const stage of run.secondDataStages) {
      expect(stage.activities, stage.stage).toBeGreaterThan(0);
      expect(stage.computed, stage.stage).toBe(0);
    }
    // ...while the first computed them (and both computed their own cells).
    expect(run.first.result.stages.filter((s) => (DATA_STAGES as readonly string[]).includes(s.stage)).every((s) => s.computed > 0)).toBe(true);
    expect(run.first.result.cells.computed).toBe(cells.first);
    expect(run.second.result.cells.computed).toBe(cells.second);
  }, 1_200_000);
});
