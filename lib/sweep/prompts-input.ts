/**
 * The LLM prompt step's input from the sweep config (pure: the sweep workflow and tests build the
 * very same input, so the memo finds the same prompts).
 */
import type { LlmPromptsInput } from '../steps/prompts.js';
import type { SweepConfig } from './config.js';

/**
 * The input of the `llm` prompt step for the curated `classes`, or undefined when the config's prompts
 * are templates. Classes with `generator.classPrompts` keep theirs: the LLM is not asked about them.
 */
export function llmPromptsInput(config: Pick<SweepConfig, 'generator'>, classes: readonly string[]): LlmPromptsInput | undefined {
  const prompts = config.generator.prompts;
  if (prompts?.kind !== 'llm') return undefined;
  const asked = classes.filter((name) => config.generator.classPrompts[name] === undefined);
  if (asked.length === 0) return undefined;
  return {
    endpoint: prompts.endpoint,
    api: prompts.api,
    model: prompts.model,
    classes: asked,
    perClass: prompts.perClass,
    temperature: prompts.temperature,
    maxTokens: prompts.maxTokens,
    templates: [...prompts.templates],
    ...(prompts.seed !== undefined ? { seed: prompts.seed } : {}),
  };
}
