/**
 * A pool under fire (issue 16, point 8), shared by `test/pool-under-fire.test.ts` (CI-sized) and
 * `bench/pool-under-fire.ts` (N kills, M workers): cpu and gpu workers as separate processes on one
 * Temporal dev server and one SeaweedFS, two sweeps at once sharing the store, workers SIGKILLed at
 * seeded random moments and restarted. The numbers of an undisturbed run come from one sweep over
 * both sweeps' cells, on in-process workers, under another store prefix (nothing memoized there).
 *
 * The two sweeps share their dataset, base models, generated images and FID; their cells differ
 * (init mode). The second starts once the first is in its experiments stage, so every step the
 * two share was published by the first: the second's data stages must compute nothing. (Started
 * at the same instant, both could compute a shared step and both would report it computed: the
 * memo's conditional publish keeps the bytes right, not the work single.)
 */
import { readFileSync } from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { createRng } from '../../lib/random.js';
import type { ArtifactStore } from '../../lib/store/index.js';
import { resolveSweepConfig, type SweepConfig } from '../../lib/sweep/config.js';
import type { FidRow, StageTiming } from '../../lib/report/types.js';
import type { ResultRow } from '../../lib/report/data.js';
import type { S3Server } from '../../infra/seaweedfs.js';
import { progressQuery, sweep } from '../../workflows/index.js';
import type { SweepResult } from '../../workflows/sweep.js';
import { startTestWorld, type TestWorld } from './world.js';
import { descendantsOf, isAlive, stillAlive, WorkerProcesses, type WorkerProcess } from './worker-processes.js';

/** The stages before the cells: everything the two sweeps share. */
export const DATA_STAGES = ['curate', 'curate-prior', 'pretrain', 'generate', 'fid'] as const;
const STAGE_ORDER = [...DATA_STAGES, 'experiments', 'report', 'done'];

export interface PoolOptions {
  s3: S3Server;
  /** Seeds the kill moments and victims. */
  seed: number;
  /** SIGKILLs to deal while a sweep runs (fewer if both finish first). */
  kills: number;
  cpuWorkers: number;
  gpuWorkers: number;
  /** Seconds between one kill's restart and the next kill: drawn uniformly from [min, max). */
  gapSeconds: [number, number];
  /** How long a killed worker stays dead before its replacement starts. */
  restartDelayMs: number;
  /** `ci`: one source, p ∈ {0, 0.5}, 4 cells per sweep; `full`: the tiny preset's 3 sources and 3 p, 11 per sweep. */
  size: 'ci' | 'full';
  /** Progress lines (the bench prints them; the test too, for its log). */
  log?: (line: string) => void;
}

export interface KillRecord {
  /** Seconds since the sweeps started. */
  atSeconds: number;
  worker: string;
  queue: 'cpu' | 'gpu';
  /** The first sweep's stage when the kill came. */
  stage: string;
  /** Processes the worker had started (warm forkserver, engines), all gone after the kill. */
  descendants: number;
  /** Of them, engine steps running (not the idle forkserver). */
  engines: number;
  /** How long the last of them took to die (ms). */
  orphansGoneMs: number;
}

/** One cell's numbers: everything an undisturbed run fixes, down to its weights' and predictions' bytes. */
export interface CellNumbers {
  cellId: string;
  status: string;
  overallAccuracy: number | null;
  perClass: Record<string, number | null>;
  bestValAcc: number | null;
  bestEpoch: number | null;
  trainImages: number | null;
  valImages: number | null;
  weightsSha256: string | null;
  evaluationSha256: string | null;
}

export interface SweepNumbers {
  cells: CellNumbers[];
  fid: FidRow[];
}

export interface PoolRun {
  reference: { numbers: SweepNumbers; wallMs: number };
  first: { result: SweepResult; numbers: SweepNumbers };
  second: { result: SweepResult; numbers: SweepNumbers };
  kills: KillRecord[];
  restarts: number;
  /** From the first sweep's start to both results. */
  wallMs: number;
  /** The second sweep's data stages, as it reported them. */
  secondDataStages: StageTiming[];
}

