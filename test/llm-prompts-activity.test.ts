/**
 * The §6.1 LLM prompt step in the sweep: the cpu activity `writeLlmPrompts` (the real client,
 * lib/prompts/llm.ts, over real HTTP) against the fake OpenAI-compatible server (test/fakes/
 * chat-server.ts), its memo, the config field `generator.prompts`, generation's use of the stored
 * prompts, and the report's section. No Temporal world: the workflow only passes the stored reference on.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPromptsActivities, type LlmPromptsInput } from '../activities/prompts.js';
import { generationPrompts } from '../activities/generator.js';
import { createReportActivities } from '../activities/report.js';
import { loadConfig } from '../lib/config/load.js';
import { BadInputError } from '../lib/errors.js';
import { LlmPromptError, PAPER_LLM_TEMPLATES } from '../lib/prompts/index.js';
import { exampleReport } from '../lib/report/example.js';
import type { StoredPrompts } from '../lib/steps/prompts.js';
import { createLocalStore, type LocalStore } from '../lib/store/index.js';
import { getValue } from '../lib/store/values.js';
import { resolveSweepConfig, type SweepConfig } from '../lib/sweep/config.js';
import { llmPromptsInput } from '../lib/sweep/prompts-input.js';
import { planSweep } from '../lib/sweep/plan.js';
import { classImagesInput } from '../workflows/class-images.js';
import { startFakeChat, type FakeChat } from './fakes/chat-server.js';

/** The worker's own config: the fake is on loopback, which only this setting lets the key reach. */
const config = loadConfig({ env: {}, overrides: { endpoints: { allowLoopbackHttp: true } } });
const KEY_ENV = 'SYNTHMIX_LLM_API_KEY';

let tmp: string;
let store: LocalStore;
let chat: FakeChat;
let savedKey: string | undefined;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-llm-prompts-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  savedKey = process.env[KEY_ENV];
  chat = await startFakeChat();
  process.env[KEY_ENV] = chat.key;
  store = createLocalStore(await mkdtemp(path.join(tmp, 'store-')));
});
afterEach(async () => {
  await chat.close();
  if (savedKey === undefined) delete process.env[KEY_ENV];
  else process.env[KEY_ENV] = savedKey;
});

/** A sweep config asking the fake for prompts (the paper's API and model unless overridden). */
function sweepConfig(prompts: Record<string, unknown> = {}, generator: Record<string, unknown> = {}): SweepConfig {
  return resolveSweepConfig('tiny', { generator: { prompts: { kind: 'llm', endpoint: chat.baseUrl, model: 'davinci-002', api: 'completions', ...prompts }, ...generator } });
}

function stepInput(overrides: Partial<LlmPromptsInput> = {}): LlmPromptsInput {
  const input = llmPromptsInput(sweepConfig({ perClass: 2 }), ['airplane', 'sea_turtle']);
  if (!input) throw new Error('the config asks an LLM: there is an input');
  return { ...input, ...overrides };
}

/** Every file under the store's root, as text (to look for the key). */
async function storeText(): Promise<string> {
  const root = store.rootDir;
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(entries.filter((e) => e.isFile()).map((e) => readFile(path.join(e.parentPath, e.name), 'utf8')));
  return texts.join('\n');
}

async function rejection(promise: Promise<unknown>): Promise<Error & { nonRetryable?: boolean }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error & { nonRetryable?: boolean };
}

