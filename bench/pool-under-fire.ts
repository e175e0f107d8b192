/**
 * A pool under fire, longer than CI's (test/pool-under-fire.test.ts): M worker processes (half cpu,
 * half gpu, at least one of each) on one Temporal dev server and one SeaweedFS, two tiny sweeps at
 * once sharing the store, N SIGKILLs of seeded random workers at seeded random moments, each
 * restarted. Prints what it survived: kills (gpu ones, ones that hit a running engine step),
 * restarts, wall time beside the undisturbed reference's (same process, so the ratio holds on a
 * busy machine), whether every number equals the undisturbed run's, and what the second sweep reused.
 *
 *   npx tsx bench/pool-under-fire.ts [--kills 8] [--workers 4] [--seed 1] [--size full|ci] [--gap 5-15]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSeaweedFS } from '../infra/seaweedfs.js';
import { buildWorkflowBundle, WORKFLOW_BUNDLE_ENV } from '../workers/bundle.js';
import { mergedNumbers, runPoolUnderFire, sameNumbers, type PoolOptions } from '../test/support/pool-under-fire.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const kills = Number(arg('kills', '8'));
const workers = Number(arg('workers', '4'));
const seed = Number(arg('seed', '1'));
const size = arg('size', 'full');
const [gapMin, gapMax] = arg('gap', '5-15').split('-').map(Number);
if (!Number.isInteger(kills) || kills < 0 || !Number.isInteger(workers) || workers < 2 || (size !== 'full' && size !== 'ci') || !(gapMin > 0 && gapMax > gapMin)) {
  console.error('usage: npx tsx bench/pool-under-fire.ts [--kills N>=0] [--workers M>=2] [--seed S] [--size full|ci] [--gap MIN-MAX seconds]');
  process.exit(2);
}
const cpuWorkers = Math.max(1, Math.floor(workers / 2));
const gpuWorkers = workers - cpuWorkers;

// Every worker process loads one bundle of the workflow code (as the tests do: test/global-setup.ts),
// instead of each running webpack again.
const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'synthmix-bench-bundle-'));
const bundleFile = path.join(bundleDir, 'workflow-bundle.js');
writeFileSync(bundleFile, (await buildWorkflowBundle()).code);
process.env[WORKFLOW_BUNDLE_ENV] = bundleFile;

const s3 = await startSeaweedFS({ bucket: 'bench-pool' });
process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
const options: PoolOptions = {
  s3,
  seed,
  kills,
  cpuWorkers,
  gpuWorkers,
  gapSeconds: [gapMin, gapMax],
  restartDelayMs: 1000,
  size,
  log: (line) => console.log(`  ${line}`),
};
try {
  console.log(`pool under fire: ${cpuWorkers} cpu + ${gpuWorkers} gpu workers, ${kills} kills every ${gapMin}–${gapMax} s (seed ${seed}), size ${size}`);
  const run = await runPoolUnderFire(options);
  const together = mergedNumbers(run.first.numbers, run.second.numbers);
  const identical = sameNumbers(together, run.reference.numbers);
  const reusedStages = run.secondDataStages.filter((s) => s.computed === 0).length;
  const cells = run.first.result.cells.total + run.second.result.cells.total;
  const done = run.first.result.cells.done + run.second.result.cells.done;
  console.log(
    `survived ${run.kills.length}/${kills} kills (${run.kills.filter((k) => k.queue === 'gpu').length} gpu, ` +
      `${run.kills.filter((k) => k.engines > 0).length} mid engine step; no process outlived its worker, slowest to die ${Math.max(0, ...run.kills.map((k) => k.orphansGoneMs))} ms), ${run.restarts} restarts`,
  );
  console.log(`  cells done ${done}/${cells}; identical numbers to the undisturbed run: ${identical ? 'yes' : 'NO'} (${together.cells.length} cells, ${together.fid.length} FID rows)`);
  console.log(`  second sweep: ${reusedStages}/${run.secondDataStages.length} shared stages computed nothing (${run.secondDataStages.map((s) => `${s.stage} ${s.computed}/${s.activities}`).join(', ')})`);
  console.log(
    `  wall: under fire ${(run.wallMs / 1000).toFixed(1)} s (two sweeps), undisturbed reference ${(run.reference.wallMs / 1000).toFixed(1)} s (one sweep over both's cells, in-process workers): ` +
      `${(run.wallMs / run.reference.wallMs).toFixed(2)}×`,
  );
  process.exitCode = identical && done === cells ? 0 : 1;
} finally {
  await s3.stop();
  rmSync(bundleDir, { recursive: true, force: true });
}
