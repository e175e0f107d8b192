/**
 * A fake OpenAI-compatible server on 127.0.0.1 (random port) for the LLM prompt writer's tests, both
 * text APIs, `Authorization: Bearer <key>`:
 * - `POST /v1/chat/completions` (chat models): `{id: 'chatcmpl-…', object: 'chat.completion', created,
 *   model, choices: [{index, message: {role, content}, logprobs, finish_reason}], usage}`;
 * - `POST /v1/completions` (completion models, as the paper's davinci-002): body `{model, prompt, …}`,
 *   `{id: 'cmpl-…', object: 'text_completion', created, model, choices: [{text, index, logprobs,
 *   finish_reason}], usage}`; the text continues the prompt (it starts with a space).
 * The answer is cut to `max_tokens` words (finish_reason `length`), like a real model.
 * Errors use the documented shape `{error: {message, type, param, code}}`: 401 invalid_api_key (the
 * key masked in the message, as OpenAI does), 404 model_not_found, 404 for a model on the other API
 * (OpenAI's "This is not a chat model..." / "This is a chat model..."), 400 invalid_request_error for
 * a bad body, scriptable 429 (with `retry-after`) and 5xx. Rate limits and failures count every
 * authorized request, whichever API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';

export const DEFAULT_CHAT_KEY = 'sk-fake-0123456789abcdefSECRETKEY';

export interface ChatRequestBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  temperature?: number;
  max_tokens?: number;
  seed?: number;
  [key: string]: unknown;
}

export interface CompletionRequestBody {
  model: string;
  prompt: string;
  temperature?: number;
  max_tokens?: number;
  seed?: number;
  [key: string]: unknown;
}

export interface FakeChatOptions {
  key?: string;
  /** Models of the chat API. */
  models?: string[];
  /** Models of the completions API. */
  completionModels?: string[];
  /** The answer to a chat request (before the max_tokens cut). Default: a deterministic description. */
  respond?: (body: ChatRequestBody) => string;
  /** The continuation of a completions prompt (before the cut). Default: a deterministic description. */
  complete?: (body: CompletionRequestBody) => string;
}

export interface FakeChat {
  readonly baseUrl: string;
  readonly key: string;
  /** Bodies of the chat requests that reached the model (authorized, valid). */
  readonly requests: ChatRequestBody[];
  /** Bodies of the completions requests that reached the model (authorized, valid). */
  readonly completionRequests: CompletionRequestBody[];
  /** Every request's status, in order. */
  readonly statuses: number[];
  rateLimitNext(n: number, retryAfterSeconds?: number): void;
  failNext(n: number, status?: number): void;
  /** Refuse (400 content_policy_violation, as OpenAI's safety system does) every request whose text contains `text`; undefined: none. */
  refuse(text: string | undefined): void;
  close(): Promise<void>;
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null, headers: Record<string, string> = {}): number {
  const body = JSON.stringify({ error: { message, type, param: null, code } });
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
  return status;
}

function defaultAnswer(body: ChatRequestBody): string {
  return describe(body.messages.at(-1)?.content ?? '');
}

function describe(message: string): string {
  const h = createHash('sha256').update(message).digest();
  const openers = ['It has', 'You can see', 'Usually shown with', 'A picture showing'];
  const details = ['a distinctive shape and clear outline', 'typical colours and textures', 'a recognisable silhouette in daylight', 'fine details in sharp focus'];
  return `${openers[h[0] % openers.length]} ${details[h[1] % details.length]}, as described by "${message}" in several more words than needed to test truncation.`;
}

