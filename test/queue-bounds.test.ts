/**
 * Schedule-to-start bounds (workflows/proxies.ts) on a real dev server with real workers: an
 * activity sent to a queue nobody polls fails within seconds naming the queue and its config field
 * (not never), and one that waits on a busy queue that has pollers is rescheduled, not failed.
 * The bound is 1–2 s here (`queues.scheduleToStartSeconds`; default one hour).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { smoke } from '../workflows/index.js';
import type { Queues } from '../lib/temporal/queues.js';
import { startTestWorld, type TestWorld } from './support/world.js';

let world: TestWorld;

beforeAll(async () => {
  // One gpu slot (no GPUs here: gpuConcurrency 1), so two workflows' engine steps queue behind each other.
  world = await startTestWorld({ name: 'queue-bounds', workers: ['cpu', 'gpu'], overrides: () => ({ workers: { gpuConcurrency: 1 } }) });
});

afterAll(() => world?.stop());

/** How the smoke workflow (a cpu step, then gpu steps) ended with these queues. */
async function runSmoke(workflowId: string, queues: Queues, dummy?: { steps: number; stepSeconds: number; tag: string }) {
  return world.client.workflow.execute(smoke, { taskQueue: world.config.queues.cpu, workflowId, args: [{ queues, message: workflowId, ...(dummy ? { dummy } : {}) }] });
}

async function failureOf(run: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await run.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

async function timeoutsIn(workflowId: string): Promise<number> {
  const history = await world.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskTimedOutEventAttributes).length;
}

describe('schedule-to-start bounds', () => {
  it('a misspelt gpu queue: the workflow fails naming the queue nobody polls, after one bound', async () => {
    const queues = { ...world.config.queues, gpu: 'queue-bounds-gpu-misspelt', scheduleToStartSeconds: 2 };
    const failure = await failureOf(runSmoke('misspelt-gpu', queues));
    expect(failure.type).toBe('QueueNotPolled');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('no worker polls task queue "queue-bounds-gpu-misspelt" (queues.gpu): activity engineInfo was not started within 2 seconds');
    expect(failure.message).toContain('synthmix worker --queue gpu');
    // The cpu step ran; the gpu step was scheduled once and timed out once (not retried, not forever).
    const history = await world.client.workflow.getHandle('misspelt-gpu').fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
    expect(scheduled).toEqual(['storeRoundTrip', 'engineInfo', 'queuePollers']);
    expect(await timeoutsIn('misspelt-gpu')).toBe(1);
  });

  it('a misspelt cpu queue: the check itself cannot start, and the cpu queue is named', async () => {
    const queues = { ...world.config.queues, cpu: 'queue-bounds-cpu-misspelt', scheduleToStartSeconds: 1 };
    const failure = await failureOf(runSmoke('misspelt-cpu', queues));
    expect(failure.type).toBe('QueueNotPolled');
    expect(failure.message).toContain('no worker polls task queue "queue-bounds-cpu-misspelt" (queues.cpu)');
  });

  it('a busy queue that has pollers: the waiting activity is rescheduled and completes', async () => {
    // Two workflows' dummy steps (3 × 1 s) cannot overlap on one slot: some gpu step waits for one
    // of them, longer than the 1 s bound, whatever the order.
    const queues = { ...world.config.queues, scheduleToStartSeconds: 1 };
    const [a, b] = await Promise.all([
      runSmoke('busy-a', queues, { steps: 3, stepSeconds: 1, tag: 'busy-a' }),
      runSmoke('busy-b', queues, { steps: 3, stepSeconds: 1, tag: 'busy-b' }),
    ]);
    expect([a.dummy?.steps, b.dummy?.steps]).toEqual([3, 3]);
    expect((await timeoutsIn('busy-a')) + (await timeoutsIn('busy-b'))).toBeGreaterThan(0);
  });
});
