/**
 * Upgrading the workflow code during a sweep, with Temporal Worker Versioning, on the real dev server:
 *
 *  - workers of build A (this checkout's workflows) are the first build, so they become current and
 *    run an undisturbed reference sweep, then start sweep A;
 *  - A's workers stop mid-sweep; workers of build B (test/fakes/workflows-build-b.ts: a deliberately
 *    changed `trivialSweep`, which A's history cannot replay on) start, and the operator makes B
 *    current with `synthmix deployments set-current`;
 *  - a new sweep runs on B (B's change shows in its result), while sweep A waits, untouched, for
 *    workers of its own build: none of its tasks went to B;
 *  - a worker of build A comes back: sweep A ends on A with the reference's numbers, and
 *    `synthmix deployments` then reports A drained (its workers may be stopped).
 *
 * Pinning is not a licence to skip replay tests: A's recorded history replays on A's code and fails
 * on B's, which is what any worker of a build must never be given (test/sweep.test.ts keeps
 * replaying the recorded histories of the real sweep on the current code).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { trivialSweep, type TrivialSweepInput, type TrivialSweepResult } from '../workflows/trivial-sweep.js';
import { buildWorkflowBundle } from '../workers/bundle.js';
import { createWorker, versioningOf } from '../workers/create.js';
import { buildIdOfCode } from '../workers/deployment.js';
import { connectWorker } from '../lib/temporal/connection.js';
import { describeDeployment, workflowBuild, versionSearchValue, type DeploymentInfo } from '../lib/temporal/deployments.js';
import { projectRoot } from '../lib/project-root.js';
import { startTestWorld, type TestWorld } from './support/world.js';
import { BUILD_B_MARK } from './fakes/workflows-build-b.js';

const run = promisify(execFile);

let world: TestWorld;
let connection: NativeConnection;
const running: Array<{ worker: Worker; done: Promise<void> }> = [];

beforeAll(async () => {
  // No in-process workers: this test starts and stops the workers of each build itself.
  world = await startTestWorld({ name: 'versioning' });
  connection = await connectWorker(world.config);
});
afterAll(async () => {
  for (const { worker } of running) if (worker.getState() === 'RUNNING') worker.shutdown();
  await Promise.allSettled(running.map((r) => r.done));
  await connection?.close();
  await world?.stop();
});

async function startCpuWorker(bundle: WorkflowBundleWithSourceMap, identity: string): Promise<{ worker: Worker; done: Promise<void> }> {
  const worker = await createWorker({ config: world.config, connection, store: world.store, queue: 'cpu', workflowBundle: bundle, identity });
  const entry = { worker, done: worker.run() };
  running.push(entry);
  return entry;
}

/** `synthmix ARGS` as an operator runs it, against this world (SYNTHMIX_CONFIG). */
async function synthmix(...args: string[]): Promise<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SYNTHMIX_')) env[key] = value;
  env.SYNTHMIX_CONFIG = world.configFile;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'cli', 'synthmix.ts'), ...args], { cwd: projectRoot, env });
  return stdout;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

type Marked = TrivialSweepResult & { mark?: string };

/** A sweep's numbers without its wall times (which no two runs share) and build B's mark. */
function numbers(result: Marked): Omit<TrivialSweepResult, 'activityMs' | 'generation'> & { generation: { children: number } } {
  const { activityMs: _ms, generation, mark: _mark, ...rest } = result;
  return { ...rest, generation: { children: generation.children } };
}

async function historyEventTypes(workflowId: string): Promise<string[]> {
  const history = await world.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).map((e) => String(e.eventType));
}

