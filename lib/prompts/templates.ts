/**
 * Prompt templates of the paper ("Dataset Augmentation using Diffusion Models", seed-paper.txt) and
 * the per-class prompt lists built from them.
 *
 * Two kinds of templates, not to be mixed up:
 * - DIFFUSION templates are prompts for the text-to-image model: the paper's synthetic sets come from
 *   "a photo of a {}" (with the class name in place of `{}`).
 * - LLM templates (§6.1) are prompts for a language model (GPT-3 davinci-002 in the paper,
 *   temperature 0.99, 20 max tokens); the LLM's answer becomes the diffusion prompt (lib/prompts/llm.ts).
 */
import { BadInputError } from '../errors.js';

/** The paper's diffusion prompt template. */
export const PAPER_DIFFUSION_TEMPLATE = 'a photo of a {}';

/**
 * Variants of "a photo of a {}" in the style of CLIP's ImageNet prompt ensemble. NOT from the paper:
 * a synthmix option for more prompt diversity. The first one is the paper's template.
 */
export const DIFFUSION_TEMPLATE_VARIANTS: readonly string[] = [
  PAPER_DIFFUSION_TEMPLATE,
  'a photo of the {}',
  'a close-up photo of a {}',
  'a bright photo of a {}',
  'a good photo of a {}',
  'a photo of a small {}',
  'a photo of a large {}',
  'a cropped photo of a {}',
];

/** The paper's §6.1 LLM prompt templates, verbatim (grammar included). */
export const PAPER_LLM_TEMPLATES: readonly string[] = [
  'Describe what a {} looks like?',
  'How can you identify a {}?',
  'What does a {} looks like?',
  'Describe an image from the internet of a {}?',
  'A caption of an image of {}:',
];

/** The paper's LLM sampling settings (§6.1): Davinci-002, temperature 0.99, max tokens 20. */
export const PAPER_LLM_SETTINGS = { model: 'davinci-002', temperature: 0.99, maxTokens: 20 } as const;

/** Named template sets, for configs. */
export const TEMPLATE_SETS: Readonly<Record<'paper' | 'variants', readonly string[]>> = {
  paper: [PAPER_DIFFUSION_TEMPLATE],
  variants: DIFFUSION_TEMPLATE_VARIANTS,
};

/** Check a template: a non-empty string with at least one `{}`. */
export function checkTemplate(template: unknown, where: string): string {
  if (typeof template !== 'string' || template.trim() === '') throw new BadInputError(`${where}: a template must be a non-empty string`);
  if (!template.includes('{}')) throw new BadInputError(`${where}: template ${JSON.stringify(template)} has no {} placeholder for the class`);
  return template;
}

/** Put `subject` in place of every `{}`. */
export function fillTemplate(template: string, subject: string): string {
  return template.split('{}').join(subject);
}

/** The words a class name stands for in prompts: `sea_turtle` → `sea turtle`. */
export function displayName(className: string): string {
  return className.replace(/[_]+/g, ' ').replace(/\s+/g, ' ').trim();
}

export interface ClassPromptOverride {
  /** The words used for the class in prompts (default: displayName(className)). */
  readonly name?: string;
  /** Templates for this class instead of the global ones. */
  readonly templates?: readonly string[];
  /** Literal prompts for this class (used round-robin), instead of any template. */
  readonly prompts?: readonly string[];
  /** Negative prompt for this class; `null` removes the global one. */
  readonly negativePrompt?: string | null;
}

export interface PromptOptions {
  /** Prompts to produce (one per image). */
  readonly count: number;
  /** Diffusion templates, used round-robin. Default: the paper's ["a photo of a {}"]. */
  readonly templates?: readonly string[];
  /** Negative prompt for every class (the paper used none). */
  readonly negativePrompt?: string;
  /**
   * Identifier of a personalised concept. `prefix` (DreamBooth): "a photo of a sks airplane";
   * `replace` (textual inversion): the token stands for the class, "a photo of a <airplane>".
   */
  readonly instanceToken?: string;
  readonly tokenMode?: 'prefix' | 'replace';
  /** Per-class overrides, by class name. */
  readonly overrides?: Readonly<Record<string, ClassPromptOverride>>;
  /** Prompts an LLM wrote for this class (writePromptsWithLlm): used round-robin instead of templates. */
  readonly llmPrompts?: readonly string[];
}