/** The two sweeps' configs (same data, different init modes) and the reference over both sweeps' cells. */
export function poolSweepConfigs(size: PoolOptions['size']): { first: SweepConfig; second: SweepConfig; reference: SweepConfig } {
  // `ci`: the vanilla source alone (no fine-tune) keeps every step seconds long on 2 cores.
  const base = size === 'ci' ? { sources: ['vanilla'], mix: { p: [0, 0.5] } } : {};
  const config = (modes: string[]) => resolveSweepConfig('tiny', { ...base, train: { modes } });
  return { first: config(['scratch']), second: config(['frozen']), reference: config(['scratch', 'frozen']) };
}

/** A finished sweep's numbers, read from its report and the store. */
export async function sweepNumbers(store: ArtifactStore, result: SweepResult): Promise<SweepNumbers> {
  const fileOf = (name: string) => {
    const key = result.report.files.find((k) => k.endsWith(`/${name}`));
    if (!key) throw new Error(`sweep ${result.sweepId}: the report has no ${name}`);
    return key;
  };
  const results = await store.getJson<{ cells: ResultRow[] }>(fileOf('results.json'));
  const fid = await store.getJson<{ rows: FidRow[] }>(fileOf('fid.json'));
  const sha = async (key: string | null) => (key ? ((await store.stat(key))?.sha256 ?? 'missing') : null);
  const cells: CellNumbers[] = [];
  for (const row of results.cells) {
    cells.push({
      cellId: row.cellId,
      status: row.status,
      overallAccuracy: row.overallAccuracy,
      perClass: row.perClass,
      bestValAcc: row.bestValAcc,
      bestEpoch: row.bestEpoch,
      trainImages: row.trainImages,
      valImages: row.valImages,
      weightsSha256: await sha(row.weightsKey),
      evaluationSha256: await sha(row.evaluationKey),
    });
  }
  return { cells: cells.sort((a, b) => (a.cellId < b.cellId ? -1 : 1)), fid: fid.rows };
}

/** The two sweeps' numbers as one run's: their cells together, the FID table (the same in both). */
export function mergedNumbers(first: SweepNumbers, second: SweepNumbers): SweepNumbers {
  return { cells: [...first.cells, ...second.cells].sort((a, b) => (a.cellId < b.cellId ? -1 : 1)), fid: first.fid };
}

/** Every field of the cells and FID rows equal: the undisturbed run's numbers, exactly. */
export function sameNumbers(a: SweepNumbers, b: SweepNumbers): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function s3Storage(s3: S3Server, prefix: string) {
  return { kind: 's3', bucket: s3.bucket, prefix, endpoint: s3.endpoint, region: s3.region };
}

/** How long a kill waits for its gpu victim to run an engine step before killing it idle. */
const ENGINE_WAIT_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The undisturbed reference: both sweeps' cells in one sweep, in-process workers, a store prefix of its own. */
async function referenceRun(options: PoolOptions, config: SweepConfig): Promise<PoolRun['reference']> {
  const world = await startTestWorld({
    name: 'pool-reference',
    workers: ['cpu', 'gpu'],
    overrides: () => ({ storage: s3Storage(options.s3, 'reference'), engine: { threads: 1 }, workers: { gpuConcurrency: 2 } }),
  });
  try {
    const began = Date.now();
    const result = await world.client.workflow.execute(sweep, {
      taskQueue: world.config.queues.cpu,
      workflowId: 'pool-reference',
      args: [{ sweepId: 'pool-reference', config, queues: world.config.queues }],
    });
    const wallMs = Date.now() - began;
    return { numbers: await sweepNumbers(world.store, result), wallMs };
  } finally {
    await world.stop();
  }
}

