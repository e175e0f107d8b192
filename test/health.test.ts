/**
 * What a pool operator sees of a worker (README "Health"): `synthmix worker` processes started with
 * SYNTHMIX_METRICS_ADDRESS and SYNTHMIX_LOG_FORMAT=json, on a real dev server, run the smoke
 * workflow (a store round trip, the engine's `info`, a dummy training) and one whose engine step
 * fails permanently. Then the gpu worker's Prometheus endpoint has the SDK's `temporal_*` metrics
 * and synthmix's engine counters, and its log lines are JSON carrying sweep id, cell id, activity
 * and attempt (the workflow id names the sweep and the cell, as the sweep names its cells).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { freePorts } from '../infra/managed-process.js';
import { smoke } from '../workflows/index.js';
import { startTestWorld, type TestWorld } from './support/world.js';
import { WorkerProcesses, type WorkerProcess } from './support/worker-processes.js';

let world: TestWorld;
let processes: WorkerProcesses;
let gpu: WorkerProcess;
let gpuMetrics: string;

beforeAll(async () => {
  world = await startTestWorld({ name: 'health' });
  processes = new WorkerProcesses(world.configFile);
  const [cpuPort, gpuPort] = await freePorts(2);
  const json = { SYNTHMIX_LOG_FORMAT: 'json' };
  await processes.start('cpu', 'cpu', { ...json, SYNTHMIX_METRICS_ADDRESS: `127.0.0.1:${cpuPort}` });
  gpu = await processes.start('gpu', 'gpu', { ...json, SYNTHMIX_METRICS_ADDRESS: `127.0.0.1:${gpuPort}` });
  gpuMetrics = `http://127.0.0.1:${gpuPort}/metrics`;
}, 180_000);

afterAll(async () => {
  await processes?.killAll();
  await world?.stop();
});

/** The value of one sample line (`name{labels} value`) whose labels include all of `labels`; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

it('the gpu worker serves the SDK’s metrics and synthmix’s engine counters on one endpoint; its logs are JSON lines', async () => {
  const { client, config } = world;
  // Named as the sweep names a cell's workflow: `<sweep id>/<cell id>`.
  const workflowId = 'health-1/original-p0-scratch-s0';
  await client.workflow.execute(smoke, {
    taskQueue: config.queues.cpu,
    workflowId,
    args: [{ queues: config.queues, message: 'health', dummy: { steps: 3, stepSeconds: 0.01, checkpointEvery: 1, tag: 'health' } }],
  });
  const failing = client.workflow.execute(smoke, {
    taskQueue: config.queues.cpu,
    workflowId: 'health-1/failing',
    args: [{ queues: config.queues, message: 'health-failing', dummy: { steps: 5, stepSeconds: 0.01, failAt: 2, tag: 'health-failing' } }],
  });
  await expect(failing).rejects.toBeInstanceOf(WorkflowFailedError);

  const response = await fetch(gpuMetrics);
  expect(response.status).toBe(200);
  const text = await response.text();
  // The SDK's own: slots and activity latencies of this worker's task queue.
  expect(text).toMatch(/^temporal_worker_task_slots_available\{.*task_queue="health-gpu"/m);
  expect(text).toMatch(/^temporal_activity_execution_latency\w*\{.*activity_type="engineInfo"/m);
  // synthmix's, tagged by the SDK with the activity and by us with the engine command (both smoke runs ask the engine's info).
  const ours = text.split('\n').filter((l) => l.startsWith('synthmix_')).join('\n');
  expect(sample(text, 'synthmix_engine_steps_started', { command: 'info', activityType: 'engineInfo', taskQueue: 'health-gpu' }), ours).toBe(2);
  expect(sample(text, 'synthmix_engine_steps_started', { command: 'dummy-train' }), ours).toBe(2);
  expect(sample(text, 'synthmix_engine_steps_failed', { command: 'dummy-train', kind: 'permanent' }), ours).toBe(1);
  expect(sample(text, 'synthmix_engine_steps_failed', { command: 'info' }), ours).toBe(0);
  expect(sample(text, 'synthmix_engine_step_seconds_count', { command: 'dummy-train', outcome: 'ok' }), ours).toBe(1);
  // Step seconds in buckets made for engine steps (seconds to days), not the SDK's millisecond ones.
  expect(sample(text, 'synthmix_engine_step_seconds_bucket', { command: 'dummy-train', outcome: 'ok', le: '3600' }), ours).toBe(1);

  // Logs: every line the worker wrote to stdout is a JSON object (stderr carries nothing of ours).
  // The worker wrote them before its activities ended; this process reads its pipe when its event
  // loop gets to it, so wait (bounded) until the last line looked for has arrived.
  const isFailureLine = (e: Record<string, unknown>) => typeof e.message === 'string' && e.message.startsWith('engine dummy-train permanent');
  const parsed = () => gpu.output.join('').split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l) as Record<string, unknown>);
  await expect.poll(() => parsed().some(isFailureLine), { timeout: 15_000, interval: 200 }).toBe(true);
  const entries = parsed();
  expect(entries.find((e) => typeof e.message === 'string' && e.message.startsWith('synthmix gpu worker on'))).toMatchObject({ level: 'INFO' });
  const engineInfo = entries.find((e) => e.message === 'engine info started');
  expect(engineInfo).toMatchObject({ sweepId: 'health-1', cellId: 'original-p0-scratch-s0', activity: 'engineInfo', attempt: 1, workflowId, command: 'info' });
  expect(engineInfo?.time).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
  expect(entries.find(isFailureLine)).toMatchObject({
    level: 'WARN',
    sweepId: 'health-1',
    cellId: 'failing',
    outcome: 'permanent',
  });
  // The task token completes an activity on anyone's behalf: never in a log line.
  expect(entries.some((e) => 'taskToken' in e)).toBe(false);
  expect(gpu.output.join('')).not.toMatch(/^synthmix gpu worker on/m);
}, 180_000);
