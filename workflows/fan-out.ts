/**
 * The sweep's fan-out and join, at any size.
 *
 * `fanOutBounded`: one unit of work per item, at most `concurrency` at once, recording each
 * outcome as it lands. It stops starting new items when Temporal suggests the history is getting
 * long, so the caller can `continueAsNew` with the outcomes so far.
 *
 * `fanOutPaged` / `runPage`: the hierarchical form for thousands of items. The items are cut into
 * pages; each page is a child workflow (`runPage`) that fans out over its items (bounded, with its
 * own `continueAsNew`), writes its outcomes to the store as one JSON page and returns only the
 * page's reference and a tally. The parent's history then grows with the pages, not the items,
 * no workflow ever has more than `concurrency` children pending (Temporal refuses a 2,001st), and
 * no payload carries a list that grows with the sweep (2 MB per payload).
 */
import { defineQuery, setHandler, workflowInfo } from '@temporalio/workflow';
import type { StoredList, StoredValue } from '../lib/store/values.js';

export interface FanOutOptions {
  /** false: a stage that cannot hand over (its history stays short: few items, e.g. pages) runs to the end. */
  mayContinueAsNew?: boolean;
  /**
   * Hand over after starting this many items in one run, whatever Temporal suggests (a cluster may
   * set its suggestion thresholds high; the trivial sweep's test uses it to make a page hand over).
   */
  itemsPerRun?: number;
}

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
  options: FanOutOptions = {},
): Promise<'joined' | 'continue-as-new'> {
  const mayStop = options.mayContinueAsNew ?? true;
  const pending = items.filter((item) => !state.outcomes.has(item.id)).slice(0, mayStop ? (options.itemsPerRun ?? Infinity) : Infinity);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < pending.length && !(mayStop && workflowInfo().continueAsNewSuggested)) {
      const item = pending[next++];
      state.running.add(item.id);
      try {
        state.outcomes.set(item.id, await run(item));
      } finally {
        state.running.delete(item.id);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(concurrency, pending.length)) }, lane));
  return items.every((item) => state.outcomes.has(item.id)) ? 'joined' : 'continue-as-new';
}

/** What a page's items add up to (the sweep's stage timings and cell counts). */
export interface Tally {
  items: number;
  failed: number;
  /** Activities run by the items, their own summed wall time, and how many computed (memo misses). */
  activities: number;
  activityMs: number;
  computed: number;
}

export const emptyTally = (): Tally => ({ items: 0, failed: 0, activities: 0, activityMs: 0, computed: 0 });

export function addTallies(tallies: readonly Tally[]): Tally {
  const sum = emptyTally();
  for (const t of tallies) for (const k of Object.keys(sum) as Array<keyof Tally>) sum[k] += t[k];
  return sum;
}

/** What a page child returns: its outcomes by reference, never the outcomes. */
export interface PageResult {
  outcomes: StoredValue;
  tally: Tally;
  /** Runs of the page workflow: 1 + its `continueAsNew` hand-overs. */
  runs: number;
}

/** One page of items, as the parent hands it to a page child. */
export interface Page<T> {
  id: string;
  /** The page's position (0-based): names its child workflow. */
  index: number;
  items: T[];
  /** Items of this page at once. */
  lanes: number;
  /** Items per run of the page workflow before it hands over (default: as Temporal suggests). */
  itemsPerRun?: number;
}

/** The input every page workflow takes: its page, what its items share, and its own carried state. */
export interface PageInput<T, C> {
  page: Page<T>;
  context: C;
  carried?: { outcomes: Array<[string, unknown]>; runs: number };
}

/** Pages running at once: several, so one page's tail (its last slow items) does not idle the others' lanes. */
const PAGES_AT_ONCE = 4;

