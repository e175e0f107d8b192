/**
 * gpu queue: the baseline arms, which classify the test set without training (`clip-zero-shot`,
 * §6.3). Memoized by lib/memo.ts with the model folder's content (`reads.prefixes`), so replaced
 * weights are a new step. Types: lib/steps/baselines.ts.
 */
import type { ActivityDeps } from '../lib/deps.js';
import { runEngine } from '../lib/engine/activity.js';
import { localManifest } from '../lib/engine/local-manifest.js';
import { evaluationFileSchema, parseEngineOutput, parseEngineSummary } from '../lib/engine/results.js';
import { EngineRunner } from '../lib/engine/runner.js';
import { BadInputError } from '../lib/errors.js';
import { memoize } from '../lib/memo.js';
import { folderPrefix } from '../lib/store/common.js';
import type { ClipZeroShotInput, ClipZeroShotResult } from '../lib/steps/baselines.js';
import { CLIP_MODEL_FIELD, clipPrompts } from '../lib/sweep/baselines.js';

export type { ClipZeroShotInput, ClipZeroShotResult } from '../lib/steps/baselines.js';

export function createBaselineActivities({ store, config }: ActivityDeps) {
  const runner = new EngineRunner(store, config.engine);

  async function clipZeroShot(input: ClipZeroShotInput): Promise<ClipZeroShotResult> {
    // `synthmix plan` names a missing folder before a sweep starts; this names it to a sweep started without it.
    if (!(await store.stat(`${folderPrefix(input.modelPrefix)}config.json`))) {
      throw new BadInputError(`${CLIP_MODEL_FIELD}: no CLIP folder (transformers layout, config.json) at ${store.description} ${input.modelPrefix}`);
    }
    return memoize(store, 'clip-zero-shot', input, async (prefix) => {
      const result = await runEngine(store, config.engine, {
        command: 'clip-zero-shot',
        params: { prompts: clipPrompts(input.classes, input.templates), batchSize: input.batchSize },
        inputs: {
          model: { prefix: input.modelPrefix },
          test: { localPath: (await localManifest(store, runner, config.engine.cacheDir, input.test, { classes: input.classes })).path },
        },
      });
      const summary = parseEngineSummary('clip-zero-shot', result.summary);
      const evaluationKey = `${prefix}/evaluation.json`;
      const logitsKey = `${prefix}/logits.npy`;
      await store.putFile(evaluationKey, result.outputs.evaluation);
      await store.putFile(logitsKey, result.outputs.logits);
      await result.cleanup();
      // The report reads this file as it reads evaluate-classifier's: check it has that shape.
      parseEngineOutput('clip-zero-shot', 'evaluation.json', evaluationFileSchema, await store.getJson<unknown>(evaluationKey));
      return { evaluationKey, logitsKey, modelPrefix: input.modelPrefix, overallAccuracy: summary.overallAccuracy, testImages: summary.testImages };
    }, { references: (r) => [{ key: r.evaluationKey }, { key: r.logitsKey }], reads: { prefixes: [input.modelPrefix] } });
  }

  return { clipZeroShot };
}
