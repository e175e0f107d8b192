/**
 * A sweep of trivial cells: the sweep's own fan-out, join and `continueAsNew` (workflows/fan-out.ts)
 * over thousands of child workflows that each run one small cpu activity. It proves a sweep far
 * larger than the paper's stays within Temporal's history limits, and measures what orchestration
 * costs per cell (bench/orchestration.ts).
 */
import { continueAsNew, executeChild, workflowInfo } from '@temporalio/workflow';
import type { Queues } from '../lib/temporal/queues.js';
import { proxyCpuActivities } from './proxies.js';
import { fanOutBounded } from './fan-out.js';

export interface TrivialCellOutcome {
  id: string;
  /** Time inside the cell's activity, measured by the activity. */
  activityMs: number;
}

export interface TrivialSweepInput {
  queues: Queues;
  cells: number;
  concurrency: number;
  carried?: { outcomes: TrivialCellOutcome[]; runs: number };
}

export interface TrivialSweepResult {
  cells: number;
  done: number;
  distinct: number;
  /** Runs of this workflow: 1 + the number of `continueAsNew` hand-overs. */
  runs: number;
  activityMs: number;
}

export async function trivialSweep(input: TrivialSweepInput): Promise<TrivialSweepResult> {
  const cells = Array.from({ length: input.cells }, (_, i) => ({ id: `cell-${i}` }));
  const outcomes = new Map((input.carried?.outcomes ?? []).map((o) => [o.id, o]));
  const runs = (input.carried?.runs ?? 0) + 1;
  const parent = workflowInfo().workflowId;
  const runCell = (cell: { id: string }) =>
    executeChild(trivialCell, { args: [input.queues, cell.id], workflowId: `${parent}/${cell.id}`, taskQueue: input.queues.cpu });
  if ((await fanOutBounded(cells, input.concurrency, { outcomes, running: new Set() }, runCell)) === 'continue-as-new') {
    await continueAsNew<typeof trivialSweep>({ ...input, carried: { outcomes: [...outcomes.values()], runs } });
  }
  const all = [...outcomes.values()];
  return {
    cells: input.cells,
    done: all.length,
    distinct: new Set(all.map((o) => o.id)).size,
    runs,
    activityMs: all.reduce((sum, o) => sum + o.activityMs, 0),
  };
}

/** One trivial cell: a store round trip on the cpu queue. */
export async function trivialCell(queues: Queues, id: string): Promise<TrivialCellOutcome> {
  const { wallMs } = await proxyCpuActivities(queues).storeRoundTrip(id);
  return { id, activityMs: wallMs };
}