describe('writeLlmPrompts (cpu activity)', () => {
  it('asks the completions API once per class and prompt, stores the prompts and their record, and never the key', async () => {
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    const result = await writeLlmPrompts(stepInput());
    expect(result).toMatchObject({ computed: true, classes: 2, calls: 4 });
    expect(chat.requests).toHaveLength(0);
    expect(chat.completionRequests.map((b) => b.prompt)).toEqual([
      PAPER_LLM_TEMPLATES[0].replace('{}', 'airplane'),
      PAPER_LLM_TEMPLATES[1].replace('{}', 'airplane'),
      PAPER_LLM_TEMPLATES[0].replace('{}', 'sea turtle'),
      PAPER_LLM_TEMPLATES[1].replace('{}', 'sea turtle'),
    ]);
    for (const body of chat.completionRequests) expect(body).toMatchObject({ model: 'davinci-002', temperature: 0.99, max_tokens: 20 });

    const stored = await getValue<StoredPrompts>(store, result.prompts);
    expect(Object.keys(stored.prompts)).toEqual(['airplane', 'sea_turtle']);
    expect(stored.record).toMatchObject({ kind: 'llm-prompts', api: 'completions', endpoint: `${chat.baseUrl}/completions`, model: 'davinci-002' });
    const first = stored.record.calls[0];
    expect(first.responseId).toMatch(/^cmpl-/);
    expect(first.content.startsWith(' ')).toBe(true); // the raw continuation, as the API returned it
    expect(first.prompt).toBe(first.content.trim().replace(/\s+/g, ' ').replace(/^["']+|["']+$/g, '').trim());
    expect(stored.prompts.airplane).toEqual(stored.record.calls.slice(0, 2).map((c) => c.prompt));
    expect(await storeText()).not.toContain(chat.key);
  });

  it('memo: the same inputs are a hit (no request), whatever the key; other inputs ask again', async () => {
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    const first = await writeLlmPrompts(stepInput());
    expect(chat.statuses).toHaveLength(4);
    process.env[KEY_ENV] = 'sk-another-key-of-the-same-account-0000'; // not part of the memo key
    const again = await writeLlmPrompts(stepInput());
    expect(again.computed).toBe(false);
    expect(again.prompts).toEqual(first.prompts);
    expect(chat.statuses).toHaveLength(4);

    process.env[KEY_ENV] = chat.key;
    const more = await writeLlmPrompts(stepInput({ perClass: 3 }));
    expect(more.computed).toBe(true);
    expect(more.prompts.key).not.toBe(first.prompts.key);
    expect(chat.statuses).toHaveLength(10);
  });

  it('429 with Retry-After, then a 503: waits, retries, succeeds', async () => {
    chat.rateLimitNext(1, 1);
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    const result = await writeLlmPrompts(stepInput({ classes: ['cat'], perClass: 1 }));
    expect(chat.statuses).toEqual([429, 200]);
    chat.failNext(1, 503);
    await writeLlmPrompts(stepInput({ classes: ['dog'], perClass: 1 }));
    expect(chat.statuses).toEqual([429, 200, 503, 200]);
    expect(result.computed).toBe(true);
  });

  it('401 (a wrong key) is permanent, names the endpoint and the API error, leaks no key, stores nothing', async () => {
    const wrongKey = 'sk-wrong-key-abcdefghijklmnop';
    process.env[KEY_ENV] = wrongKey;
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    const error = await rejection(writeLlmPrompts(stepInput()));
    expect(error).toBeInstanceOf(LlmPromptError);
    expect(error.nonRetryable).toBe(true);
    expect((error as LlmPromptError).status).toBe(401);
    expect(error.message).toContain(`${chat.baseUrl}/completions`);
    expect(error.message).toContain('class "airplane"');
    expect(error.message).toMatch(/invalid_api_key/);
    expect(`${error.message}\n${String(error.stack)}`).not.toContain(wrongKey);
    expect(chat.statuses).toEqual([401]);
    expect(await store.list('steps/llm-prompts/')).toEqual([]);
  });

  it('a retried attempt keeps the classes already answered and asks only for the rest', async () => {
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    const input = stepInput({ classes: ['cat', 'dog'], perClass: 1 });
    chat.refuse('dog');
    const refused = await rejection(writeLlmPrompts(input));
    expect(refused.nonRetryable).toBe(true);
    expect(refused.message).toMatch(/class "dog".*content_policy_violation/);
    const catPrompt = chat.completionRequests.map((b) => b.prompt);
    expect(catPrompt).toEqual(['Describe what a cat looks like?']);

    chat.refuse(undefined);
    const retried = await writeLlmPrompts(input);
    expect(chat.completionRequests.map((b) => b.prompt)).toEqual(['Describe what a cat looks like?', 'Describe what a dog looks like?']);
    const stored = await getValue<StoredPrompts>(store, retried.prompts);
    expect(Object.keys(stored.prompts)).toEqual(['cat', 'dog']);
    expect(stored.record.calls.map((c) => c.className)).toEqual(['cat', 'dog']);
    expect(stored.record.calls[0].responseId).toBe('cmpl-fake000001'); // the first attempt's answer, not a new one
  });

  it('a model of the other API is a permanent 404 with the API\'s hint; the chat API works with a chat model', async () => {
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    const wrongApi = await rejection(writeLlmPrompts(stepInput({ api: 'chat' })));
    expect(wrongApi.nonRetryable).toBe(true);
    expect(wrongApi.message).toMatch(/not a chat model.*v1\/completions/);
    const result = await writeLlmPrompts(stepInput({ api: 'chat', model: 'gpt-fake-1', classes: ['cat'], perClass: 1 }));
    expect(chat.requests.map((b) => b.messages[0].content)).toEqual(['Describe what a cat looks like?']);
    expect((await getValue<StoredPrompts>(store, result.prompts)).record.api).toBe('chat');
  });

  it('a missing key refuses before any request, naming SYNTHMIX_LLM_API_KEY; an unlisted endpoint too', async () => {
    delete process.env[KEY_ENV];
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    const missing = await rejection(writeLlmPrompts(stepInput()));
    expect(missing.message).toContain(KEY_ENV);
    expect(missing.nonRetryable).toBe(true);

    process.env[KEY_ENV] = chat.key;
    const strict = createPromptsActivities({ store, config: loadConfig({ env: {} }) }); // no loopback for secrets
    const refused = await rejection(strict.writeLlmPrompts(stepInput()));
    expect(refused).toBeInstanceOf(BadInputError);
    expect(refused.message).toContain(chat.baseUrl);
    expect(refused.message).toMatch(/allowLoopbackHttp/);
    expect(chat.statuses).toEqual([]);
    expect(await store.list('steps/llm-prompts/')).toEqual([]);
  });
});

describe('generator.prompts in the sweep config', () => {
  it('parses with the paper\'s defaults; templates (or no field) ask nothing; classPrompts classes are not asked', () => {
    const parsed = sweepConfig();
    expect(parsed.generator.prompts).toEqual({ kind: 'llm', endpoint: chat.baseUrl, model: 'davinci-002', api: 'completions', perClass: 5, temperature: 0.99, maxTokens: 20, templates: [...PAPER_LLM_TEMPLATES] });
    expect(llmPromptsInput(resolveSweepConfig('tiny'), ['cat'])).toBeUndefined();
    expect(llmPromptsInput(resolveSweepConfig('tiny', { generator: { prompts: { kind: 'templates' } } }), ['cat'])).toBeUndefined();
    const mixed = sweepConfig({}, { classPrompts: { cat: ['a drawing of a {}'] } });
    expect(llmPromptsInput(mixed, ['cat', 'dog'])?.classes).toEqual(['dog']);
  });

  it('synthmix plan shows the prompts stage right after curate (none with templates)', async () => {
    const stages = (await planSweep(sweepConfig({ perClass: 3 }), store)).stages.map((s) => s.stage);
    expect(stages.slice(0, 2)).toEqual(['curate', 'prompts']);
    const detail = (await planSweep(sweepConfig({ perClass: 3 }), store)).stages[1].detail;
    expect(detail).toContain(`3 prompts per class from davinci-002 (completions API at ${chat.baseUrl})`);
    expect((await planSweep(resolveSweepConfig('tiny'), store)).stages.map((s) => s.stage)).not.toContain('prompts');
  });

  it('refuses a key in the endpoint URL, a non-URL, the replicate backend and a bad field, naming each', () => {
    const refusals: Array<[Record<string, unknown>, Record<string, unknown>, RegExp]> = [
      [{ endpoint: 'https://api.example.com/v1?api_key=sk-123' }, {}, /generator\.prompts\.endpoint.*must not carry credentials/],
      [{ endpoint: 'https://user:sk-123@api.example.com/v1' }, {}, /generator\.prompts\.endpoint.*must not carry credentials/],
      [{ endpoint: 'api.example.com' }, {}, /generator\.prompts\.endpoint.*not a URL/],
      [{ api: 'edits' }, {}, /generator\.prompts\.api/],
      [{ perClass: 0 }, {}, /generator\.prompts\.perClass/],
      [{ apiKey: 'sk-123' }, {}, /apiKey/],
      [{}, { backend: 'replicate', replicate: { model: 'owner/name' } }, /generator\.prompts\.kind.*replicate/],
    ];
    for (const [prompts, generator, message] of refusals) {
      let thrown: unknown;
      try {
        resolveSweepConfig('tiny', { sources: ['vanilla'], generator: { prompts: { kind: 'llm', endpoint: 'https://api.example.com/v1', model: 'm', api: 'chat', ...prompts }, ...generator } });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(prompts)).toBeDefined();
      const text = JSON.stringify((thrown as { issues?: unknown }).issues ?? String(thrown));
      const flat = text.replace(/","/g, '.').replace(/\["/g, '').replace(/"\]/g, '');
      expect(flat, JSON.stringify(prompts)).toMatch(message);
    }
  });
});

describe('generation and the report use the stored prompts', () => {
  it('the class-images input carries the reference (not for classPrompts classes); vanilla gets each text, a fine-tuned source its identifier', async () => {
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    await chat.close();
    chat = await startFakeChat({ complete: (body) => (body.prompt.startsWith('Describe what') ? ' An Airplane with two wings.' : ' Seen at airports, white and long.') });
    process.env[KEY_ENV] = chat.key;
    const written = await writeLlmPrompts(stepInput({ endpoint: chat.baseUrl, classes: ['airplane'] }));
    const swept = sweepConfig({}, { classPrompts: { ship: ['a drawing of a {}'] } });
    const args = { queues: config.queues, source: 'dreambooth' as const, original: { key: 'm', sha256: 'x' }, baseModelPrefix: 'models/base', seed: 0, llmPrompts: written.prompts };
    const child = classImagesInput(swept, { ...args, className: 'airplane' });
    expect(child.generator.llmPrompts).toEqual(written.prompts);
    expect(classImagesInput(swept, { ...args, className: 'ship' }).generator.llmPrompts).toBeUndefined();

    const base = { className: 'airplane', templates: ['a photo of a {}'], llmPrompts: written.prompts };
    expect(await generationPrompts(store, { ...base, source: 'vanilla' })).toEqual(['An Airplane with two wings.', 'Seen at airports, white and long.']);
    expect(await generationPrompts(store, { ...base, source: 'dreambooth' })).toEqual(['An {} with two wings.', 'a photo of a {}. Seen at airports, white and long.']);
    expect(await generationPrompts(store, { ...base, source: 'vanilla', llmPrompts: undefined })).toEqual(['a photo of a {}']);
    const absent = await rejection(generationPrompts(store, { ...base, className: 'cat', source: 'vanilla' }));
    expect(absent).toBeInstanceOf(BadInputError);
    expect(absent.message).toMatch(/none for class "cat"/);
  });

  it('the report lists the prompts per class and stores every raw answer in prompts.json', async () => {
    const { input, images } = await exampleReport({ seeds: [0] });
    for (const [, bytes] of images) await store.putContentAddressed('images', bytes, '.png');
    const { writeLlmPrompts } = createPromptsActivities({ store, config });
    const written = await writeLlmPrompts(stepInput({ classes: input.classes, perClass: 2 }));
    const stored = await getValue<StoredPrompts>(store, written.prompts);
    // One mode's cells: a third of the figures to draw (the prompts section does not depend on them).
    const cells = input.cells.filter((c) => c.cell.mode === 'scratch');
    const output = await createReportActivities({ store, config }).report({ ...input, cells, llmPrompts: written.prompts });
    const html = (await store.get(output.htmlKey)).toString('utf8');
    expect(html).toContain('id="prompts"');
    expect(html).toContain(`<code>${chat.baseUrl}/completions</code>`);
    const section = html.slice(html.indexOf('id="prompts"'), html.indexOf('id="samples"'));
    for (const name of input.classes) {
      expect(section).toContain(`<th class="l">${name}</th>`);
      const escaped = stored.prompts[name][0].replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
      expect(section).toContain(`<li>${escaped}</li>`);
    }
    const json = JSON.parse((await store.get(`${output.prefix}/prompts.json`)).toString('utf8')) as StoredPrompts;
    expect(json.record.calls).toHaveLength(input.classes.length * 2);
    expect(output.files).toContain(`${output.prefix}/prompts.json`);
  });
});
