import { Context } from '@temporalio/activity';
import type { ActivityDeps } from '../lib/deps.js';
import { runEngine } from '../lib/engine/activity.js';
import { parseEngineSummary, type EngineSummary } from '../lib/engine/results.js';
import { hashJson } from '../lib/hash.js';
import { mapLimit } from '../lib/concurrency.js';
import { getValue, readList, type StoredList, type StoredValue } from '../lib/store/values.js';

/** What the engine on a worker is (its `info` command). */
export type EngineInfo = EngineSummary<'info'>;

export interface DummyTrainInput {
  steps: number;
  stepSeconds?: number;
  checkpointEvery?: number;
  failAt?: number | null;
  crashAt?: number | null;
  /** Distinguishes otherwise identical runs (tests). */
  tag?: string;
}

export interface DummyTrainResult {
  steps: number;
  total: number;
  resumedFrom: number;
  counterKey: string;
  attempt: number;
}

export interface TrivialJoinInput {
  /** The trivial sweep's lean cell outcomes, as stored pages. */
  cells: StoredList;
  /** Per source, its per-class results (stand-ins for manifests), as stored pages. */
  synthetic: Record<string, StoredList>;
}

/** What the trivial sweep's join read back: its report step's input, resolved from the store. */
export interface TrivialJoin {
  cells: number;
  distinctCells: number;
  /** Per-class results of all cells, read from each cell's stored object. */
  perClassEntries: number;
  /** source → classes listed (each one's object present in the store). */
  classesPerSource: Record<string, number>;
}

/**
 * Foundation activities: a cpu round trip through the store, the engine's `info`, and a long
 * checkpointing dummy command. They prove the plumbing every graph step relies on.
 */
export function createSmokeActivities({ store, config }: ActivityDeps) {
  return {
    /** cpu: write and read back a small object; returns its sha256. */
    async storeRoundTrip(text: string): Promise<{ key: string; sha256: string; wallMs: number }> {
      const began = performance.now();
      const info = await store.putContentAddressed('smoke', Buffer.from(text, 'utf8'), '.txt');
      const back = await store.get(info.key);
      return { key: info.key, sha256: back.length === info.size ? info.sha256 : 'mismatch', wallMs: performance.now() - began };
    },

    /** cpu: the trivial sweep's join (workflows/trivial-sweep.ts): resolve its stored lists as the report step does. */
    async trivialJoin(input: TrivialJoinInput): Promise<TrivialJoin> {
      const cells = await readList<{ id: string; perClassKey: StoredValue }>(store, input.cells);
      const perClass = await mapLimit(cells, 16, async (cell) => Object.keys((await getValue<{ perClass: Record<string, number> }>(store, cell.perClassKey)).perClass).length);
      const classesPerSource: Record<string, number> = {};
      for (const [source, list] of Object.entries(input.synthetic)) {
        const refs = await readList<StoredValue>(store, list);
        await mapLimit(refs, 16, (ref) => getValue<unknown>(store, ref));
        classesPerSource[source] = refs.length;
      }
      return { cells: cells.length, distinctCells: new Set(cells.map((c) => c.id)).size, perClassEntries: perClass.reduce((a, b) => a + b, 0), classesPerSource };
    },

    /** gpu: what the engine on this worker is. */
    async engineInfo(): Promise<EngineInfo> {
      const result = await runEngine(store, config.engine, { command: 'info', params: {} });
      await result.cleanup();
      return parseEngineSummary('info', result.summary);
    },

    /** gpu: a long dummy command that checkpoints; resumes from its checkpoint on retry. */
    async dummyTrain(input: DummyTrainInput): Promise<DummyTrainResult> {
      const id = hashJson({ step: 'dummy-train', input });
      const result = await runEngine(store, config.engine, {
        command: 'dummy-train',
        params: { ...input },
        checkpointKey: `checkpoints/dummy-train/${id}`,
      });
      const counterKey = `runs/dummy-train/${id}/counter.json`;
      await store.putFile(counterKey, result.outputs.counter);
      await result.cleanup();
      const summary = parseEngineSummary('dummy-train', result.summary);
      return { ...summary, counterKey, attempt: Context.current().info.attempt };
    },
  };
}
