import type { CellOutcome } from '../lib/report/types.js';
import type { ExperimentInput } from '../lib/sweep/experiment-input.js';
import { proxyCpuActivities, proxyGpuActivities } from './proxies.js';

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
    lr: input.train.lr,
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
      trainImages: trained.trainImages,
      valImages: trained.valImages,
      ...(trained.environment ? { environment: trained.environment } : {}),
    },
    wallMs: trained.wallMs + evaluation.wallMs,
    computed: trained.computed || evaluation.computed || mixed.computed,
  };
}