export interface ClassPrompts {
  readonly className: string;
  /** The words used for the class. */
  readonly subject: string;
  /** `count` prompts, prompt i for image i. */
  readonly prompts: readonly string[];
  readonly negativePrompt?: string;
  readonly source: 'templates' | 'override-prompts' | 'llm';
  /** Templates used (source `templates`). */
  readonly templates: readonly string[];
}

/**
 * The prompts for `count` images of one class. Deterministic: prompt i is template
 * `i mod templates.length` filled with the class (no randomness), so the same options always give
 * the same list, and a prefix of a longer list equals a shorter list.
 */
export function promptsForClass(className: string, options: PromptOptions): ClassPrompts {
  if (typeof className !== 'string' || className.trim() === '') throw new BadInputError('prompts: class name must be a non-empty string');
  const where = `prompts for class "${className}"`;
  const { count } = options;
  if (!Number.isInteger(count) || count < 0) throw new BadInputError(`${where}: count must be a non-negative integer, got ${String(count)}`);
  const override = options.overrides?.[className];
  const name = override?.name ?? displayName(className);
  if (name.trim() === '') throw new BadInputError(`${where}: override name is empty`);
  const token = options.instanceToken?.trim();
  const subject = token ? (options.tokenMode === 'replace' ? token : `${token} ${name}`) : name;

  let negativePrompt: string | undefined = options.negativePrompt;
  if (override && override.negativePrompt !== undefined) negativePrompt = override.negativePrompt ?? undefined;
  if (negativePrompt !== undefined && negativePrompt.trim() === '') negativePrompt = undefined;

  const cycle = (list: readonly string[]) => Array.from({ length: count }, (_, i) => list[i % list.length]);

  if (override?.prompts !== undefined) {
    const list = override.prompts;
    if (list.length === 0 || list.some((p) => typeof p !== 'string' || p.trim() === '')) {
      throw new BadInputError(`${where}: override prompts must be a non-empty list of non-empty strings`);
    }
    return { className, subject, prompts: cycle(list), ...(negativePrompt !== undefined ? { negativePrompt } : {}), source: 'override-prompts', templates: [] };
  }
  if (options.llmPrompts !== undefined) {
    const list = options.llmPrompts;
    if (list.length === 0 || list.some((p) => typeof p !== 'string' || p.trim() === '')) {
      throw new BadInputError(`${where}: llmPrompts must be a non-empty list of non-empty strings`);
    }
    return { className, subject, prompts: cycle(list), ...(negativePrompt !== undefined ? { negativePrompt } : {}), source: 'llm', templates: [] };
  }
  const templates = override?.templates ?? options.templates ?? [PAPER_DIFFUSION_TEMPLATE];
  if (templates.length === 0) throw new BadInputError(`${where}: templates must not be empty`);
  templates.forEach((t, i) => checkTemplate(t, `${where}, template ${i}`));
  return {
    className,
    subject,
    prompts: cycle(templates.map((t) => fillTemplate(t, subject))),
    ...(negativePrompt !== undefined ? { negativePrompt } : {}),
    source: 'templates',
    templates: [...templates],
  };
}

/**
 * The diffusion templates of one class from the prompts an LLM wrote for it (§6.1: "the output text
 * served as input for Stable diffusion"). Vanilla (`personalised` false) gets each text verbatim. A
 * fine-tuned source needs its identifier in the prompt ("sks airplane", "<airplane>") or the
 * personalised concept is never asked for: the class's words (whole words, any case) become `{}`,
 * and a text that never names the class gets the paper's template in front (`a photo of a {}. text`).
 * A literal `{}` in an answer is dropped (the engine fills every `{}` with the class phrase).
 */
export function llmPromptTemplates(texts: readonly string[], subject: string, personalised: boolean): string[] {
  if (texts.length === 0) throw new BadInputError(`LLM prompts for "${subject}": none stored`);
  const words = new RegExp(`\\b${subject.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+')}\\b`, 'gi');
  return texts.map((raw) => {
    const text = raw.split('{}').join('').trim();
    if (text === '') throw new BadInputError(`LLM prompts for "${subject}": an empty prompt is stored`);
    if (!personalised) return text;
    const named = text.replace(words, '{}');
    return named.includes('{}') ? named : `${PAPER_DIFFUSION_TEMPLATE}. ${text}`;
  });
}
