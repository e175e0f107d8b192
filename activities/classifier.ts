/**
 * gpu queue: train and evaluate ResNet-18 classifiers on the engine (`train-classifier`,
 * `evaluate-classifier`). Outputs are memoized by a hash of their inputs; a retried attempt
 * resumes from the checkpoint in its last heartbeat.
 */
import type { ActivityDeps } from '../lib/deps.js';
import type { ManifestRef } from '../lib/data/manifest.js';
import { runEngine } from '../lib/engine/activity.js';
import { EngineRunner } from '../lib/engine/runner.js';
import { localManifest } from '../lib/engine/local-manifest.js';
import { memoize } from '../lib/memo.js';
import type { InitMode } from '../lib/sweep/config.js';

export interface ClassifierArch {
  width: number;
  stem: 'auto' | 'cifar' | 'imagenet';
  imageSize: number;
  numClasses: number;
}

export interface TrainInput {
  train: ManifestRef;
  val: ManifestRef;
  /** The class list shared by every split (label order). */
  classes: string[];
  mode: InitMode;
  arch: ClassifierArch;
  /** Store key of pretrained weights (torchvision names); required by finetune and frozen. */
  pretrainedKey?: string;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  seed: number;
  checkpointEvery: number;
  randAugment?: { n: number; m: number };
}

export interface TrainResult {
  weightsKey: string;
  finalKey: string;
  metricsKey: string;
  bestValAcc: number;
  bestEpoch: number;
  epochs: number;
  trainImages: number;
  valImages: number;
  imagesPerSec: number | null;
  /**
   * Completed epochs restored from a checkpoint by the attempt that computed this result (0: it
   * trained from the start). Evidence that a retried attempt resumed rather than restarted.
   */
  resumedFromEpoch: number;
  computed: boolean;
  wallMs: number;
}

export interface EvaluateInput {
  test: ManifestRef;
  classes: string[];
  weightsKey: string;
  arch: ClassifierArch;
  batchSize: number;
}

export interface EvaluateResult {
  evaluationKey: string;
  overallAccuracy: number;
  perClass: Record<string, number>;
  computed: boolean;
  wallMs: number;
}

/** What the engine's train command reports (the rest of TrainResult is the activity's). */
type EngineTrainSummary = Pick<TrainResult, 'bestValAcc' | 'bestEpoch' | 'epochs' | 'trainImages' | 'valImages' | 'imagesPerSec'> &
  Partial<Pick<TrainResult, 'resumedFromEpoch'>>;

interface EvaluationFile {
  overallAccuracy: number;
  perClass: Record<string, { accuracy: number }>;
}

export function classifierActivities({ store, config }: ActivityDeps) {
  const runner = new EngineRunner(store, config.engine);
  const manifestInput = async (ref: ManifestRef, classes: string[]) => ({
    localPath: (await localManifest(store, runner, config.engine.cacheDir, ref, { classes })).path,
  });

  async function train(input: TrainInput): Promise<TrainResult> {
    const started = Date.now();
    const memo = await memoize(store, 'train', input, async (prefix) => {
      const result = await runEngine(store, config.engine, {
        command: 'train-classifier',
        params: {
          mode: input.mode,
          ...input.arch,
          epochs: input.epochs,
          batchSize: input.batchSize,
          lr: input.lr,
          momentum: input.momentum,
          weightDecay: input.weightDecay,
          seed: input.seed,
          checkpointEvery: input.checkpointEvery,
          randAugment: input.randAugment ?? null,
        },
        inputs: {
          train: await manifestInput(input.train, input.classes),
          val: await manifestInput(input.val, input.classes),
          ...(input.pretrainedKey && input.mode !== 'scratch' ? { pretrained: { key: input.pretrainedKey } } : {}),
        },
        checkpointKey: `${prefix}/checkpoint`,
      });
      const weightsKey = `${prefix}/best.pt`;
      await store.putFile(weightsKey, result.outputs.best);
      await store.putFile(`${prefix}/final.pt`, result.outputs.final);
      await store.putFile(`${prefix}/metrics.json`, result.outputs.metrics);
      await result.cleanup();
      const summary = result.summary as unknown as EngineTrainSummary;
      return {
        weightsKey,
        finalKey: `${prefix}/final.pt`,
        metricsKey: `${prefix}/metrics.json`,
        bestValAcc: summary.bestValAcc,
        bestEpoch: summary.bestEpoch,
        epochs: summary.epochs,
        trainImages: summary.trainImages,
        valImages: summary.valImages,
        imagesPerSec: summary.imagesPerSec,
        resumedFromEpoch: summary.resumedFromEpoch ?? 0,
        computed: true,
        wallMs: Date.now() - started,
      };
    });
    return { ...memo.value, computed: memo.computed, wallMs: memo.computed ? memo.value.wallMs : Date.now() - started };
  }

  async function evaluate(input: EvaluateInput): Promise<EvaluateResult> {
    const started = Date.now();
    const memo = await memoize(store, 'evaluate', input, async (prefix) => {
      const result = await runEngine(store, config.engine, {
        command: 'evaluate-classifier',
        params: { ...input.arch, batchSize: input.batchSize },
        inputs: { test: await manifestInput(input.test, input.classes), weights: { key: input.weightsKey } },
      });
      const evaluationKey = `${prefix}/evaluation.json`;
      await store.putFile(evaluationKey, result.outputs.evaluation);
      await result.cleanup();
      const evaluation = await store.getJson<EvaluationFile>(evaluationKey);
      const perClass = Object.fromEntries(Object.entries(evaluation.perClass).map(([name, value]) => [name, value.accuracy]));
      return { evaluationKey, overallAccuracy: evaluation.overallAccuracy, perClass, computed: true, wallMs: Date.now() - started };
    });
    return { ...memo.value, computed: memo.computed, wallMs: memo.computed ? memo.value.wallMs : Date.now() - started };
  }

  return { train, evaluate };
}
