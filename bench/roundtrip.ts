/**
 * Orchestration overhead: the median round trip of a trivial cpu activity (`storeRoundTrip` on a
 * local store) inside a workflow on the real dev server, measured from the client.
 * Run: npx tsx bench/roundtrip.ts [count]
 */
import { startTestWorld } from '../test/support/world.js';
import { roundTrip } from '../workflows/index.js';

const count = Number(process.argv[2] ?? 100);
// The same world the tests use: a dev server and a cpu worker in a temp folder.
const world = await startTestWorld({ name: 'bench-roundtrip', workers: ['cpu'] });
const { client, config } = world;
const times: number[] = [];
for (let i = 0; i < count; i += 1) {
  const began = performance.now();
  await client.workflow.execute(roundTrip, { taskQueue: config.queues.cpu, workflowId: `rt-${i}`, args: [config.queues, `x${i}`] });
  times.push(performance.now() - began);
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
console.log(`workflow with one trivial cpu activity, ${count} runs: median ${at(0.5)} ms, p90 ${at(0.9)} ms, min ${at(0)} ms`);
await world.stop();
