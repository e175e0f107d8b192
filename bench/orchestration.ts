/**
 * Orchestration cost of a large sweep: `trivialSweep` runs N cells (one child workflow each, one
 * trivial cpu activity inside) through the sweep's own hierarchical fan-out (pages of 500 cells as
 * child workflows, each bounded and handing over with `continueAsNew`; workflows/fan-out.ts), on the
 * real dev server with one in-process cpu worker. Overhead = wall time − the activity time on the
 * critical path (Σ activity time / concurrency, the lanes being busy end to end).
 * Run: npx tsx bench/orchestration.ts [cells=10000] [concurrency=50] [classes=0]
 */
import { startTestWorld } from '../test/support/world.js';
import { trivialSweep } from '../workflows/index.js';

const cells = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 50);
const classes = Number(process.argv[4] ?? 0);
// The same world the tests use: a dev server and a cpu worker in a temp folder.
const world = await startTestWorld({ name: 'bench-orchestration', workers: ['cpu'], overrides: () => ({ workers: { cpuConcurrency: Math.max(concurrency, 2) } }) });
const { client, config } = world;
const began = performance.now();
const result = await client.workflow.execute(trivialSweep, {
  taskQueue: config.queues.cpu,
  workflowId: 'trivial-sweep-bench',
  args: [{ queues: config.queues, cells, concurrency, classes }],
});
const wallMs = performance.now() - began;
const criticalMs = (result.activityMs + result.generation.activityMs) / concurrency;
const overheadMs = wallMs - criticalMs;
const units = result.cells + result.generation.children;
console.log(
  `trivial sweep: ${result.done}/${result.cells} cells${classes ? `, ${result.generation.children} generation children` : ''}, concurrency ${concurrency}; ` +
    `${result.runs} sweep run(s), ${result.pageRuns} page run(s); join read ${result.join.cells} outcomes back from the store`,
);
console.log(`  wall ${(wallMs / 1000).toFixed(1)} s, activity time on the critical path ${(criticalMs / 1000).toFixed(2)} s`);
console.log(`  per cell: ${(wallMs / units).toFixed(1)} ms wall, ${(overheadMs / units).toFixed(1)} ms orchestration (${((overheadMs * concurrency) / units).toFixed(0)} ms per cell per lane)`);
await world.stop();