export async function startFakeChat(options: FakeChatOptions = {}): Promise<FakeChat> {
  const key = options.key ?? DEFAULT_CHAT_KEY;
  const models = options.models ?? ['gpt-fake-1'];
  const completionModels = options.completionModels ?? ['davinci-002', 'gpt-fake-instruct'];
  const requests: ChatRequestBody[] = [];
  const completionRequests: CompletionRequestBody[] = [];
  const statuses: number[] = [];
  let rateLimit = { n: 0, retryAfter: 1 };
  let failures = { n: 0, status: 500 };
  let refused: string | undefined;
  let counter = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chat = url.pathname === '/v1/chat/completions';
    if (req.method !== 'POST' || (!chat && url.pathname !== '/v1/completions')) {
      return sendError(res, 404, `Invalid URL (${req.method} ${url.pathname})`, 'invalid_request_error', null);
    }
    const auth = req.headers.authorization ?? '';
    const given = /^Bearer (.+)$/.exec(auth)?.[1];
    if (given !== key) {
      const masked = given ? `${given.slice(0, 3)}${'*'.repeat(Math.max(0, given.length - 7))}${given.slice(-4)}` : '';
      const message = given ? `Incorrect API key provided: ${masked}.` : "You didn't provide an API key.";
      return sendError(res, 401, message, 'invalid_request_error', 'invalid_api_key');
    }
    if (rateLimit.n > 0) {
      rateLimit.n -= 1;
      return sendError(res, 429, 'Rate limit reached for requests. Please try again later.', 'requests', 'rate_limit_exceeded', { 'retry-after': String(rateLimit.retryAfter) });
    }
    if (failures.n > 0) {
      failures.n -= 1;
      return sendError(res, failures.status, 'The server had an error while processing your request. Sorry about that!', 'server_error', null);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
    }
    const model = String(parsed.model);
    if (chat && completionModels.includes(model)) {
      return sendError(res, 404, 'This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?', 'invalid_request_error', null);
    }
    if (!chat && models.includes(model)) {
      return sendError(res, 404, 'This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?', 'invalid_request_error', null);
    }
    if (!(chat ? models : completionModels).includes(model)) {
      return sendError(res, 404, `The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
    }
    const asked = chat ? (parsed as ChatRequestBody).messages?.at?.(-1)?.content : (parsed as CompletionRequestBody).prompt;
    if (refused !== undefined && typeof asked === 'string' && asked.includes(refused)) {
      return sendError(res, 400, 'Your request was rejected as a result of our safety system.', 'invalid_request_error', 'content_policy_violation');
    }
    if (!chat) return completion(res, parsed as CompletionRequestBody);
    const body = parsed as ChatRequestBody;
    if (!Array.isArray(body.messages) || body.messages.length === 0 || body.messages.some((m) => typeof m?.content !== 'string' || typeof m?.role !== 'string')) {
      return sendError(res, 400, "Invalid 'messages': expected a non-empty array of {role, content}.", 'invalid_request_error', null);
    }
    if (body.temperature !== undefined && (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 2)) {
      return sendError(res, 400, `Invalid 'temperature': ${String(body.temperature)}`, 'invalid_request_error', 'invalid_value');
    }
    if (body.max_tokens !== undefined && (!Number.isInteger(body.max_tokens) || body.max_tokens < 1)) {
      return sendError(res, 400, `Invalid 'max_tokens': ${String(body.max_tokens)}`, 'invalid_request_error', 'invalid_value');
    }
    requests.push(body);
    const full = (options.respond ?? defaultAnswer)(body);
    const words = full.split(/\s+/).filter((w) => w !== '');
    const limit = body.max_tokens ?? Infinity;
    const cut = words.length > limit;
    const content = cut ? words.slice(0, limit).join(' ') : full;
    const promptTokens = body.messages.reduce((n, m) => n + m.content.split(/\s+/).length, 0);
    const completionTokens = Math.min(words.length, limit);
    counter += 1;
    const payload = {
      id: `chatcmpl-fake${String(counter).padStart(6, '0')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: cut ? 'length' : 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
    return 200;
  };

  const sampling = (body: { temperature?: unknown; max_tokens?: unknown }): string | undefined => {
    if (body.temperature !== undefined && (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 2)) return `Invalid 'temperature': ${String(body.temperature)}`;
    if (body.max_tokens !== undefined && (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1)) return `Invalid 'max_tokens': ${String(body.max_tokens)}`;
    return undefined;
  };

  /** The completions API: the text continues the prompt. */
  const completion = (res: ServerResponse, body: CompletionRequestBody): number => {
    if (typeof body.prompt !== 'string' || body.prompt === '') {
      return sendError(res, 400, "Invalid 'prompt': expected a non-empty string.", 'invalid_request_error', null);
    }
    const problem = sampling(body);
    if (problem) return sendError(res, 400, problem, 'invalid_request_error', 'invalid_value');
    completionRequests.push(body);
    const full = (options.complete ?? ((b: CompletionRequestBody) => ` ${describe(b.prompt)}`))(body);
    const words = full.split(/\s+/).filter((w) => w !== '');
    const limit = body.max_tokens ?? 16; // the API's own default for completions
    const cut = words.length > limit;
    // Keep the continuation's leading whitespace, as a real model's text has it.
    const text = cut ? `${/^\s*/.exec(full)?.[0] ?? ''}${words.slice(0, limit).join(' ')}` : full;
    const promptTokens = body.prompt.split(/\s+/).length;
    const completionTokens = Math.min(words.length, limit);
    counter += 1;
    const payload = {
      id: `cmpl-fake${String(counter).padStart(6, '0')}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ text, index: 0, logprobs: null, finish_reason: cut ? 'length' : 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
    return 200;
  };

  const server: Server = createServer((req, res) => {
    handle(req, res)
      .then((status) => statuses.push(status))
      .catch((error: unknown) => {
        statuses.push(500);
        if (!res.headersSent) sendError(res, 500, `fake server bug: ${String(error)}`, 'server_error', null);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    key,
    requests,
    completionRequests,
    statuses,
    rateLimitNext(n, retryAfterSeconds = 1) {
      rateLimit = { n, retryAfter: retryAfterSeconds };
    },
    refuse(text) {
      refused = text;
    },
    failNext(n, status = 500) {
      failures = { n, status };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