/** Cut `items` into pages of at most `pageSize`, with lanes so that all pages at once run ≤ `concurrency` items. */
export function pagesOf<T>(items: readonly T[], pageSize: number, concurrency: number, itemsPerRun?: number): Array<Page<T>> {
  const size = Math.max(1, Math.floor(pageSize));
  const count = Math.ceil(items.length / size);
  const lanes = Math.max(1, Math.floor(Math.max(1, concurrency) / Math.max(1, Math.min(count, PAGES_AT_ONCE, concurrency))));
  return Array.from({ length: count }, (_, index) => ({ id: `page-${index}`, index, items: items.slice(index * size, (index + 1) * size), lanes, ...(itemsPerRun ? { itemsPerRun } : {}) }));
}

/**
 * The parent side: run every page as a child (`startPage`), a few at once; the joined list is the
 * pages' outcome references in item order. `'continue-as-new'` as in `fanOutBounded`.
 */
export async function fanOutPaged<T>(
  pages: ReadonlyArray<Page<T>>,
  concurrency: number,
  state: FanOutState<PageResult>,
  startPage: (page: Page<T>) => Promise<PageResult>,
  options: FanOutOptions = {},
): Promise<'joined' | 'continue-as-new'> {
  return fanOutBounded(pages, Math.max(1, Math.min(PAGES_AT_ONCE, concurrency)), state, startPage, options);
}

/** The joined result of a paged fan-out (call after `'joined'`). */
export function joinPages<T>(pages: ReadonlyArray<Page<T>>, results: ReadonlyMap<string, PageResult>): { list: StoredList; tally: Tally; runs: number } {
  const joined = pages.map((page) => results.get(page.id) as PageResult);
  return { list: { pages: joined.map((r) => r.outcomes) }, tally: addTallies(joined.map((r) => r.tally)), runs: joined.reduce((n, r) => n + r.runs, 0) };
}

export interface PageSteps<T, R, L> {
  /** Run one item (typically a child workflow). */
  run: (item: T) => Promise<R>;
  /** What the page keeps of an outcome (the large parts are in the store already). */
  lean: (outcome: R) => L;
  tally: (outcome: L) => Tally;
  /** Write the page's lean outcomes, in item order, to the store. */
  store: (outcomes: L[]) => Promise<StoredValue>;
  /** `continueAsNew` of the page workflow with this carried state. */
  continueAsNew: (carried: NonNullable<PageInput<T, unknown>['carried']>) => Promise<never>;
}

/** Where a page child is: its items finished (of which failed) and the ids of those in flight. */
export interface PageProgress {
  items: number;
  done: number;
  failed: number;
  running: string[];
}

/**
 * A page child's own progress, so `synthmix status` learns per item what a page finished before the
 * page returns (its parent only hears of it at the end): a few queries per tick, one per running page.
 */
export const pageProgressQuery = defineQuery<PageProgress>('pageProgress');

/** The child side: one page's bounded fan-out, its `continueAsNew`s, and its outcomes stored as one page. */
export async function runPage<T extends { id: string }, C, R, L>(input: PageInput<T, C>, steps: PageSteps<T, R, L>): Promise<PageResult> {
  const outcomes = new Map<string, L>((input.carried?.outcomes ?? []) as Array<[string, L]>);
  const runs = (input.carried?.runs ?? 0) + 1;
  const { items, lanes, itemsPerRun } = input.page;
  const options = itemsPerRun ? { itemsPerRun } : {};
  const running = new Set<string>();
  setHandler(pageProgressQuery, () => ({
    items: items.length,
    done: outcomes.size,
    failed: [...outcomes.values()].reduce((n, lean) => n + steps.tally(lean).failed, 0),
    running: [...running],
  }));
  if ((await fanOutBounded(items, lanes, { outcomes, running }, async (item) => steps.lean(await steps.run(item)), options)) === 'continue-as-new') {
    await steps.continueAsNew({ outcomes: [...outcomes.entries()], runs });
  }
  const ordered = items.map((item) => outcomes.get(item.id) as L);
  return { outcomes: await steps.store(ordered), tally: addTallies(ordered.map(steps.tally)), runs };
}
