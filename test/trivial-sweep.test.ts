/**
 * A sweep far larger than the paper's: 2,000 trivial cells (one child workflow each, one cpu
 * activity inside) through the sweep's own bounded fan-out, on the real dev server. The parent's
 * history would pass Temporal's suggested limit, so the fan-out must hand over with
 * `continueAsNew` and still finish every cell exactly once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { trivialSweep } from '../workflows/index.js';
import { startTestWorld, type TestWorld } from './support/world.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startTestWorld({ name: 'trivial', workers: ['cpu'], overrides: () => ({ workers: { cpuConcurrency: 32 } }) });
});
afterAll(() => world?.stop());

it('a sweep of 2,000 trivial cells completes, every cell once, across continueAsNew runs', async () => {
  const { client, config } = world;
  const handle = await client.workflow.start(trivialSweep, {
    taskQueue: config.queues.cpu,
    workflowId: 'trivial-2000',
    args: [{ queues: config.queues, cells: 2000, concurrency: 50 }],
  });
  const result = await handle.result();
  expect(result).toMatchObject({ cells: 2000, done: 2000, distinct: 2000 });
  // The history limit was really met: the work spans several runs of the workflow.
  expect(result.runs).toBeGreaterThan(1);
  const runs = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = 'trivial-2000'` })) runs.push(execution.runId);
  expect(runs.length).toBe(result.runs);
}, 900_000);
