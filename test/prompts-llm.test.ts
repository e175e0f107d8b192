/** The §6.1 LLM prompt writer against a fake chat-completions server, with plain fetch. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LlmPromptError, PAPER_LLM_TEMPLATES, promptsForClass, writePromptsWithLlm } from '../lib/prompts/index.js';
import { startFakeChat, type FakeChat } from './fakes/chat-server.js';
import { loadConfig } from '../lib/config/load.js';
import { BadInputError } from '../lib/errors.js';

let chat: FakeChat;
/** The worker's own config: the fake endpoint is on loopback, which only this setting lets the key reach. */
const endpoints = loadConfig({ env: {}, overrides: { endpoints: { allowLoopbackHttp: true } } }).endpoints;
let savedKey: string | undefined;

beforeEach(async () => {
  savedKey = process.env.SYNTHMIX_LLM_API_KEY;
  chat = await startFakeChat();
  process.env.SYNTHMIX_LLM_API_KEY = chat.key;
});

afterEach(async () => {
  await chat.close();
  if (savedKey === undefined) delete process.env.SYNTHMIX_LLM_API_KEY;
  else process.env.SYNTHMIX_LLM_API_KEY = savedKey;
});

async function rejection(promise: Promise<unknown>): Promise<LlmPromptError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LlmPromptError);
  return error as LlmPromptError;
}

