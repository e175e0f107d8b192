/**
 * A sweep far larger than the paper's: 2,000 trivial cells (one child workflow each, one cpu
 * activity inside) through the sweep's own bounded fan-out, on the real dev server. The parent's
 * history would pass Temporal's suggested limit, so the fan-out must hand over with
 * `continueAsNew` and still finish every cell exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { loadConfig } from '../lib/config/load.js';
import { createLocalStore } from '../lib/store/local.js';
import { connectClient, connectWorker } from '../lib/temporal/connection.js';
import { createWorker } from '../workers/create.js';
import { startTemporalDevServer, type DevServer } from '../infra/temporal-dev-server.js';
import { trivialSweep } from '../workflows/index.js';
import type { SynthmixConfig } from '../temporal.config.js';

let tmp: string;
let server: DevServer;
let config: SynthmixConfig;
let client: Client;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-trivial-'));
  server = await startTemporalDevServer({ dbFile: path.join(tmp, 'temporal.sqlite') });
  config = loadConfig({
    env: {},
    overrides: {
      temporal: { mode: 'external', address: server.address },
      queues: { cpu: 'trivial-cpu', gpu: 'trivial-gpu' },
      storage: { kind: 'local', dir: path.join(tmp, 'store') },
      workers: { cpuConcurrency: 32, shutdownGraceSeconds: 1 },
    },
  });
  worker = await createWorker({ config, connection: await connectWorker(config), store: createLocalStore(path.join(tmp, 'store')), queue: 'cpu' });
  running = worker.run();
  client = await connectClient(config);
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await client?.connection.close();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

it('a sweep of 2,000 trivial cells completes, every cell once, across continueAsNew runs', async () => {
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
