import { ChildWorkflowFailure, continueAsNew, executeChild } from '@temporalio/workflow';
import { leanOutcome, type LeanCellOutcome } from '../lib/report/lean-outcome.js';
import type { CellOutcome } from '../lib/report/types.js';
import { trainLr, type Cell } from '../lib/sweep/cells.js';
import type { SweepConfig } from '../lib/sweep/config.js';
import { experimentInput, type CellData, type ExperimentInput } from '../lib/sweep/experiment-input.js';
import type { Queues } from '../lib/temporal/queues.js';
import { blockedCellReason } from '../lib/sweep/instances.js';
import { rootMessage } from './errors.js';
import { proxyCpuActivities, proxyGpuActivities } from './proxies.js';
import { runPage, type PageInput, type PageResult, type Tally } from './fan-out.js';

export type { ExperimentInput } from '../lib/sweep/experiment-input.js';

/** One cell of the sweep: mix → train → evaluate. Its input: `experimentInput` (lib/sweep/experiment-input.ts). */
export async function experiment(input: ExperimentInput): Promise<CellOutcome> {
  const cpu = proxyCpuActivities(input.queues);
  const gpu = proxyGpuActivities(input.queues, input.heartbeatTimeout);
  const { cell } = input;

  const mixed = await cpu.mix({
    original: input.original,
    ...(input.synthetic ? { synthetic: input.synthetic } : {}),
    p: cell.p,
    arm: cell.arm === 'mixed' ? 'mixed' : 'only-original',
    seed: cell.seed,
    valFraction: input.mix.valFraction,
    realValidation: input.mix.realValidation,
  });

  const trained = await gpu.train({
    train: mixed.train,
    val: mixed.val,
    classes: input.classes,
    mode: cell.mode,
    arch: input.arch,
    ...(cell.mode === 'scratch' ? {} : { pretrainedKey: input.pretrainedKey }),
    epochs: input.train.epochs[cell.mode],
    batchSize: input.train.batchSize,
    lr: trainLr(input.train.lr, cell.mode),
    momentum: input.train.momentum,
    weightDecay: input.train.weightDecay,
    seed: cell.seed,
    checkpointEvery: input.train.checkpointEvery,
    ...(cell.arm === 'randaugment' && input.train.randAugment ? { randAugment: input.train.randAugment } : {}),
  });

  const evaluation = await gpu.evaluate({
    test: input.test,
    classes: input.classes,
    weightsKey: trained.weightsKey,
    arch: input.arch,
    batchSize: 128,
  });

  return {
    cell,
    status: 'done',
    evaluation: { overallAccuracy: evaluation.overallAccuracy, perClass: evaluation.perClass, evaluationKey: evaluation.evaluationKey },
    train: {
      bestValAcc: trained.bestValAcc,
      bestEpoch: trained.bestEpoch,
      epochs: trained.epochs,
      weightsKey: trained.weightsKey,
      metricsKey: trained.metricsKey,
      trainImages: trained.trainImages,
      valImages: trained.valImages,
      ...(trained.environment ? { environment: trained.environment } : {}),
    },
    wallMs: trained.wallMs + evaluation.wallMs,
    computed: trained.computed || evaluation.computed || mixed.computed,
  };
}

/** What the sweep's cells share. */
export interface CellContext {
  sweepId: string;
  config: SweepConfig;
  data: CellData;
  queues: Queues;
  heartbeatTimeout?: string;
}

/** One cell as a child workflow `<sweepId>/<cellId>`; a permanent failure fails its cell only (the report shows why). */
export async function runCell(context: CellContext, cell: Cell): Promise<CellOutcome> {
  // Decided at curate: no child, no GPU time, the reason in the report.
  const blocked = blockedCellReason(cell, context.data.blocked);
  if (blocked) return { cell, status: 'failed', error: blocked };
  const args = experimentInput(context.config, cell, context.data, { queues: context.queues, ...(context.heartbeatTimeout ? { heartbeatTimeout: context.heartbeatTimeout } : {}) });
  try {
    return await executeChild(experiment, { args: [args], workflowId: `${context.sweepId}/${cell.id}`, taskQueue: context.queues.cpu });
  } catch (error) {
    if (error instanceof ChildWorkflowFailure) return { cell, status: 'failed', error: rootMessage(error) };
    throw error;
  }
}

/** A cell's share of the sweep's tallies: one unit of work, its activities' wall time. */
export function cellTally(outcome: LeanCellOutcome): Tally {
  return { items: 1, failed: outcome.status === 'failed' ? 1 : 0, activities: 1, activityMs: outcome.wallMs ?? 0, computed: outcome.computed ? 1 : 0 };
}

/** Where the sweep's pages of lean cell outcomes go in the store. */
export const cellPagesPrefix = (sweepId: string) => `values/${sweepId}/cells`;

/** One page of a large sweep's cells, as a child of the sweep: bounded cells, then their lean outcomes stored as one page. */
export async function experimentPage(input: PageInput<Cell, CellContext>): Promise<PageResult> {
  const { context } = input;
  const cpu = proxyCpuActivities(context.queues);
  return runPage<Cell, CellContext, CellOutcome, LeanCellOutcome>(input, {
    run: (cell) => runCell(context, cell),
    lean: leanOutcome,
    tally: cellTally,
    store: (outcomes) => cpu.storePage({ prefix: cellPagesPrefix(context.sweepId), items: outcomes }),
    continueAsNew: (carried) => continueAsNew<typeof experimentPage>({ ...input, carried }),
  });
}
