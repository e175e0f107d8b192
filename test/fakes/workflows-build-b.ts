/**
 * "Build B" of the worker-versioning test (test/versioning.test.ts): this checkout's workflows with a
 * deliberately changed `trivialSweep` — it runs one more activity first and says so in its result.
 * Its first command differs from the original's, so a history recorded by the original cannot
 * replay on it (nondeterminism): a sweep of build A that ever ran a task on B would fail. A local
 * export shadows the same name from `export *`, so the workflow type stays `trivialSweep`.
 */
import { proxyCpuActivities } from '../../workflows/proxies.js';
import { trivialSweep as original, type TrivialSweepInput, type TrivialSweepResult } from '../../workflows/trivial-sweep.js';

export * from '../../workflows/index.js';

export const BUILD_B_MARK = 'built by B';

export async function trivialSweep(input: TrivialSweepInput): Promise<TrivialSweepResult & { mark: string }> {
  await proxyCpuActivities(input.queues).storeRoundTrip(BUILD_B_MARK);
  return { ...(await original(input)), mark: BUILD_B_MARK };
}
