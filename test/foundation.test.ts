/**
 * The foundation, end to end on real parts: the Temporal dev server (SQLite), real workers on both
 * task queues, the local artifact store, and real engine processes.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { DevServer } from '../infra/temporal-dev-server.js';
import { startTestWorld, type TestWorld } from './support/world.js';
import { smoke } from '../workflows/index.js';
import type { SynthmixConfig } from '../temporal.config.js';

let world: TestWorld;
let server: DevServer;
let config: SynthmixConfig;
let client: Client;

function engineProcessesFor(tag: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', `synthmix_engine.*${tag}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  world = await startTestWorld({ name: 'foundation', workers: ['cpu', 'gpu'] });
  ({ server, config, client } = world);
});

afterAll(() => world?.stop());

describe('foundation on a real Temporal dev server', () => {
  it('runs a workflow whose activities run on both task queues', async () => {
    const result = await client.workflow.execute(smoke, {
      taskQueue: config.queues.cpu,
      workflowId: `smoke-both-queues-${Date.now()}`,
      args: [{ queues: config.queues, message: 'both queues', dummy: { steps: 6, stepSeconds: 0.01, checkpointEvery: 2, tag: 'both' } }],
    });
    expect(result.stored.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.engine.torch).toMatch(/^2\.13/);
    expect(['cpu', 'cuda']).toContain(result.engine.device);
    expect(result.dummy).toMatchObject({ steps: 6, total: 15, resumedFrom: 0 });
  });

  it('survives a Temporal server kill and restart on the same SQLite file', async () => {
    const workflowId = `smoke-durable-${Date.now()}`;
    const handle = await client.workflow.start(smoke, {
      taskQueue: config.queues.cpu,
      workflowId,
      args: [{ queues: config.queues, message: 'durable', dummy: { steps: 60, stepSeconds: 0.1, checkpointEvery: 10, tag: 'durable' } }],
    });
    // Wait until the slow gpu activity is running, then kill the server under it.
    await waitFor('the dummy step to start', async () => {
      const description = await handle.describe();
      return description.raw.pendingActivities?.some((a) => a.activityType?.name === 'dummyTrain') ? true : undefined;
    });
    await server.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await server.restart();
    // The client's channel backs off while the server is down: wait until it reaches the
    // restarted server before asking for the result (seen once: UNAVAILABLE right after restart).
    await waitFor('the client to reach the restarted server', () => handle.describe().then(() => true, () => undefined), 120_000);
    const result = await handle.result();
    expect(result.dummy).toMatchObject({ steps: 60, total: (59 * 60) / 2 });
  });

  it('retries a crashed engine attempt, which resumes from the last checkpoint', async () => {
    // crashAt kills the engine (exit 1) at step 7 in a fresh attempt; the retry resumes at step 5.
    const result = await client.workflow.execute(smoke, {
      taskQueue: config.queues.cpu,
      workflowId: `smoke-crash-${Date.now()}`,
      args: [{ queues: config.queues, message: 'crash', dummy: { steps: 12, stepSeconds: 0.01, checkpointEvery: 5, crashAt: 7, tag: 'crash' } }],
    });
    expect(result.dummy).toMatchObject({ steps: 12, total: 66, resumedFrom: 5, attempt: 2 });
  });

  it('turns a permanent engine error into a non-retryable failure carrying its message', async () => {
    const error = await client.workflow
      .execute(smoke, {
        taskQueue: config.queues.cpu,
        workflowId: `smoke-permanent-${Date.now()}`,
        args: [{ queues: config.queues, message: 'permanent', dummy: { steps: 10, stepSeconds: 0.01, failAt: 3, tag: 'permanent' } }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause?.cause as ApplicationFailure;
    expect(cause.type).toBe('EnginePermanentError');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toContain('asked to fail at step 3');
  });

  it('kills the engine process when the workflow is cancelled (no orphan)', async () => {
    const tag = `cancel${Date.now()}`;
    const handle = await client.workflow.start(smoke, {
      taskQueue: config.queues.cpu,
      workflowId: `smoke-${tag}`,
      args: [{ queues: config.queues, message: 'cancel', dummy: { steps: 10_000, stepSeconds: 0.05, checkpointEvery: 20, tag } }],
    });
    await waitFor('the engine process', async () => (engineProcessesFor('dummy-train').length > 0 ? true : undefined));
    await handle.cancel();
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    await waitFor('the engine process to exit', async () => (engineProcessesFor('dummy-train').length === 0 ? true : undefined), 30_000);
  });
});
