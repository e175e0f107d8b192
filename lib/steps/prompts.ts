/**
 * The LLM prompt step's contract (§6.1; activities/prompts.ts writes, the sweep asks once per
 * config, generation and the report read the stored prompts).
 */
import type { LlmApi, LlmPromptRecord } from '../prompts/llm.js';
import type { StepTiming } from '../memo.js';
import type { StoredValue } from '../store/values.js';

/** What the prompts depend on: the memo key. Never the API key (the worker's environment holds it). */
export interface LlmPromptsInput {
  /** API base URL (`generator.prompts.endpoint`). */
  endpoint: string;
  api: LlmApi;
  model: string;
  /** The classes to write prompts for, in the dataset's order. */
  classes: string[];
  perClass: number;
  temperature: number;
  maxTokens: number;
  /** LLM templates, `{}` for the class. */
  templates: string[];
  seed?: number;
}

/** The stored value (`StoredPrompts` at `LlmPromptsResult.prompts`): the prompts and how they were written. */
export interface StoredPrompts {
  /** class → its prompts, in template order (the cleaned answers, verbatim). */
  prompts: Record<string, string[]>;
  /** Every request and raw answer (no secrets): the prompts are reproducible from it, not from the endpoint. */
  record: LlmPromptRecord;
}

export interface LlmPromptsResult extends StepTiming {
  /** The stored `StoredPrompts` (it grows with the classes: never in workflow history itself). */
  prompts: StoredValue;
  classes: number;
  calls: number;
}
