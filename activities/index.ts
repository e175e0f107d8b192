/**
 * Every activity of the graph, bound to its dependencies. Workers register the ones of their queue;
 * workflows `import type { CpuActivities, GpuActivities }` and never this module's values.
 * Each module exports one factory, `createXActivities(deps)`.
 */
import type { ActivityDeps } from '../lib/deps.js';
import { createSmokeActivities } from './smoke.js';
import { createDatasetActivities } from './dataset.js';
import { createMixActivities } from './mix.js';
import { createClassifierActivities } from './classifier.js';
import { createGeneratorActivities } from './generator.js';
import { createFidActivities } from './fid.js';
import { createBaselineActivities } from './baselines.js';
import { createReportActivities } from './report.js';
import { createHistoryActivities } from './history.js';
import { createReplicateActivities } from './replicate.js';
import { createValueActivities } from './values.js';
import { createQueueActivities } from './queues.js';
import { createPromptsActivities } from './prompts.js';

/**
 * cpu: curate, mix, report and the small dataset steps around them; and the remote calls (the
 * Replicate generator backend, the LLM prompt writer), which wait on an API and need no local GPU.
 */
export function createCpuActivities(deps: ActivityDeps) {
  const { storeRoundTrip, trivialJoin } = createSmokeActivities(deps);
  return {
    storeRoundTrip,
    trivialJoin,
    ...createDatasetActivities(deps),
    ...createMixActivities(deps),
    ...createReportActivities(deps),
    ...createHistoryActivities(deps),
    ...createReplicateActivities(deps),
    ...createValueActivities(deps),
    ...createQueueActivities(deps),
    ...createPromptsActivities(deps),
  };
}

/** gpu: every step that runs the engine. */
export function createGpuActivities(deps: ActivityDeps) {
  const { engineInfo, dummyTrain } = createSmokeActivities(deps);
  return {
    engineInfo,
    dummyTrain,
    ...createClassifierActivities(deps),
    ...createGeneratorActivities(deps),
    ...createFidActivities(deps),
    ...createBaselineActivities(deps),
  };
}

export type CpuActivities = ReturnType<typeof createCpuActivities>;
export type GpuActivities = ReturnType<typeof createGpuActivities>;
