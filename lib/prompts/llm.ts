/**
 * The paper's §6.1 LLM prompt writer: each class is put into the LLM templates ("Describe what a {}
 * looks like?", ...), sent to a language model (temperature 0.99, 20 max tokens, as the paper), and
 * the answer becomes a diffusion prompt. Any OpenAI-compatible endpoint works, through either API:
 * `chat` (`POST {baseUrl}/chat/completions`, the message as one user turn) or `completions`
 * (`POST {baseUrl}/completions`, the filled template as the prompt to continue: the API of the
 * paper's Davinci-002). Plain fetch, no SDK.
 *
 * The API key comes only from the environment (`SYNTHMIX_LLM_API_KEY`) and never appears in errors or
 * in the record. Sampling at temperature 0.99 is not reproducible, so the result carries a record of
 * everything (templates, model, settings, every raw response) to be stored with the run: the prompts
 * are reproducible from the record, not from the endpoint.
 */
import { SynthmixError } from '../errors.js';
import { PAPER_LLM_TEMPLATES, checkTemplate, displayName, fillTemplate } from './templates.js';
import { assertSecretEndpoint, type EndpointPolicy } from '../config/endpoints.js';

export const LLM_API_KEY_ENV = 'SYNTHMIX_LLM_API_KEY';

type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The two OpenAI-compatible text APIs (the paper's Davinci-002 answers only `completions`). */
export const LLM_APIS = ['chat', 'completions'] as const;
export type LlmApi = (typeof LLM_APIS)[number];

export class LlmPromptError extends SynthmixError {
  constructor(
    message: string,
    nonRetryable: boolean,
    readonly status?: number,
  ) {
    super(message, 'LlmPrompt', nonRetryable);
  }
}

export interface LlmPromptWriterOptions {
  /** OpenAI-compatible API base, e.g. `https://api.openai.com/v1` (requests go to `${baseUrl}/chat/completions` or `${baseUrl}/completions`). */
  readonly baseUrl: string;
  /** Which API to call (default `chat`). */
  readonly api?: LlmApi;
  /** Where the worker lets its key go (its `endpoints` config): `baseUrl` must pass it when a key is sent. */
  readonly endpoints: EndpointPolicy;
  readonly model: string;
  /** Paper: 0.99. */
  readonly temperature?: number;
  /** Paper: 20. */
  readonly maxTokens?: number;
  /** LLM templates (default: the paper's five), used round-robin. */
  readonly templates?: readonly string[];
  /** Prompts to write per class. Default: one per template. */
  readonly promptsPerClass?: number;
  /** Words for a class (default displayName). */
  readonly names?: Readonly<Record<string, string>>;
  /** Passed as `seed` (best-effort determinism on endpoints that support it). */
  readonly seed?: number;
  /** Allow a missing key (local endpoints such as vLLM/llama.cpp need none). Default false. */
  readonly allowMissingKey?: boolean;
  /** Retries on 429/5xx/connection errors. Default 4. */
  readonly maxRetries?: number;
  readonly baseDelayMs?: number;
  /** A Retry-After longer than this fails (retryable) instead of waiting. Default 60 s. */
  readonly maxRetryAfterMs?: number;
  readonly fetch?: FetchLike;
  readonly sleep?: Sleep;
  readonly signal?: AbortSignal;
  /** Called after each answered request (an activity heartbeats here: a long list outlasts a heartbeat timeout). */
  readonly onCall?: (done: number, total: number) => void;
}

export interface LlmCallRecord {
  readonly className: string;
  readonly index: number;
  readonly template: string;
  /** The message (chat) or prompt (completions) sent: the filled template. */
  readonly message: string;
  readonly responseId?: string;
  /** The model the endpoint says answered. */
  readonly responseModel?: string;
  /** The raw answer: `choices[0].message.content` (chat) or `choices[0].text` (completions). */
  readonly content: string;
  readonly finishReason?: string;
  readonly usage?: Readonly<Record<string, number>>;
  /** The diffusion prompt made from it (whitespace collapsed, quotes trimmed). */
  readonly prompt: string;
  /** True when the answer was empty and the paper's "a photo of a {}" was used instead. */
  readonly fallback: boolean;
}

/** Everything needed to reproduce the prompts (store it with the run). No secrets. */
export interface LlmPromptRecord {
  readonly kind: 'llm-prompts';
  readonly api: LlmApi;
  /** `${baseUrl}/chat/completions` or `${baseUrl}/completions`, without credentials or query. */
  readonly endpoint: string;
  readonly model: string;
  readonly temperature: number;
  readonly maxTokens: number;
  readonly templates: readonly string[];
  readonly seed?: number;
  readonly calls: readonly LlmCallRecord[];
}

export interface LlmPromptsResult {
  /** class → prompts (in template order). */
  readonly prompts: Readonly<Record<string, readonly string[]>>;
  readonly record: LlmPromptRecord;
}

const defaultSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new LlmPromptError('LLM prompt writer: canceled', true));
    const timer = setTimeout(resolve, Math.max(0, ms));
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new LlmPromptError('LLM prompt writer: canceled', true));
      },
      { once: true },
    );
  });

