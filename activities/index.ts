/**
 * Every activity of the graph, bound to its dependencies. Workers register the ones of their queue;
 * workflows `import type { CpuActivities, GpuActivities }` and never this module's values.
 */
import type { ActivityDeps } from '../lib/deps.js';
import { smokeActivities } from './smoke.js';
import { datasetActivities } from './dataset.js';
import { createMixActivities } from './mix.js';
import { classifierActivities } from './classifier.js';
import { generatorActivities } from './generator.js';
import { fidActivities } from './fid.js';
import { reportActivities } from './report.js';
import { historyActivities } from './history.js';
import { replicateActivities } from './replicate.js';

/**
 * cpu: curate, mix, report and the small dataset steps around them; and the Replicate generator
 * backend, which waits on a remote API and needs no local GPU (a gpu slot would sit idle).
 */
export function createCpuActivities(deps: ActivityDeps) {
  const { storeRoundTrip } = smokeActivities(deps);
  return {
    storeRoundTrip,
    ...datasetActivities(deps),
    ...createMixActivities(deps.store),
    ...reportActivities(deps),
    ...historyActivities(deps),
    ...replicateActivities(deps),
  };
}

/** gpu: every step that runs the engine. */
export function createGpuActivities(deps: ActivityDeps) {
  const { engineInfo, dummyTrain } = smokeActivities(deps);
  return {
    engineInfo,
    dummyTrain,
    ...classifierActivities(deps),
    ...generatorActivities(deps),
    ...fidActivities(deps),
  };
}

export type CpuActivities = ReturnType<typeof createCpuActivities>;
export type GpuActivities = ReturnType<typeof createGpuActivities>;
