/**
 * A sweep far larger than the paper's, through every stage shape of the real sweep, on the real dev
 * server: 1,500 classes × 2 sources of per-class generation children (in page children, one of
 * which must hand over with `continueAsNew`), cells in page children that each return per-class
 * results (kept in the store, not in the pages' outcomes), and a join that reads the stored pages
 * back as the report step does. Every unit is one trivial cpu activity.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { trivialSweep } from '../workflows/index.js';
import { startTestWorld, type TestWorld } from './support/world.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startTestWorld({ name: 'trivial', workers: ['cpu'], overrides: () => ({ workers: { cpuConcurrency: 32 } }) });
});
afterAll(() => world?.stop());

/** The largest payload in a workflow's history (every run of it), in bytes. */
async function largestPayload(client: Client, workflowId: string): Promise<number> {
  let largest = 0;
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    for (const event of history.events ?? []) {
      const walk = (value: unknown): void => {
        if (value instanceof Uint8Array) largest = Math.max(largest, value.length);
        else if (value && typeof value === 'object') for (const v of Object.values(value)) walk(v);
      };
      walk(event);
    }
  }
  return largest;
}

it('1,500 classes × 2 sources and 20 cells run through paged fan-outs; large values travel as store references', async () => {
  const { client, config } = world;
  const classes = 1500;
  const result = await client.workflow.execute(trivialSweep, {
    taskQueue: config.queues.cpu,
    workflowId: 'trivial-1500',
    // Pages of 1,000 classes, 600 per run: those pages hand over with `continueAsNew` (as on Temporal's suggestion).
    args: [{ queues: config.queues, classes, sources: 2, cells: 20, concurrency: 20, classesPerPage: 1000, cellsPerPage: 16, itemsPerPageRun: 600 }],
  });
  expect(result.generation.children).toBe(2 * classes);
  expect(result.join.classesPerSource).toEqual({ 'source-0': classes, 'source-1': classes });
  expect(result).toMatchObject({ cells: 20, done: 20, distinct: 20 });
  // Each cell's per-class results were read back from the store, all of them.
  expect(result.join.perClassEntries).toBe(20 * classes);
  // 2 sources × 2 generation pages + 2 cell pages; the 1,000-class pages handed over at least once each.
  expect(result.pageRuns).toBeGreaterThanOrEqual(2 * 2 + 2 + 2);
  const handedOver = [];
  for (const source of ['source-0', 'source-1']) {
    for await (const execution of client.workflow.list({ query: `WorkflowId = 'trivial-1500/generate/${source}/page-0'` })) handedOver.push(execution.runId);
  }
  expect(handedOver.length).toBeGreaterThanOrEqual(4);
  // The sweep's own history holds references and tallies only: 3,000 manifests and 30,000 per-class results never pass through it.
  const largest = await largestPayload(client, 'trivial-1500');
  console.log(`largest payload in the sweep's history: ${largest} bytes`);
  expect(largest).toBeLessThan(64 * 1024);
}, 1_800_000);