/** Turn an LLM answer into a one-line diffusion prompt. */
export function cleanLlmText(content: string): string {
  return content
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^["'“”‘’]+|["'“”‘’]+$/g, '')
    .trim();
}

function redactKey(text: string, key: string | undefined): string {
  return key ? text.split(key).join('[REDACTED]') : text;
}

function endpointOf(baseUrl: string, api: LlmApi): URL {
  let url: URL;
  try {
    url = new URL(`${baseUrl.replace(/\/+$/, '')}/${api === 'chat' ? 'chat/completions' : 'completions'}`);
  } catch {
    throw new LlmPromptError(`LLM prompt writer: baseUrl ${JSON.stringify(baseUrl)} is not a URL`, true);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LlmPromptError(`LLM prompt writer: baseUrl must be http(s), got ${url.protocol}`, true);
  return url;
}

function retryAfterMs(response: Response): number | undefined {
  const ms = response.headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const value = response.headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
    if (parsed.error && typeof parsed.error.message === 'string') {
      const extra = [parsed.error.type, parsed.error.code].filter((v) => typeof v === 'string' && v !== '').join('/');
      return extra ? `${parsed.error.message} (${extra})` : parsed.error.message;
    }
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 300);
}

/** A chat or completions response: the answer is `message.content` (chat) or `text` (completions). */
interface LlmResponse {
  id?: unknown;
  model?: unknown;
  choices?: Array<{ message?: { content?: unknown }; text?: unknown; finish_reason?: unknown }>;
  usage?: unknown;
}

/** Write prompts for each class with an LLM (see the module comment). */
export async function writePromptsWithLlm(classNames: readonly string[], options: LlmPromptWriterOptions): Promise<LlmPromptsResult> {
  const templates = options.templates ?? PAPER_LLM_TEMPLATES;
  if (templates.length === 0) throw new LlmPromptError('LLM prompt writer: templates must not be empty', true);
  templates.forEach((t, i) => checkTemplate(t, `LLM prompt writer, template ${i}`));
  const temperature = options.temperature ?? 0.99;
  const maxTokens = options.maxTokens ?? 20;
  const perClass = options.promptsPerClass ?? templates.length;
  if (!Number.isInteger(perClass) || perClass < 1) throw new LlmPromptError(`LLM prompt writer: promptsPerClass must be a positive integer, got ${String(perClass)}`, true);
  if (!(temperature >= 0 && temperature <= 2)) throw new LlmPromptError(`LLM prompt writer: temperature must be in [0, 2], got ${String(temperature)}`, true);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new LlmPromptError(`LLM prompt writer: maxTokens must be a positive integer, got ${String(maxTokens)}`, true);
  if (typeof options.model !== 'string' || options.model.trim() === '') throw new LlmPromptError('LLM prompt writer: model is required', true);
  for (const name of classNames) {
    if (typeof name !== 'string' || name.trim() === '') throw new LlmPromptError('LLM prompt writer: class names must be non-empty strings', true);
  }
  const api = options.api ?? 'chat';
  if (!(LLM_APIS as readonly string[]).includes(api)) throw new LlmPromptError(`LLM prompt writer: api must be one of ${LLM_APIS.join(', ')}, got ${JSON.stringify(api)}`, true);
  const url = endpointOf(options.baseUrl, api);

  const rawKey = process.env[LLM_API_KEY_ENV];
  const key = rawKey && rawKey.trim() !== '' ? rawKey.trim() : undefined;
  if (!key && !options.allowMissingKey) {
    throw new LlmPromptError(`LLM prompt writer: no API key: set ${LLM_API_KEY_ENV} in the environment (nothing was sent)`, true);
  }
  if (key) assertSecretEndpoint(options.baseUrl, options.endpoints, 'LLM prompt writer (baseUrl)', LLM_API_KEY_ENV);

  const doFetch = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? defaultSleep;
  const maxRetries = options.maxRetries ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxRetryAfter = options.maxRetryAfterMs ?? 60_000;
  const endpoint = `${url.origin}${url.pathname}`;

  const call = async (message: string, className: string): Promise<LlmResponse> => {
    // Errors name the endpoint and the class being asked about (a refusal is often about one class).
    const where = `LLM ${endpoint} (model ${options.model}, class "${className}")`;
    const body = JSON.stringify({
      model: options.model,
      ...(api === 'chat' ? { messages: [{ role: 'user', content: message }] } : { prompt: message }),
      temperature,
      max_tokens: maxTokens,
      n: 1,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    for (let retry = 0; ; retry += 1) {
      if (options.signal?.aborted) throw new LlmPromptError('LLM prompt writer: canceled', true);
      let response: Response | undefined;
      let failure = '';
      try {
        response = await doFetch(url, { method: 'POST', headers, body, signal: options.signal });
      } catch (error) {
        if (options.signal?.aborted) throw new LlmPromptError('LLM prompt writer: canceled', true);
        failure = `connection error: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (response) {
        const text = await response.text();
        if (response.ok) {
          try {
            return JSON.parse(text) as LlmResponse;
          } catch {
            throw new LlmPromptError(`${where}: response is not JSON`, false, response.status);
          }
        }
        failure = `HTTP ${response.status}: ${errorText(text)}`;
        const retryable = response.status === 429 || response.status === 408 || response.status >= 500;
        if (!retryable) throw new LlmPromptError(redactKey(`${where}: ${failure}`, key), true, response.status);
      }
      failure = redactKey(failure, key);
      if (retry >= maxRetries) throw new LlmPromptError(`${where}: still failing after ${retry + 1} tries: ${failure}`, false, response?.status);
      const wait = response ? retryAfterMs(response) : undefined;
      if (wait !== undefined && wait > maxRetryAfter) {
        throw new LlmPromptError(`${where}: ${failure}; Retry-After ${Math.ceil(wait / 1000)} s is over the limit (retry later)`, false, response?.status);
      }
      await sleep(wait ?? baseDelayMs * 2 ** retry + Math.random() * baseDelayMs * 0.5, options.signal);
    }
  };

  const prompts: Record<string, string[]> = {};
  const calls: LlmCallRecord[] = [];
  const total = classNames.length * perClass;
  for (const className of classNames) {
    const subject = options.names?.[className] ?? displayName(className);
    const list: string[] = [];
    for (let index = 0; index < perClass; index += 1) {
      const template = templates[index % templates.length];
      const message = fillTemplate(template, subject);
      const response = await call(message, className);
      const choice = Array.isArray(response.choices) ? response.choices[0] : undefined;
      const content = api === 'chat' ? choice?.message?.content : choice?.text;
      if (typeof content !== 'string') {
        throw new LlmPromptError(`LLM ${endpoint}: malformed response for class "${className}" (no choices[0].${api === 'chat' ? 'message.content' : 'text'})`, false);
      }
      const cleaned = cleanLlmText(content);
      const fallback = cleaned === '';
      const prompt = fallback ? fillTemplate('a photo of a {}', subject) : cleaned;
      const usage =
        typeof response.usage === 'object' && response.usage !== null
          ? Object.fromEntries(Object.entries(response.usage as Record<string, unknown>).filter(([, v]) => typeof v === 'number')) as Record<string, number>
          : undefined;
      calls.push({
        className,
        index,
        template,
        message,
        ...(typeof response.id === 'string' ? { responseId: response.id } : {}),
        ...(typeof response.model === 'string' ? { responseModel: response.model } : {}),
        content,
        ...(typeof choice?.finish_reason === 'string' ? { finishReason: choice.finish_reason } : {}),
        ...(usage ? { usage } : {}),
        prompt,
        fallback,
      });
      list.push(prompt);
      options.onCall?.(calls.length, total);
    }
    prompts[className] = list;
  }
  return {
    prompts,
    record: {
      kind: 'llm-prompts',
      api,
      endpoint,
      model: options.model,
      temperature,
      maxTokens,
      templates: [...templates],
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      calls,
    },
  };
}