/** The sweep's stage, or undefined while no cpu worker answers (one may just have been killed). */
async function stageOf(handle: WorkflowHandle): Promise<string | undefined> {
  return (await handle.query(progressQuery).catch(() => undefined))?.stage;
}

/** The pool: its workers by name, each with its queue; kills one and starts its replacement. */
class Pool {
  readonly queues = new Map<string, 'cpu' | 'gpu'>();
  restarts = 0;
  private started = 0;

  constructor(readonly processes: WorkerProcesses) {}

  async start(queue: 'cpu' | 'gpu'): Promise<WorkerProcess> {
    this.started += 1;
    const name = `${queue}-${this.started}`;
    this.queues.set(name, queue);
    return this.processes.start(name, queue);
  }

  alive(): WorkerProcess[] {
    return this.processes.all.filter(isAlive).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * SIGKILL the worker process alone (as the OOM killer or a lost spot machine would), not its group:
   * what it started must die by itself (PR_SET_PDEATHSIG), within a bounded wait, or this throws.
   */
  async kill(victim: WorkerProcess, engineWorkDir: string): Promise<Pick<KillRecord, 'descendants' | 'engines' | 'orphansGoneMs'>> {
    const children = descendantsOf(victim.pid);
    const engines = enginesOf(victim, engineWorkDir).length;
    process.kill(victim.pid, 'SIGKILL');
    const exit = await victim.exited;
    if (exit.signal !== 'SIGKILL') throw new Error(`worker ${victim.name} ended with ${JSON.stringify(exit)}, not by the SIGKILL`);
    const began = Date.now();
    await this.processes.waitFor(
      `the processes of killed worker ${victim.name} (${children.join(', ')}) to die`,
      async () => (stillAlive(children).length === 0 ? true : undefined),
      30_000,
      50,
    );
    return { descendants: children.length, engines, orphansGoneMs: Date.now() - began };
  }

  async restart(victim: WorkerProcess, delayMs: number): Promise<void> {
    await sleep(delayMs);
    await this.start(this.queues.get(victim.name) ?? 'gpu');
    this.restarts += 1;
  }
}

/** The engine steps a worker runs now (forked or spawned: their spec lies under the engine work dir). */
function enginesOf(worker: WorkerProcess, engineWorkDir: string): number[] {
  return descendantsOf(worker.pid).filter((pid) => engineCommandOf(pid).includes(`--spec ${engineWorkDir}/`));
}

/** A process's command line, as the forkserver titles an engine it forked ('' once it is gone). */
function engineCommandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * Run the pool under fire: the reference first, then the two sweeps on worker processes with
 * kills. Throws if a killed worker leaves a process behind; the caller asserts the rest.
 */
export async function runPoolUnderFire(options: PoolOptions): Promise<PoolRun> {
  const log = options.log ?? (() => undefined);
  const configs = poolSweepConfigs(options.size);
  log(`reference: one undisturbed sweep over both sweeps' cells (in-process workers, store prefix "reference")`);
  const reference = await referenceRun(options, configs.reference);
  log(`reference done in ${(reference.wallMs / 1000).toFixed(1)} s`);

  let world: TestWorld | undefined;
  let pool: Pool | undefined;
  try {
    world = await startTestWorld({
      name: 'pool',
      overrides: () => ({ storage: s3Storage(options.s3, 'pool'), engine: { threads: 1 }, workers: { gpuConcurrency: 1 } }),
    });
    const { client, config } = world;
    pool = new Pool(new WorkerProcesses(world.configFile));
    for (let i = 0; i < options.cpuWorkers; i += 1) await pool.start('cpu');
    for (let i = 0; i < options.gpuWorkers; i += 1) await pool.start('gpu');
    log(`pool: ${options.cpuWorkers} cpu + ${options.gpuWorkers} gpu worker processes polling`);

    const began = Date.now();
    // A killed worker's engine step is retried this long after its last heartbeat.
    const start = (id: string, sweepConfig: SweepConfig) =>
      client.workflow.start(sweep, { taskQueue: config.queues.cpu, workflowId: id, args: [{ sweepId: id, config: sweepConfig, queues: config.queues, heartbeatTimeout: '15 seconds' }] });
    const first = await start('pool-first', configs.first);
    let finished = false;
    const results = (async () => {
      // The second sweep starts once the first has published every step they share.
      while (STAGE_ORDER.indexOf((await stageOf(first)) ?? 'curate') < STAGE_ORDER.indexOf('experiments')) await sleep(250);
      log(`second sweep started at ${((Date.now() - began) / 1000).toFixed(1)} s (the first is in its experiments stage)`);
      const second = await start('pool-second', configs.second);
      return Promise.all([first.result(), second.result()]);
    })().finally(() => (finished = true));

    const kills = await fire(options, pool, first, config.engine.workDir, began, () => finished, log);
    const [firstResult, secondResult] = await results;
    const wallMs = Date.now() - began;
    log(`both sweeps done in ${(wallMs / 1000).toFixed(1)} s after ${kills.length} kills`);
    return {
      reference,
      first: { result: firstResult, numbers: await sweepNumbers(world.store, firstResult) },
      second: { result: secondResult, numbers: await sweepNumbers(world.store, secondResult) },
      kills,
      restarts: pool.restarts,
      wallMs,
      secondDataStages: secondResult.stages.filter((s) => (DATA_STAGES as readonly string[]).includes(s.stage)),
    };
  } finally {
    await pool?.processes.killAll();
    await world?.stop();
  }
}

/**
 * Deal the kills, from the first sweep's first engine stage on: after a seeded gap, SIGKILL a seeded
 * pick of the live workers (a gpu worker once an engine step runs on it, within a bounded wait, so
 * the kill lands mid-step), check that its processes died, restart it.
 */
async function fire(
  options: PoolOptions,
  pool: Pool,
  first: WorkflowHandle,
  engineWorkDir: string,
  began: number,
  finished: () => boolean,
  log: (line: string) => void,
): Promise<KillRecord[]> {
  const rng = createRng(options.seed, 'pool-under-fire');
  const kills: KillRecord[] = [];
  while (!finished() && STAGE_ORDER.indexOf((await stageOf(first)) ?? 'curate') < STAGE_ORDER.indexOf('pretrain')) await sleep(250);
  while (kills.length < options.kills) {
    // Drawn up front, so the seed alone decides them whatever the timing. Workers are named in start
    // order and restarted one at a time, so the victims' names follow from the seed too.
    const gapMs = rng.range(options.gapSeconds[0], options.gapSeconds[1]) * 1000;
    const pick = rng.nextFloat();
    const until = Date.now() + gapMs;
    while (Date.now() < until && !finished()) await sleep(100);
    const alive = pool.alive();
    const victim = alive[Math.floor(pick * alive.length)];
    const queue = pool.queues.get(victim.name) ?? 'gpu';
    if (queue === 'gpu') {
      const busyUntil = Date.now() + ENGINE_WAIT_MS;
      while (!finished() && Date.now() < busyUntil && enginesOf(victim, engineWorkDir).length === 0) await sleep(250);
    }
    if (finished()) break;
    const stage = (await stageOf(first)) ?? '?';
    const atSeconds = (Date.now() - began) / 1000;
    const seen = await pool.kill(victim, engineWorkDir);
    const record: KillRecord = { atSeconds, worker: victim.name, queue, stage, ...seen };
    kills.push(record);
    log(
      `kill ${kills.length}: ${record.worker} at ${atSeconds.toFixed(1)} s (first sweep in ${stage}), ` +
        `${record.engines} engine step(s) running, its ${record.descendants} processes gone in ${record.orphansGoneMs} ms`,
    );
    await pool.restart(victim, options.restartDelayMs);
  }
  return kills;
}
