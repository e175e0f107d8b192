/**
 * A fake OpenAI-compatible chat-completions server on 127.0.0.1 (random port) for the LLM prompt
 * writer's tests. `POST /v1/chat/completions` with `Authorization: Bearer <key>`.
 *
 * Success: `{id, object: 'chat.completion', created, model, choices: [{index, message: {role,
 * content}, finish_reason}], usage: {prompt_tokens, completion_tokens, total_tokens}}`; the content is
 * cut to `max_tokens` words (finish_reason `length`), like a real model.
 * Errors use the documented shape `{error: {message, type, param, code}}`: 401 invalid_api_key (the
 * key masked in the message, as OpenAI does), 404 model_not_found, 400 invalid_request_error for a
 * bad body, scriptable 429 (with `retry-after`) and 5xx.
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

export interface FakeChatOptions {
  key?: string;
  models?: string[];
  /** The answer to a request (before the max_tokens cut). Default: a deterministic description. */
  respond?: (body: ChatRequestBody) => string;
}

export interface FakeChat {
  readonly baseUrl: string;
  readonly key: string;
  /** Bodies of the requests that reached the model (authorized, valid). */
  readonly requests: ChatRequestBody[];
  /** Every request's status, in order. */
  readonly statuses: number[];
  rateLimitNext(n: number, retryAfterSeconds?: number): void;
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null, headers: Record<string, string> = {}): number {
  const body = JSON.stringify({ error: { message, type, param: null, code } });
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
  return status;
}

function defaultAnswer(body: ChatRequestBody): string {
  const message = body.messages.at(-1)?.content ?? '';
  const h = createHash('sha256').update(message).digest();
  const openers = ['It has', 'You can see', 'Usually shown with', 'A picture showing'];
  const details = ['a distinctive shape and clear outline', 'typical colours and textures', 'a recognisable silhouette in daylight', 'fine details in sharp focus'];
  return `${openers[h[0] % openers.length]} ${details[h[1] % details.length]}, as described by "${message}" in several more words than needed to test truncation.`;
}

export async function startFakeChat(options: FakeChatOptions = {}): Promise<FakeChat> {
  const key = options.key ?? DEFAULT_CHAT_KEY;
  const models = options.models ?? ['gpt-fake-1', 'davinci-002'];
  const requests: ChatRequestBody[] = [];
  const statuses: number[] = [];
  let rateLimit = { n: 0, retryAfter: 1 };
  let failures = { n: 0, status: 500 };
  let counter = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
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
    let body: ChatRequestBody;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequestBody;
    } catch {
      return sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
    }
    if (!models.includes(body.model)) {
      return sendError(res, 404, `The model \`${String(body.model)}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
    }
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
    statuses,
    rateLimitNext(n, retryAfterSeconds = 1) {
      rateLimit = { n, retryAfter: retryAfterSeconds };
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
