/**
 * A sweep of trivial steps through every stage shape of the real sweep (workflows/sweep.ts), with
 * the same fan-out machinery (workflows/fan-out.ts) and the same store references:
 *
 *   per source: generation pages ─► one `trivialClass` child per class (bounded) ─► stored manifest pages
 *   ─► cells (in the parent up to a page, else in page children) ─► each cell's per-class results,
 *      the page keeping lean outcomes ─► stored outcome pages ─► the join reads them (the report's input)
 *
 * Each unit is one small cpu activity (a store round trip), so thousands of classes and cells run
 * in minutes: it proves a sweep far larger than the paper's stays within Temporal's limits (history
 * length and size, 2 MB per payload, 2,000 pending children) and measures what orchestration costs
 * per cell (bench/orchestration.ts).
 */
import { continueAsNew, executeChild, workflowInfo } from '@temporalio/workflow';
import type { TrivialJoin } from '../activities/smoke.js';
import type { StoredList, StoredValue } from '../lib/store/values.js';
import type { Queues } from '../lib/temporal/queues.js';
import { proxyCpuActivities } from './proxies.js';
import { addTallies, fanOutBounded, fanOutPaged, joinPages, pagesOf, runPage, type Page, type PageInput, type PageResult, type Tally } from './fan-out.js';

export interface TrivialCellOutcome {
  id: string;
  /** Time inside the cell's activity, measured by the activity. */
  activityMs: number;
  /** The cell's per-class results (a real cell: its per-class accuracies); the page drops them, they are stored at `perClassKey`. */
  perClass?: Record<string, number>;
  perClassKey: StoredValue;
}

export interface TrivialSweepInput {
  queues: Queues;
  cells: number;
  /** Units of work at once (cells; generation children per source). */
  concurrency: number;
  /** Classes per source for the generation stage (default 0: no generation stage). */
  classes?: number;
  /** Sources generated per class (default 2 when there are classes). */
  sources?: number;
  /** Items per page child (defaults: the sweep's CELLS_PER_PAGE / CLASSES_PER_PAGE, 500). */
  cellsPerPage?: number;
  classesPerPage?: number;
  /** Items per run of a page child before it hands over with `continueAsNew` (default: as Temporal suggests). */
  itemsPerPageRun?: number;
  carried?: TrivialCarried;
}

interface TrivialCarried {
  runs: number;
  synthetic: Record<string, StoredList>;
  generation: Tally;
  /** Cells run in the parent (a sweep of one page): lean outcomes so far. */
  outcomes: TrivialCellOutcome[];
  /** Cells run in page children: the finished pages. */
  pages: Array<[string, PageResult]>;
}

export interface TrivialSweepResult {
  cells: number;
  done: number;
  distinct: number;
  /** Runs of this workflow: 1 + the number of `continueAsNew` hand-overs. */
  runs: number;
  /** Runs of the page children, summed (more than the pages: a page handed over). */
  pageRuns: number;
  activityMs: number;
  generation: { children: number; activityMs: number };
  /** What the join read back from the store (the report's input). */
  join: TrivialJoin;
}

const DEFAULT_PAGE = 500;

export async function trivialSweep(input: TrivialSweepInput): Promise<TrivialSweepResult> {
  const cpu = proxyCpuActivities(input.queues);
  const parent = workflowInfo().workflowId;
  const valuesPrefix = `values/trivial/${safeName(parent)}`;
  const runs = (input.carried?.runs ?? 0) + 1;
  const classes = Array.from({ length: input.classes ?? 0 }, (_, i) => `class-${i}`);
  const sources = classes.length > 0 ? Array.from({ length: input.sources ?? 2 }, (_, i) => `source-${i}`) : [];

  // ── generate: per source, pages of per-class children ──
  let synthetic = input.carried?.synthetic;
  let generation = input.carried?.generation ?? addTallies([]);
  let pageRuns = 0;
  if (!synthetic) {
    const generated = await Promise.all(
      sources.map(async (source) => {
        const pages = pagesOf(classes.map((id) => ({ id })), input.classesPerPage ?? DEFAULT_PAGE, input.concurrency, input.itemsPerPageRun);
        const results = new Map<string, PageResult>();
        const startPage = (page: Page<{ id: string }>) =>
          executeChild(trivialClassPage, { args: [{ page, context: { queues: input.queues, source, parent, valuesPrefix } }], workflowId: `${parent}/generate/${source}/${page.id}`, taskQueue: input.queues.cpu });
        await fanOutPaged(pages, input.concurrency, { outcomes: results, running: new Set() }, startPage, { mayContinueAsNew: false });
        return [source, joinPages(pages, results)] as const;
      }),
    );
    synthetic = Object.fromEntries(generated.map(([source, joined]) => [source, joined.list]));
    generation = addTallies(generated.map(([, joined]) => joined.tally));
    pageRuns += generated.reduce((n, [, joined]) => n + joined.runs, 0);
  }

  // ── cells: in the parent up to a page, else in page children ──
  const cells = Array.from({ length: input.cells }, (_, i) => ({ id: `cell-${i}` }));
  const outcomes = new Map((input.carried?.outcomes ?? []).map((o) => [o.id, o]));
  const pageResults = new Map<string, PageResult>(input.carried?.pages ?? []);
  const context: TrivialCellContext = { queues: input.queues, parent, classes, valuesPrefix };
  const handOver = () =>
    continueAsNew<typeof trivialSweep>({ ...input, carried: { runs, synthetic, generation, outcomes: [...outcomes.values()], pages: [...pageResults.entries()] } });
  const cellsPerPage = input.cellsPerPage ?? DEFAULT_PAGE;
  let list: StoredList;
  let cellsTally: Tally;
  if (cells.length <= cellsPerPage) {
    if ((await fanOutBounded(cells, input.concurrency, { outcomes, running: new Set() }, async (cell) => leanTrivial(await runTrivialCell(context, cell)))) === 'continue-as-new') await handOver();
    const joined = cells.map((cell) => outcomes.get(cell.id) as TrivialCellOutcome);
    list = { pages: [await cpu.storePage({ prefix: `${valuesPrefix}/cells`, items: joined })] };
    cellsTally = addTallies(joined.map(trivialTally));
  } else {
    const pages = pagesOf(cells, cellsPerPage, input.concurrency, input.itemsPerPageRun);
    const startPage = (page: Page<{ id: string }>) => executeChild(trivialCellPage, { args: [{ page, context }], workflowId: `${parent}/cells/${page.id}`, taskQueue: input.queues.cpu });
    if ((await fanOutPaged(pages, input.concurrency, { outcomes: pageResults, running: new Set() }, startPage)) === 'continue-as-new') await handOver();
    const joined = joinPages(pages, pageResults);
    list = joined.list;
    cellsTally = joined.tally;
    pageRuns += joined.runs;
  }

  // ── join: what the report step would receive, read back from the store ──
  const join = await cpu.trivialJoin({ cells: list, synthetic });
  return {
    cells: input.cells,
    done: cellsTally.items,
    distinct: join.distinctCells,
    runs,
    pageRuns,
    activityMs: cellsTally.activityMs,
    generation: { children: generation.items, activityMs: generation.activityMs },
    join,
  };
}

