/**
 * cpu queue: the paper's §6.1 prompts. An OpenAI-compatible endpoint writes `perClass` prompts per
 * class (lib/prompts/llm.ts, the real client); they are stored once and memoized (lib/memo.ts) by
 * everything they depend on — endpoint, API, model, classes, N, sampling settings, templates — and
 * never by the key, which only this worker's environment holds (`SYNTHMIX_LLM_API_KEY`) and which
 * goes only where the worker's `endpoints` config allows. Types: lib/steps/prompts.ts.
 *
 * Each class's answers are stored as soon as they arrive (`<step>/classes/<i>.json`): an attempt
 * retried after a 5xx storm or a lost worker asks only for the classes still missing, so nothing is
 * paid twice and the prompts already written (sampled at temperature 0.99) stay the ones used.
 */
import type { ActivityDeps } from '../lib/deps.js';
import { activityContext } from '../lib/deps.js';
import { BadInputError } from '../lib/errors.js';
import { loopBeat } from '../lib/heartbeat.js';
import { memoize } from '../lib/memo.js';
import { writePromptsWithLlm, type LlmPromptsResult as WrittenPrompts } from '../lib/prompts/llm.js';
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
        if (!Array.isArray(input.classes) || input.classes.length === 0) throw new BadInputError('llm prompts: no classes to write prompts for');
        const signal = activityContext()?.cancellationSignal;
        const total = input.classes.length * input.perClass;
        const perClass: WrittenPrompts[] = [];
        for (const [index, className] of input.classes.entries()) {
          const key = `${prefix}/classes/${index}.json`;
          // An earlier attempt's answers for this class (same inputs: the prefix is their hash).
          const earlier = (await store.exists(key)) ? await store.getJson<WrittenPrompts>(key) : undefined;
          const written =
            earlier ??
            (await writePromptsWithLlm([className], {
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
              ...(signal ? { signal } : {}),
              // Hundreds of classes (and Retry-After waits) outlast a heartbeat timeout.
              onCall: (done) => loopBeat('llm-prompts', index * input.perClass + done, total),
            }));
          if (!earlier) await store.putJson(key, written);
          perClass.push(written);
        }
        const value: StoredPrompts = {
          prompts: Object.fromEntries(input.classes.map((name, i) => [name, [...perClass[i].prompts[name]]])),
          record: { ...perClass[0].record, calls: perClass.flatMap((w) => w.record.calls) },
        };
        const prompts = await putValue(store, prefix, value);
        return { prompts, classes: input.classes.length, calls: value.record.calls.length };
      },
      { references: (result) => [result.prompts] },
    );
  }

  return { writeLlmPrompts };
}
