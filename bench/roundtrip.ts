/**
 * Orchestration overhead: the median round trip of a trivial cpu activity (`storeRoundTrip` on a
 * local store) inside a workflow on the real dev server, measured from the client.
 * Run: npx tsx bench/roundtrip.ts [count]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../lib/config/load.js';
import { createLocalStore } from '../lib/store/local.js';
import { connectClient, connectWorker } from '../lib/temporal/connection.js';
import { createWorker } from '../workers/create.js';
import { startTemporalDevServer } from '../infra/temporal-dev-server.js';
import { roundTrip } from '../workflows/index.js';

const count = Number(process.argv[2] ?? 100);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-bench-'));
const server = await startTemporalDevServer({ dbFile: path.join(tmp, 'temporal.sqlite') });
const config = loadConfig({
  env: {},
  overrides: { temporal: { mode: 'external', address: server.address }, storage: { kind: 'local', dir: path.join(tmp, 'store') } },
});
const connection = await connectWorker(config);
const worker = await createWorker({ config, connection, store: createLocalStore(path.join(tmp, 'store')), queue: 'cpu' });
const client = await connectClient(config);
const times: number[] = [];
await worker.runUntil(async () => {
  for (let i = 0; i < count; i += 1) {
    const began = performance.now();
    await client.workflow.execute(roundTrip, { taskQueue: config.queues.cpu, workflowId: `rt-${i}`, args: [config.queues, `x${i}`] });
    times.push(performance.now() - began);
  }
});
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
console.log(`workflow with one trivial cpu activity, ${count} runs: median ${at(0.5)} ms, p90 ${at(0.9)} ms, min ${at(0)} ms`);
await client.connection.close();
await connection.close();
await server.stop();
rmSync(tmp, { recursive: true, force: true });
