/**
 * cpu queue: the paper's §6.1 prompts. An OpenAI-compatible endpoint writes `perClass` prompts per
 * class (lib/prompts/llm.ts, the real client); they are stored once and memoized (lib/memo.ts) by
 * everything they depend on — endpoint, API, model, classes, N, sampling settings, templates — and
 * never by the key, which only this worker's environment holds (`SYNTHMIX_LLM_API_KEY`) and which
 * goes only where the worker's `endpoints` config allows. Types: lib/steps/prompts.ts.
 */
import type { ActivityDeps } from '../lib/deps.js';
import { activityContext } from '../lib/deps.js';
import { loopBeat } from '../lib/heartbeat.js';
import { memoize } from '../lib/memo.js';
import { writePromptsWithLlm } from '../lib/prompts/llm.js';
import type { LlmPromptsInput, LlmPromptsResult, StoredPrompts } from '../lib/steps/prompts.js';
import { putValue } from '../lib/store/values.js';

export type { LlmPromptsInput, LlmPromptsResult, StoredPrompts } from '../lib/steps/prompts.js';

export function createPromptsActivities({ store, config }: ActivityDeps) {
  /** Write (or find) the prompts of `input.classes`; a missing key or a refused endpoint fails before any request. */
  async function writeLlmPrompts(input: LlmPromptsInput): Promise<LlmPromptsResult> {
    return memoize(
      store,
      'llm-prompts',
      input,
      async (prefix) => {
        const written = await writePromptsWithLlm(input.classes, {
          baseUrl: input.endpoint,
          api: input.api,
          endpoints: config.endpoints,
          model: input.model,
          temperature: input.temperature,
          maxTokens: input.maxTokens,
          templates: input.templates,
          promptsPerClass: input.perClass,
          ...(input.seed !== undefined ? { seed: input.seed } : {}),
          // A cancelled sweep stops asking (and paying) at once.
          ...(activityContext() ? { signal: activityContext()?.cancellationSignal } : {}),
          // Hundreds of classes (and Retry-After waits) outlast a heartbeat timeout.
          onCall: (done, total) => loopBeat('llm-prompts', done, total),
        });
        const value: StoredPrompts = { prompts: { ...written.prompts } as Record<string, string[]>, record: written.record };
        const prompts = await putValue(store, prefix, value);
        return { prompts, classes: input.classes.length, calls: written.record.calls.length };
      },
      { references: (result) => [result.prompts] },
    );
  }

  return { writeLlmPrompts };
}
