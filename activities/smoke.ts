import { Context } from '@temporalio/activity';
import type { ActivityDeps } from '../lib/deps.js';
import { runEngine } from '../lib/engine/activity.js';
import { parseEngineSummary, type EngineSummary } from '../lib/engine/results.js';
import { hashJson } from '../lib/hash.js';

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
