/**
 * gpu queue: train and evaluate ResNet-18 classifiers on the engine (`train-classifier`,
 * `evaluate-classifier`). Outputs are memoized by a hash of their inputs (lib/memo.ts); a retried
 * attempt resumes from the checkpoint in its last heartbeat. Types: lib/steps/classifier.ts.
 */
import type { ActivityDeps } from '../lib/deps.js';
import type { ManifestRef } from '../lib/data/manifest.js';
import { runEngine } from '../lib/engine/activity.js';
import { evaluationFileSchema, parseEngineOutput, parseEngineSummary } from '../lib/engine/results.js';
import { EngineRunner } from '../lib/engine/runner.js';
import { localManifest } from '../lib/engine/local-manifest.js';
import { memoize } from '../lib/memo.js';
import type { EvaluateInput, EvaluateResult, TrainInput, TrainResult } from '../lib/steps/classifier.js';

export type { ClassifierArch, EvaluateInput, EvaluateResult, TrainInput, TrainResult } from '../lib/steps/classifier.js';

export function createClassifierActivities({ store, config }: ActivityDeps) {
  const runner = new EngineRunner(store, config.engine);
  const manifestInput = async (ref: ManifestRef, classes: string[]) => ({
    localPath: (await localManifest(store, runner, config.engine.cacheDir, ref, { classes })).path,
  });

  async function train(input: TrainInput): Promise<TrainResult> {
    return memoize(store, 'train', input, async (prefix) => {
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
      const weightsKey = `${prefix}/best.pt`;
      await store.putFile(weightsKey, result.outputs.best);
      await store.putFile(`${prefix}/final.pt`, result.outputs.final);
      await store.putFile(`${prefix}/metrics.json`, result.outputs.metrics);
      await result.cleanup();
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
        environment: summary.environment,
      };
    }, {
      references: (r) => [{ key: r.weightsKey }, { key: r.finalKey }, { key: r.metricsKey }],
      reads: { keys: [input.mode !== 'scratch' ? input.pretrainedKey : undefined] },
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
