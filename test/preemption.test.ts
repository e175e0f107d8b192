/**
 * Worker-level preemption on real parts: a real Temporal dev server, a real local artifact store,
 * a cpu worker in this process and the gpu worker as a separate `synthmix worker --queue gpu`
 * process (what a GPU machine runs). The same experiment cell (mix → train → evaluate, 10 epochs)
 * is run three times, with different `checkpointEvery` so that they share no memoized result:
 *
 *  1. undisturbed: the reference weights, metrics and evaluation;
 *  2. the gpu worker process is SIGKILLed mid-training (its engine dies with it: no orphan), a new
 *     worker starts, and the retried attempt resumes from the last checkpoint, not epoch 0, and
 *     ends with weights and metrics byte-identical to the reference;
 *  3. the gpu worker's process group is sent SIGTERM mid-epoch: the worker shuts down gracefully
 *     (the engine checkpoints its exact position and exits 143, the attempt fails retryable), a new
 *     worker resumes with no completed epoch lost, and again the outputs equal the reference.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ArtifactStore, ObjectInfo } from '../lib/store/types.js';
import { createDatasetActivities } from '../activities/dataset.js';
import type { TrainResult } from '../lib/steps/classifier.js';
import type { EngineHeartbeat } from '../lib/engine/events.js';
import type { Cell } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import type { CellOutcome } from '../lib/report/types.js';
import { experiment } from '../workflows/index.js';
import { experimentInput, type ExperimentInput } from '../lib/sweep/experiment-input.js';
import { classifierArch } from '../lib/sweep/base-model-inputs.js';
import type { SynthmixConfig } from '../temporal.config.js';
import { startTestWorld, type TestWorld } from './support/world.js';
import { descendantsOf, stillAlive, WorkerProcesses, type WorkerProcess } from './support/worker-processes.js';

const EPOCHS = 10;

let world: TestWorld;
let config: SynthmixConfig;
let client: Client;
let store: ArtifactStore;
let processes: WorkerProcesses;

/** The same cell's input, one per run: only the curated manifests' keys differ. */
const inputs: Record<'reference' | 'killed' | 'terminated', ExperimentInput> = {} as never;

// ---------------------------------------------------------------------------------------------
// The gpu worker as its own process (test/support/worker-processes.ts).