/** Store keys may not hold every workflow-id character. */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'sweep';
}

interface TrivialCellContext {
  queues: Queues;
  parent: string;
  classes: string[];
  valuesPrefix: string;
}

function runTrivialCell(context: TrivialCellContext, cell: { id: string }): Promise<TrivialCellOutcome> {
  return executeChild(trivialCell, { args: [context.queues, cell.id, context.classes], workflowId: `${context.parent}/${cell.id}`, taskQueue: context.queues.cpu });
}

const leanTrivial = ({ perClass: _perClass, ...lean }: TrivialCellOutcome): TrivialCellOutcome => lean;
const trivialTally = (o: TrivialCellOutcome): Tally => ({ items: 1, failed: 0, activities: 1, activityMs: o.activityMs, computed: 1 });

/** A page of trivial cells (the shape of `experimentPage`). */
export async function trivialCellPage(input: PageInput<{ id: string }, TrivialCellContext>): Promise<PageResult> {
  const cpu = proxyCpuActivities(input.context.queues);
  return runPage<{ id: string }, TrivialCellContext, TrivialCellOutcome, TrivialCellOutcome>(input, {
    run: (cell) => runTrivialCell(input.context, cell),
    lean: leanTrivial,
    tally: trivialTally,
    store: (outcomes) => cpu.storePage({ prefix: `${input.context.valuesPrefix}/cells`, items: outcomes }),
    continueAsNew: (carried) => continueAsNew<typeof trivialCellPage>({ ...input, carried }),
  });
}

interface TrivialClassContext {
  queues: Queues;
  source: string;
  parent: string;
  valuesPrefix: string;
}

interface TrivialClassLean {
  manifest: StoredValue;
  activityMs: number;
}

/** A page of per-class generation children (the shape of `classImagesPage`). */
export async function trivialClassPage(input: PageInput<{ id: string }, TrivialClassContext>): Promise<PageResult> {
  const { context } = input;
  const cpu = proxyCpuActivities(context.queues);
  return runPage<{ id: string }, TrivialClassContext, TrivialClassLean, TrivialClassLean>(input, {
    run: ({ id: className }) =>
      executeChild(trivialClass, { args: [context.queues, context.source, className], workflowId: `${context.parent}/generate/${context.source}/${className}`, taskQueue: context.queues.cpu }),
    lean: (result) => result,
    tally: (lean) => ({ items: 1, failed: 0, activities: 1, activityMs: lean.activityMs, computed: 1 }),
    store: (leans) => cpu.storePage({ prefix: `${context.valuesPrefix}/generate-${context.source}`, items: leans.map((l) => l.manifest) }),
    continueAsNew: (carried) => continueAsNew<typeof trivialClassPage>({ ...input, carried }),
  });
}

/** One class of one source (plays `classImages`): a store round trip standing for its manifest. */
export async function trivialClass(queues: Queues, source: string, className: string): Promise<TrivialClassLean> {
  const { key, sha256, wallMs } = await proxyCpuActivities(queues).storeRoundTrip(JSON.stringify({ source, className }));
  return { manifest: { key, sha256 }, activityMs: wallMs };
}

/** One trivial cell (plays `experiment`): per-class results stored by a store round trip, and returned too, as a real cell's evaluation is. */
export async function trivialCell(queues: Queues, id: string, classes: string[] = []): Promise<TrivialCellOutcome> {
  const perClass = Object.fromEntries(classes.map((name, i) => [name, ((i * 7919 + id.length) % 1000) / 1000]));
  const { key, sha256, wallMs } = await proxyCpuActivities(queues).storeRoundTrip(JSON.stringify({ id, perClass }));
  return { id, activityMs: wallMs, ...(classes.length > 0 ? { perClass } : {}), perClassKey: { key, sha256 } };
}
