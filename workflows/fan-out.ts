/**
 * The sweep's fan-out and join: run one unit of work per item, at most `concurrency` at once,
 * recording each outcome as it lands. It stops starting new items when Temporal suggests the
 * history is getting long, so the caller can `continueAsNew` with the outcomes so far (a sweep of
 * thousands of cells never hits the history limits).
 */
import { workflowInfo } from '@temporalio/workflow';

export interface FanOutState<R> {
  /** item id → outcome, for every finished item (filled in as they finish). */
  readonly outcomes: Map<string, R>;
  /** Ids of the items in flight (for the progress query). */
  readonly running: Set<string>;
}

/**
 * Returns `'joined'` when every item has an outcome, `'continue-as-new'` when it stopped early
 * because the history is long (the in-flight items were allowed to finish first).
 */
export async function fanOutBounded<T extends { id: string }, R>(
  items: readonly T[],
  concurrency: number,
  state: FanOutState<R>,
  run: (item: T) => Promise<R>,
): Promise<'joined' | 'continue-as-new'> {
  const pending = items.filter((item) => !state.outcomes.has(item.id));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < pending.length && !workflowInfo().continueAsNewSuggested) {
      const item = pending[next++];
      state.running.add(item.id);
      try {
        state.outcomes.set(item.id, await run(item));
      } finally {
        state.running.delete(item.id);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, lane));
  return items.every((item) => state.outcomes.has(item.id)) ? 'joined' : 'continue-as-new';
}