/** Engine processes of this file's workers (their spec paths lie under its engine work dir). */
function engineProcesses(): string[] {
  try {
    return execFileSync('pgrep', ['-af', `synthmix_engine .*--spec ${config.engine.workDir}/`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  return processes.waitFor(what, probe, timeoutMs);
}

interface PendingTrain {
  attempt: number;
  heartbeat?: EngineHeartbeat;
}

/** The pending `train` activity of an experiment, with its last heartbeat as the server has it. */
async function pendingTrain(handle: WorkflowHandle): Promise<PendingTrain | undefined> {
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') throw new Error(`${handle.workflowId} is ${description.status.name}: it ended before the signal`);
  const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'train');
  if (!pending) return undefined;
  const payload = pending.heartbeatDetails?.payloads?.[0];
  return {
    attempt: pending.attempt ?? 0,
    ...(payload ? { heartbeat: defaultPayloadConverter.fromPayload<EngineHeartbeat>(payload) } : {}),
  };
}

/** The `train` activity's ActivityTaskStarted event: its attempt number and the previous attempt's failure. */
type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];
type StartedAttributes = NonNullable<HistoryEvent['activityTaskStartedEventAttributes']>;

async function trainStartedEvent(handle: WorkflowHandle): Promise<StartedAttributes> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train');
  expect(scheduled, 'train was scheduled').toBeDefined();
  const started = events.find(
    (e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(scheduled?.eventId),
  );
  expect(started, 'train was started').toBeDefined();
  return started?.activityTaskStartedEventAttributes ?? {};
}

/** The checkpoints of train steps that have no result yet (the one running), as the store has them. */
async function unfinishedCheckpoints(): Promise<ObjectInfo[]> {
  const objects = await store.list('steps/train/');
  const finished = new Set(objects.filter((o) => o.key.endsWith('/result.json')).map((o) => path.posix.dirname(o.key)));
  return objects.filter((o) => o.key.endsWith('/checkpoint') && !finished.has(path.posix.dirname(o.key)));
}

interface RunOutputs {
  train: TrainResult;
  best: string;
  final: string;
  metrics: string;
  overallAccuracy: number;
  perClass: Record<string, number>;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What a finished experiment left in the store: the train step's memo record and output hashes. */
async function outputsOf(outcome: CellOutcome): Promise<RunOutputs> {
  expect(outcome.status).toBe('done');
  const weightsKey = outcome.train?.weightsKey ?? '';
  const prefix = weightsKey.slice(0, weightsKey.lastIndexOf('/'));
  const train = await store.getJson<TrainResult>(`${prefix}/result.json`);
  return {
    train,
    best: sha256(await store.get(train.weightsKey)),
    final: sha256(await store.get(train.finalKey)),
    metrics: sha256(await store.get(train.metricsKey)),
    overallAccuracy: outcome.evaluation?.overallAccuracy ?? Number.NaN,
    perClass: outcome.evaluation?.perClass ?? {},
  };
}

function startExperiment(run: keyof typeof inputs): Promise<WorkflowHandle<typeof experiment>> {
  return client.workflow.start(experiment, {
    taskQueue: config.queues.cpu,
    workflowId: `preemption-${run}-${Date.now()}`,
    args: [inputs[run]],
  });
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  world = await startTestWorld({
    name: 'preemption',
    workers: ['cpu'],
    // One torch thread per engine: the same on every worker (bit-identical resumes need the same
    // device and thread count), and gentle on a shared 2-core machine.
    overrides: () => ({ engine: { threads: 1 } }),
  });
  ({ config, client } = world);
  store = world.store;
  processes = new WorkerProcesses(world.configFile);

  // The demo world, curated once. The three runs differ only in `checkpointEvery`, which is part of
  // the train step's memo key but not of what it computes: they share no train / evaluate result.
  const { curateDataset } = createDatasetActivities({ store, config });
  const sweepConfig = resolveSweepConfig('tiny', {
    train: { modes: ['scratch'], epochs: { scratch: EPOCHS, finetune: 1, frozen: 1 }, width: 32 },
  });
  const curated = await curateDataset({
    source: { kind: 'demo', domain: 'target' },
    demoPreset: 'tiny',
    perClass: sweepConfig.dataset.perClass,
    testPerClass: sweepConfig.dataset.testPerClass,
    seed: 0,
    imageSize: 32,
  });
  const cell: Cell = { id: 'original-p0-scratch-s0', arm: 'only-original', source: 'original', p: 0, mode: 'scratch', seed: 0 };
  const checkpointEvery = {
    // Undisturbed, and no checkpoint before the last epoch.
    reference: EPOCHS,
    // A checkpoint after every epoch: the kill loses at most the epoch in progress.
    killed: 1,
    // No periodic checkpoint before the last epoch: what the resumed attempt finds is the one the
    // engine wrote on SIGTERM.
    terminated: EPOCHS + 1,
  };
  for (const run of ['reference', 'killed', 'terminated'] as const) {
    const runConfig = { ...sweepConfig, train: { ...sweepConfig.train, checkpointEvery: checkpointEvery[run] } };
    const data = { classes: curated.classes, original: curated.trainManifest, test: curated.testManifest, pretrainedKey: '', arch: classifierArch(sweepConfig, curated.classes.length) };
    // A dead worker's attempt times out (and is retried) this long after its last heartbeat.
    inputs[run] = experimentInput(runConfig, cell, data, { queues: config.queues, heartbeatTimeout: '10 seconds' });
  }
});

afterAll(async () => {
  await processes?.killAll();
  await world?.stop();
});

describe('a gpu worker process killed or preempted mid-training', () => {
  let reference: RunOutputs;
  let worker: WorkerProcess;

  it('trains undisturbed: the reference', async () => {
    worker = await processes.start('w1');
    const handle = await startExperiment('reference');
    reference = await outputsOf(await handle.result());
    expect(reference.train).toMatchObject({ epochs: EPOCHS, resumedFromEpoch: 0, computed: true });
    expect((await trainStartedEvent(handle)).attempt, 'one attempt').toBe(1);
  });

  it('SIGKILL: a new worker resumes from the last checkpoint and ends with the same weights', async () => {
    const handle = await startExperiment('killed');
    // Kill once two epochs' checkpoints have reached the store: the runner uploads each one as the
    // engine writes it (heartbeats reach the server only every few seconds, throttled).
    const versions = new Set<string>();
    await waitFor('two checkpoints in the store', async () => {
      const pending = await pendingTrain(handle);
      for (const checkpoint of await unfinishedCheckpoints()) versions.add(checkpoint.sha256);
      return versions.size >= 2 && pending?.attempt === 1 ? true : undefined;
    });
    expect(engineProcesses()).toHaveLength(1);
    // SIGKILL the worker process alone (as the OOM killer would), not its process group: what it
    // started must die with it by itself (PR_SET_PDEATHSIG), the engine and any warm forkserver.
    const children = descendantsOf(worker.pid);
    expect(children.length).toBeGreaterThan(0);
    process.kill(worker.pid, 'SIGKILL');
    expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor('the dead worker’s processes to die', async () => (stillAlive(children).length === 0 ? true : undefined), 30_000);
    expect(engineProcesses()).toEqual([]);

    worker = await processes.start('w2');
    const killed = await outputsOf(await handle.result());

    const retried = await trainStartedEvent(handle);
    expect(retried.attempt).toBe(2);
    // The first attempt ended by missing its heartbeats (the worker was gone), not by an error.
    expect(retried.lastFailure?.timeoutFailureInfo).toBeTruthy();
    // Attempt 2 resumed from the stored checkpoint (each version seen is a later epoch's), not 0.
    expect(killed.train.resumedFromEpoch).toBeGreaterThanOrEqual(versions.size);
    expect(killed.train.resumedFromEpoch).toBeLessThan(EPOCHS);
    // ...and ended exactly where the undisturbed run did.
    expect(killed.best).toBe(reference.best);
    expect(killed.final).toBe(reference.final);
    expect(killed.metrics).toBe(reference.metrics);
    expect(killed.train).toMatchObject({
      bestValAcc: reference.train.bestValAcc,
      bestEpoch: reference.train.bestEpoch,
      epochs: EPOCHS,
      trainImages: reference.train.trainImages,
      valImages: reference.train.valImages,
    });
    expect(killed.overallAccuracy).toBe(reference.overallAccuracy);
    expect(killed.perClass).toEqual(reference.perClass);
  });

  it('SIGTERM: the engine checkpoints at once and the worker exits; a new worker loses no completed epoch', async () => {
    const handle = await startExperiment('terminated');
    // Signal once the server has seen epoch 2 complete (the engine may be an epoch or two further).
    const seen = await waitFor('epoch 2 to complete', async () => {
      const pending = await pendingTrain(handle);
      return (pending?.heartbeat?.progress?.step ?? 0) >= 2 ? pending : undefined;
    });
    expect(seen.attempt).toBe(1);
    const completedBeforeSignal = seen.heartbeat?.progress?.step ?? Infinity;
    // SIGTERM to the worker's process group, as systemd or `kill -- -PGID` sends it: the worker and
    // its warm forkserver get it (the engine runs in a session of its own).
    const children = descendantsOf(worker.pid);
    process.kill(-worker.pid, 'SIGTERM');
    // A graceful exit: the running activity was told to stop, its engine checkpointed and exited.
    expect(await worker.exited, worker.output.join('')).toEqual({ code: 0, signal: null });
    await waitFor('the worker’s processes to end', async () => (stillAlive(children).length === 0 ? true : undefined), 30_000);
    expect(engineProcesses()).toEqual([]);
    // ...and the checkpoint it wrote on SIGTERM was in the store before the worker exited.
    expect(await unfinishedCheckpoints()).toHaveLength(1);

    worker = await processes.start('w3');
    const terminated = await outputsOf(await handle.result());

    const started = await trainStartedEvent(handle);
    expect(started.attempt).toBe(2);
    // The first attempt failed, retryable, when the engine had exited (not by a heartbeat timeout):
    // the SDK reports an activity that a worker shutdown cancelled as a `WorkerShutdown` failure.
    const failure = started.lastFailure;
    expect(failure?.timeoutFailureInfo ?? null).toBeNull();
    expect(failure?.applicationFailureInfo?.type).toBe('WorkerShutdown');
    expect(failure?.applicationFailureInfo?.nonRetryable ?? false).toBe(false);
    // No completed epoch was lost. This run writes no periodic checkpoint before its last epoch:
    // what attempt 2 resumed from is the checkpoint the engine wrote on SIGTERM.
    expect(terminated.train.resumedFromEpoch).toBeGreaterThanOrEqual(completedBeforeSignal);
    expect(terminated.train.resumedFromEpoch).toBeLessThan(EPOCHS);
    expect(terminated.best).toBe(reference.best);
    expect(terminated.final).toBe(reference.final);
    expect(terminated.metrics).toBe(reference.metrics);
    expect(terminated.overallAccuracy).toBe(reference.overallAccuracy);
    expect(terminated.perClass).toEqual(reference.perClass);
  });
});
