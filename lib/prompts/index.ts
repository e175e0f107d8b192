/** Prompts: the paper's templates, per-class prompt lists, and the optional LLM prompt writer (§6.1). */
export {
  PAPER_DIFFUSION_TEMPLATE,
  DIFFUSION_TEMPLATE_VARIANTS,
  PAPER_LLM_TEMPLATES,
  PAPER_LLM_SETTINGS,
  TEMPLATE_SETS,
  checkTemplate,
  fillTemplate,
  displayName,
  promptsForClass,
  llmPromptTemplates,
} from './templates.js';
export type { ClassPromptOverride, PromptOptions, ClassPrompts } from './templates.js';
export { writePromptsWithLlm, cleanLlmText, LlmPromptError, LLM_API_KEY_ENV, LLM_APIS } from './llm.js';
export type { LlmApi, LlmPromptWriterOptions, LlmPromptsResult, LlmPromptRecord, LlmCallRecord } from './llm.js';
