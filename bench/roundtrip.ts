/**
 * Where a trivial step's time goes on the dev server, with the dev server's own settings and with
 * ours (infra/temporal-dev-server.ts: SQLite WAL + synchronous=normal, no search-attribute cache
 * refresh per write, eager activity execution, the history queue readers' poll limits raised), in
 * the same process:
 *   (a) one activity's round trip inside a running workflow: N sequential trivial activities, wall / N;
 *   (b) a whole trivial workflow (one activity) from the client: start → result, median of M.
 * Each profile gets a fresh world (dev server + in-process cpu worker in a temp folder).
 * Run: npx tsx bench/roundtrip.ts [N=100] [M=40]
 */
import { startTestWorld, type TestWorldOptions } from '../test/support/world.js';
import { roundTrip, roundTrips } from '../workflows/index.js';

const sequential = Number(process.argv[2] ?? 100);
const workflows = Number(process.argv[3] ?? 40);

const profiles: Array<{ name: string; server: NonNullable<TestWorldOptions['server']> }> = [
  { name: 'dev-server defaults', server: { sqlitePragmas: {}, dynamicConfig: {} } },
  { name: 'synthmix settings', server: {} },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const figures: Array<{ name: string; a: number; aOverhead: number; b: number; bMin: number }> = [];
for (const profile of profiles) {
  const world = await startTestWorld({ name: 'bench-roundtrip', workers: ['cpu'], server: profile.server });
  const { client, config } = world;
  try {
    // Warm-up: the worker's first workflow task loads the bundle.
    await client.workflow.execute(roundTrips, { taskQueue: config.queues.cpu, workflowId: 'warm', args: [config.queues, 5] });
    const began = performance.now();
    const { activityMs } = await client.workflow.execute(roundTrips, { taskQueue: config.queues.cpu, workflowId: 'seq', args: [config.queues, sequential] });
    const wall = performance.now() - began;
    const times: number[] = [];
    for (let i = 0; i < workflows; i += 1) {
      const start = performance.now();
      await client.workflow.execute(roundTrip, { taskQueue: config.queues.cpu, workflowId: `rt-${i}`, args: [config.queues, `x${i}`] });
      times.push(performance.now() - start);
    }
    figures.push({ name: profile.name, a: wall / sequential, aOverhead: (wall - activityMs) / sequential, b: median(times), bMin: Math.min(...times) });
  } finally {
    await world.stop();
  }
}
for (const f of figures) {
  console.log(
    `${f.name.padEnd(20)} (a) activity in a workflow: ${f.a.toFixed(1)} ms/activity (${f.aOverhead.toFixed(1)} ms orchestration)   ` +
      `(b) whole workflow from the client: median ${f.b.toFixed(1)} ms, min ${f.bMin.toFixed(1)} ms`,
  );
}
const [before, after] = figures;
console.log(`speed-up: (a) ${(before.a / after.a).toFixed(1)}×, (b) ${(before.b / after.b).toFixed(1)}×  (targets on a quiet machine: (a) ≤ 20 ms, (b) ≤ 60 ms)`);
