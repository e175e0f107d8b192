/**
 * Orchestration overhead of a large sweep: `trivialSweep` runs N child workflows (one trivial cpu
 * activity each) through the sweep's own bounded fan-out and `continueAsNew`, on the real dev
 * server with one in-process cpu worker. Overhead = wall time − the activity time on the critical
 * path (Σ activity time / concurrency, the lanes being busy end to end).
 * Run: npx tsx bench/orchestration.ts [cells=2000] [concurrency=50]
 */
import { startTestWorld } from '../test/support/world.js';
import { trivialSweep } from '../workflows/index.js';

const cells = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 50);
// The same world the tests use: a dev server and a cpu worker in a temp folder.
const world = await startTestWorld({ name: 'bench-orchestration', workers: ['cpu'] });
const { client, config } = world;
const began = performance.now();
const result = await client.workflow.execute(trivialSweep, {
  taskQueue: config.queues.cpu,
  workflowId: 'trivial-sweep-bench',
  args: [{ queues: config.queues, cells, concurrency }],
});
const wallMs = performance.now() - began;
const criticalMs = result.activityMs / concurrency;
const overheadMs = wallMs - criticalMs;
console.log(`trivial sweep: ${result.done}/${result.cells} cells, concurrency ${concurrency}, ${result.runs} runs (continueAsNew ${result.runs - 1}×)`);
console.log(`  wall ${(wallMs / 1000).toFixed(1)} s, activity time on the critical path ${(criticalMs / 1000).toFixed(2)} s`);
console.log(`  orchestration overhead ${(overheadMs / 1000).toFixed(1)} s = ${(overheadMs / result.cells).toFixed(1)} ms per cell (${((overheadMs * concurrency) / result.cells).toFixed(0)} ms per cell per lane)`);
await world.stop();