describe('writePromptsWithLlm', () => {
  it('sends each paper template per class with temperature 0.99 and max_tokens 20, and records everything', async () => {
    const result = await writePromptsWithLlm(['airplane', 'sea_turtle'], { baseUrl: chat.baseUrl, endpoints, model: 'gpt-fake-1' });
    expect(chat.requests).toHaveLength(10);
    for (const body of chat.requests) {
      expect(body.model).toBe('gpt-fake-1');
      expect(body.temperature).toBe(0.99);
      expect(body.max_tokens).toBe(20);
      expect(body.messages).toHaveLength(1);
      expect(body.messages[0].role).toBe('user');
    }
    expect(chat.requests.slice(0, 5).map((b) => b.messages[0].content)).toEqual(PAPER_LLM_TEMPLATES.map((t) => t.replace('{}', 'airplane')));
    expect(chat.requests[5].messages[0].content).toBe('Describe what a sea turtle looks like?');

    expect(Object.keys(result.prompts)).toEqual(['airplane', 'sea_turtle']);
    expect(result.prompts.airplane).toHaveLength(5);
    const { record } = result;
    expect(record).toMatchObject({ kind: 'llm-prompts', endpoint: `${chat.baseUrl}/chat/completions`, model: 'gpt-fake-1', temperature: 0.99, maxTokens: 20 });
    expect(record.templates).toEqual(PAPER_LLM_TEMPLATES);
    expect(record.calls).toHaveLength(10);
    const first = record.calls[0];
    expect(first.template).toBe(PAPER_LLM_TEMPLATES[0]);
    expect(first.responseId).toMatch(/^chatcmpl-/);
    expect(first.finishReason).toBe('length'); // the fake answers with more than 20 words
    expect(first.content.split(/\s+/)).toHaveLength(20);
    expect(first.prompt).toBe(result.prompts.airplane[0]);
    expect(first.usage?.completion_tokens).toBe(20);
    expect(JSON.stringify(record)).not.toContain(chat.key);

    // The written prompts feed the diffusion prompt list.
    expect(promptsForClass('airplane', { count: 7, llmPrompts: result.prompts.airplane }).prompts[5]).toBe(result.prompts.airplane[0]);
  });

  it('cleans answers to one line and falls back to the paper template on an empty answer', async () => {
    await chat.close();
    chat = await startFakeChat({ respond: (body) => (body.messages[0].content.startsWith('How') ? '   ' : '  "A red\nairplane on a runway."  ') });
    process.env.SYNTHMIX_LLM_API_KEY = chat.key;
    const result = await writePromptsWithLlm(['airplane'], { baseUrl: chat.baseUrl, endpoints, model: 'gpt-fake-1', promptsPerClass: 2 });
    expect(result.prompts.airplane).toEqual(['A red airplane on a runway.', 'a photo of a airplane']);
    expect(result.record.calls.map((c) => c.fallback)).toEqual([false, true]);
    expect(result.record.calls[0].content).toBe('  "A red\nairplane on a runway."  ');
  });

  it('429 then success: waits Retry-After and retries', async () => {
    chat.rateLimitNext(2, 1);
    const waits: number[] = [];
    const result = await writePromptsWithLlm(['cat'], { baseUrl: chat.baseUrl, endpoints, model: 'gpt-fake-1', promptsPerClass: 1, sleep: async (ms) => void waits.push(ms) });
    expect(result.prompts.cat).toHaveLength(1);
    expect(waits).toEqual([1000, 1000]);
    expect(chat.statuses).toEqual([429, 429, 200]);
  });

  it('5xx forever: retryable error after maxRetries', async () => {
    chat.failNext(100, 503);
    const error = await rejection(writePromptsWithLlm(['cat'], { baseUrl: chat.baseUrl, endpoints, model: 'gpt-fake-1', maxRetries: 2, sleep: async () => undefined }));
    expect(error.nonRetryable).toBe(false);
    expect(error.status).toBe(503);
    expect(chat.statuses).toEqual([503, 503, 503]);
  });

  it('errors from the API: unknown model and a wrong key are non-retryable with the API message; the key never leaks', async () => {
    const unknown = await rejection(writePromptsWithLlm(['cat'], { baseUrl: chat.baseUrl, endpoints, model: 'no-such-model' }));
    expect(unknown.nonRetryable).toBe(true);
    expect(unknown.status).toBe(404);
    expect(unknown.message).toMatch(/does not exist.*model_not_found/);

    process.env.SYNTHMIX_LLM_API_KEY = 'sk-wrong-key-abcdefghijklmnop';
    const wrong = await rejection(writePromptsWithLlm(['cat'], { baseUrl: chat.baseUrl, endpoints, model: 'gpt-fake-1' }));
    expect(wrong.status).toBe(401);
    expect(wrong.nonRetryable).toBe(true);
    expect(wrong.message).toMatch(/invalid_api_key/);
    for (const text of [wrong.message, String(wrong.stack), JSON.stringify(wrong)]) expect(text).not.toContain('sk-wrong-key-abcdefghijklmnop');
  });

  it('missing key: clear error before any request (unless allowed for local endpoints)', async () => {
    delete process.env.SYNTHMIX_LLM_API_KEY;
    const error = await rejection(writePromptsWithLlm(['cat'], { baseUrl: chat.baseUrl, endpoints, model: 'gpt-fake-1' }));
    expect(error.message).toMatch(/set SYNTHMIX_LLM_API_KEY/);
    expect(error.nonRetryable).toBe(true);
    expect(chat.statuses).toEqual([]);
    const anonymous = await rejection(writePromptsWithLlm(['cat'], { baseUrl: chat.baseUrl, endpoints, model: 'gpt-fake-1', allowMissingKey: true }));
    expect(anonymous.status).toBe(401);
  });

  it('the key goes only where the worker config allows: http off loopback, or an unlisted host, is refused before any request', async () => {
    const strict = loadConfig({ env: {} }).endpoints; // the defaults: no loopback
    const refusals: Array<[string, typeof strict, RegExp]> = [
      [chat.baseUrl, strict, /must be https.*endpoints\.allowLoopbackHttp/],
      ['http://llm.example.com/v1', endpoints, /must be https/],
      ['https://collector.example.com/v1', endpoints, /not on the worker's allow-list \(endpoints\.allowed/],
      ['https://api.openai.com.evil.example/v1', strict, /not on the worker's allow-list/],
    ];
    for (const [baseUrl, policy, message] of refusals) {
      const error = await writePromptsWithLlm(['cat'], { baseUrl, endpoints: policy, model: 'gpt-fake-1' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadInputError);
      expect((error as BadInputError).nonRetryable).toBe(true);
      expect((error as Error).message).toContain(baseUrl);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(chat.key);
    }
    expect(chat.statuses).toEqual([]);
  });
});