it('a sweep stays on the build that started it while a new build takes new sweeps, and its build drains', async () => {
  const { client, config } = world;
  const input = (): TrivialSweepInput => ({ queues: config.queues, classes: 3, sources: 2, cells: 5, concurrency: 2, cellsPerPage: 3 });

  const bundleA = await buildWorkflowBundle();
  const bundleB = await bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'test', 'fakes', 'workflows-build-b.ts'), logger: quiet });
  const buildA = buildIdOfCode(bundleA.code);
  const buildB = buildIdOfCode(bundleB.code);
  expect(buildA).not.toBe(buildB);

  // ── build A: the deployment's first build becomes current by itself (deployment.promote: if-none) ──
  const a1 = await startCpuWorker(bundleA, 'build-a-1');
  expect(versioningOf(a1.worker)?.version).toEqual({ deploymentName: config.deployment.name, buildId: buildA });
  expect(await versioningOf(a1.worker)?.promotion).toBe('promoted');
  const reference = await client.workflow.execute(trivialSweep, { taskQueue: config.queues.cpu, workflowId: 'reference', args: [input()] });
  expect(await workflowBuild(client, 'reference')).toEqual({ buildId: buildA, behavior: 'pinned' });

  // ── sweep A starts on A; A's workers stop mid-sweep ──
  const sweepA = await client.workflow.start(trivialSweep, { taskQueue: config.queues.cpu, workflowId: 'sweep-a', args: [input()] });
  await until('sweep A to be pinned to build A', async () => ((await workflowBuild(client, 'sweep-a')).buildId === buildA ? true : undefined));
  a1.worker.shutdown();
  await a1.done;
  expect((await sweepA.describe()).status.name).toBe('RUNNING');

  // ── build B starts; it is not current until the operator says so (Temporal's flow) ──
  const b = await startCpuWorker(bundleB, 'build-b');
  expect(await versioningOf(b.worker)?.promotion).toBe('left');
  const before = (await describeDeployment(client, config.deployment.name)) as DeploymentInfo;
  expect(before.current).toBe(buildA);
  expect(before.builds.find((x) => x.buildId === buildA)).toMatchObject({ status: 'current', runningSweeps: ['sweep-a'], canRetire: false });
  expect(await synthmix('deployments', 'set-current', buildB)).toContain(`new sweeps start on build ${buildB}`);

  // ── a new sweep runs on B, with B's change ──
  const onB = (await client.workflow.execute(trivialSweep, { taskQueue: config.queues.cpu, workflowId: 'sweep-b', args: [input()] })) as Marked;
  expect(onB.mark).toBe(BUILD_B_MARK);
  expect(await workflowBuild(client, 'sweep-b')).toEqual({ buildId: buildB, behavior: 'pinned' });

  // Meanwhile sweep A waited for its own build: nothing of it ran on B (B cannot replay its history:
  // a task of it on B would have left a WorkflowTaskFailed event), nor did any of its children.
  expect((await sweepA.describe()).status.name).toBe('RUNNING');
  const onBuildB: string[] = [];
  for await (const execution of client.workflow.list({ query: `TemporalWorkerDeploymentVersion = '${versionSearchValue(config.deployment.name, buildB)}'` })) onBuildB.push(execution.workflowId);
  expect(onBuildB.length).toBeGreaterThan(0);
  expect(onBuildB.filter((id) => id.startsWith('sweep-a'))).toEqual([]);
  const draining = (await describeDeployment(client, config.deployment.name)) as DeploymentInfo;
  expect(draining.current).toBe(buildB);
  expect(draining.builds.find((x) => x.buildId === buildA)).toMatchObject({ runningSweeps: ['sweep-a'], canRetire: false });

  // ── a worker of build A comes back (it does not take the current build back) and ends sweep A on A ──
  const a2 = await startCpuWorker(bundleA, 'build-a-2');
  expect(await versioningOf(a2.worker)?.promotion).toBe('left');
  const resultA: Marked = await sweepA.result();
  expect(resultA.mark).toBeUndefined();
  expect(numbers(resultA)).toEqual(numbers(reference));
  expect(numbers(onB)).toEqual(numbers(reference));
  expect(await workflowBuild(client, 'sweep-a')).toEqual({ buildId: buildA, behavior: 'pinned' });
  expect(await historyEventTypes('sweep-a')).not.toContain('EVENT_TYPE_WORKFLOW_TASK_FAILED');

  // ── A drains: Temporal reports it, and `synthmix deployments` says its workers may go ──
  const drained = await until('build A to be reported drained', async () => {
    const deployment = (await describeDeployment(client, config.deployment.name)) as DeploymentInfo;
    const a = deployment.builds.find((x) => x.buildId === buildA);
    return a?.status === 'drained' ? deployment : undefined;
  });
  expect(drained.builds.find((x) => x.buildId === buildA)).toMatchObject({ runningSweeps: [], canRetire: true });
  expect(drained.builds.find((x) => x.buildId === buildB)).toMatchObject({ status: 'current', canRetire: false });
  const unknownBuild = synthmix('deployments', 'set-current', 'no-such-build').then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
  const [listed, status, unknown] = await Promise.all([synthmix('deployments'), synthmix('status', 'sweep-a'), unknownBuild]);
  // A build no worker announced is refused by name, as a usage error (exit 2).
  expect(unknown).toEqual({ code: 2, stderr: expect.stringContaining('has no build no-such-build') });
  expect(listed).toContain(`current build ${buildB}`);
  expect(listed).toMatch(new RegExp(`${buildA}\\s+drained`));
  expect(status).toContain(`build: ${buildA} (pinned`);

  // ── replay: A's history is deterministic on A's code and not on B's ──
  const history = await sweepA.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: bundleA }, history, 'sweep-a');
  await expect(Worker.runReplayHistory({ workflowBundle: bundleB }, history, 'sweep-a')).rejects.toThrow(/[Nn]ondetermin/);
}, 600_000);

const noop = () => undefined;
const quiet = { trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error, log: noop };
