/**
 * Every activity of the graph, bound to its dependencies. Workers register the ones of their queue;
 * workflows `import type { CpuActivities, GpuActivities }` and never this module's values.
 */
import type { ActivityDeps } from '../lib/deps.js';
import { smokeActivities } from './smoke.js';

export function createCpuActivities(deps: ActivityDeps) {
  const smoke = smokeActivities(deps);
  return {
    storeRoundTrip: smoke.storeRoundTrip,
  };
}

export function createGpuActivities(deps: ActivityDeps) {
  const smoke = smokeActivities(deps);
  return {
    engineInfo: smoke.engineInfo,
    dummyTrain: smoke.dummyTrain,
  };
}

export type CpuActivities = ReturnType<typeof createCpuActivities>;
export type GpuActivities = ReturnType<typeof createGpuActivities>;
