/**
 * gpu queue: train and evaluate ResNet-18 classifiers on the engine (`train-classifier`,
 * `evaluate-classifier`). Outputs are memoized by a hash of their inputs (lib/memo.ts); a retried
 * attempt resumes from the checkpoint in its last heartbeat. Types: lib/steps/classifier.ts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ActivityDeps } from '../lib/deps.js';
import type { ManifestRef } from '../lib/data/manifest.js';
import { runEngine } from '../lib/engine/activity.js';
import { engineSummaries, evaluationFileSchema, parseEngineOutput, parseEngineSummary, type EngineSummary } from '../lib/engine/results.js';
import { EngineRunner } from '../lib/engine/runner.js';
import { localManifest } from '../lib/engine/local-manifest.js';
import { memoize, type StepTiming } from '../lib/memo.js';
import { findShipped, uploadShipped, type ShippedOrigin } from '../lib/shipped-models.js';
import { trainReads, type EvaluateInput, type EvaluateResult, type TrainInput, type TrainResult } from '../lib/steps/classifier.js';

export type { ClassifierArch, EvaluateInput, EvaluateResult, TrainInput, TrainResult } from '../lib/steps/classifier.js';

/** The train step's files under its prefix. */
export const TRAIN_OUTPUTS = { best: 'best.pt', final: 'final.pt', metrics: 'metrics.json' } as const;
/** A shipped train folder's engine summary (what the training run returned), beside TRAIN_OUTPUTS. */
export const SHIPPED_SUMMARY = 'summary.json';

function trainResult(prefix: string, summary: EngineSummary<'train-classifier'>, shipped?: ShippedOrigin): Omit<TrainResult, keyof StepTiming> {
  return {
    weightsKey: `${prefix}/${TRAIN_OUTPUTS.best}`,
    finalKey: `${prefix}/${TRAIN_OUTPUTS.final}`,
    metricsKey: `${prefix}/${TRAIN_OUTPUTS.metrics}`,
    bestValAcc: summary.bestValAcc,
    bestEpoch: summary.bestEpoch,
    epochs: summary.epochs,
    trainImages: summary.trainImages,
    valImages: summary.valImages,
    imagesPerSec: summary.imagesPerSec,
    resumedFromEpoch: summary.resumedFromEpoch ?? 0,
    environment: summary.environment,
    ...(shipped ? { shipped } : {}),
  };
}

export function createClassifierActivities({ store, config }: ActivityDeps) {
  const runner = new EngineRunner(store, config.engine);
  const manifestInput = async (ref: ManifestRef, classes: string[]) => ({
    localPath: (await localManifest(store, runner, config.engine.cacheDir, ref, { classes })).path,
  });

  async function train(input: TrainInput): Promise<TrainResult> {
    return memoize(store, 'train', input, async (prefix) => {
      // The demo and tiny presets' prior-domain classifiers ship with synthmix (lib/shipped-models.ts): uploaded, and said so.
      const shipped = await findShipped(prefix);
      if (shipped) {
        await uploadShipped(store, shipped, prefix);
        const summary = parseEngineOutput('train-classifier', path.join(shipped.origin.folder, SHIPPED_SUMMARY), engineSummaries['train-classifier'], JSON.parse(await readFile(path.join(shipped.dir, SHIPPED_SUMMARY), 'utf8')));
        return trainResult(prefix, summary, shipped.origin);
      }
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
      const summary = parseEngineSummary('train-classifier', result.summary);
      await store.putFile(`${prefix}/${TRAIN_OUTPUTS.best}`, result.outputs.best);
      await store.putFile(`${prefix}/${TRAIN_OUTPUTS.final}`, result.outputs.final);
      await store.putFile(`${prefix}/${TRAIN_OUTPUTS.metrics}`, result.outputs.metrics);
      await result.cleanup();
      return trainResult(prefix, summary);
    }, {
      references: (r) => [{ key: r.weightsKey }, { key: r.finalKey }, { key: r.metricsKey }],
      reads: trainReads(input),
    });
  }

  async function evaluate(input: EvaluateInput): Promise<EvaluateResult> {
    return memoize(store, 'evaluate', input, async (prefix) => {
      const result = await runEngine(store, config.engine, {
        command: 'evaluate-classifier',
        params: { ...input.arch, batchSize: input.batchSize },
        inputs: { test: await manifestInput(input.test, input.classes), weights: { key: input.weightsKey } },
      });
      const evaluationKey = `${prefix}/evaluation.json`;
      await store.putFile(evaluationKey, result.outputs.evaluation);
      await result.cleanup();
      const evaluation = parseEngineOutput('evaluate-classifier', 'evaluation.json', evaluationFileSchema, await store.getJson<unknown>(evaluationKey));
      const perClass = Object.fromEntries(Object.entries(evaluation.perClass).map(([name, value]) => [name, value.accuracy]));
      return { evaluationKey, overallAccuracy: evaluation.overallAccuracy, perClass };
    }, { references: (r) => [{ key: r.evaluationKey }], reads: { keys: [input.weightsKey] } });
  }

  return { train, evaluate };
}
