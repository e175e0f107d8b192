/**
 * Bad input, one row each: what is given, and exactly how it is refused (the field, file or key
 * named; exit code or failure type; retryable or not), or that it is ignored; and that nothing
 * already stored changed. To add a case, add a row to `ROWS`: `input` feeds the bad input through
 * the real code path (config schema, CLI, store, runner, engine, clients), `expect` says the outcome.
 *
 * Real parts only: a real SeaweedFS for the S3 rows, real engine processes, real files.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { ZodError } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curate } from '../activities/curate.js';
import { ConfigError, loadConfig, projectRoot } from '../lib/config/load.js';
import { runEngineProcess, type EngineOutcome } from '../lib/engine/process.js';
import { EngineRunner } from '../lib/engine/runner.js';
import { BadInputError, SynthmixError } from '../lib/errors.js';
import { writePromptsWithLlm } from '../lib/prompts/index.js';
import { generateWithReplicate } from '../lib/replicate/index.js';
import { createLocalStore, createS3Store, localPathForKey, type ArtifactStore, type S3Store } from '../lib/store/index.js';
import { enumerateCells, unknownClassPromptsProblem } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { blockedCellReason, shortClasses } from '../lib/sweep/instances.js';
import { connectClient } from '../lib/temporal/connection.js';
import { startTemporalDevServer } from '../infra/temporal-dev-server.js';
import { withSeaweed } from './support/servers.js';

/** What feeding a row's input gave. */
type Outcome =
  | { kind: 'threw'; error: unknown }
  | { kind: 'exit'; code: number | null; output: string }
  | { kind: 'engine'; outcome: EngineOutcome }
  | { kind: 'value'; value: unknown };

/** What a row expects. `names`: every pattern must appear in the message (the field, file, key or URL). */
type Expected =
  /** A SynthmixError of this type, never retried (`nonRetryable`). */
  | { error: 'BadInput' | 'CorruptObject'; names: RegExp[] }
  /** The worker's own config (SYNTHMIX_CONFIG / overrides) is refused, naming the field. */
  | { workerConfigField: string; names: RegExp[] }
  /** A sweep-config schema error (`synthmix` exits 2 with it) at exactly this field path. */
  | { configField: string; names: RegExp[] }
  /** The CLI exits with this code, printing the names. */
  | { exit: number; names: RegExp[] }
  /** The engine exits 3 (permanent: not retried), naming the file. */
  | { engine: 'permanent'; names: RegExp[] }
  /** Something other than ours refused it first (e.g. the S3 server itself). */
  | { refusedBy: string; names: RegExp[] }
  /** The input is ignored or reported, and the step goes on: check the value. */
  | { ok: (value: unknown) => void };

interface Row {
  /** The bad input, in words. */
  name: string;
  input: (ctx: Context) => Promise<unknown>;
  expect: Expected;
  /** Rows that send nothing anywhere: the requests seen must stay zero. */
  noRequests?: boolean;
  /** The row does legitimate work first (curate) that adds objects: only existing ones must stay unchanged. */
  adds?: boolean;
}

interface Context {
  tmp: string;
  /** A local store and an S3 (SeaweedFS) store, each holding objects that must never change. */
  local: ArtifactStore;
  s3: S3Store;
  runner: EngineRunner;
  /** Every request a client made through the recording fetch. */
  requests: string[];
  fetch: (input: string | URL | Request) => Promise<Response>;
  /** A dataset folder with two classes (alpha, beta) of 4 images each, plus the row's extras. */
  dataset(extras?: Record<string, Buffer | string>): Promise<string>;
}

const python = loadConfig({ env: {} }).engine.python;
/** The default worker policy: https to the listed APIs only, no loopback. */
const workerEndpoints = loadConfig({ env: {} }).endpoints;

/** Run `synthmix ARGS` as a child process: exit code and output (slow: keep these rows few). No Temporal unless `env` names one. */
function synthmix(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'cli', 'synthmix.ts'), ...args], {
      cwd: projectRoot,
      env: { ...process.env, SYNTHMIX_TEMPORAL_ADDRESS: '127.0.0.1:1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: string[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    child.once('exit', (code) => resolve({ code, output: chunks.join('') }));
  });
}

/** A tiny PNG whose header declares 20000×20000 pixels: PIL refuses it as a decompression bomb. */
function decompressionBomb(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (kind: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(kind, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(20_000, 0);
  header.writeUInt32BE(20_000, 4);
  header.set([8, 2, 0, 0, 0], 8);
  // IDAT: a zlib stream of one zero byte (never read: the size check comes first).
  const idat = Buffer.from([0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

const ROWS: Row[] = [
  // ── the sweep config (schema: exit 2 through the CLI) ──────────────────────────────────────
  { name: 'seeds with a duplicate', input: async () => resolveSweepConfig('tiny', { seeds: [1, 2, 1] }), expect: { configField: 'seeds', names: [/duplicate values: 1/] } },
  { name: 'mix.p with a duplicate', input: async () => resolveSweepConfig('tiny', { mix: { p: [0, 0.5, 0.5] } }), expect: { configField: 'mix.p', names: [/duplicate values: 0\.5/] } },
  { name: 'sources with a duplicate', input: async () => resolveSweepConfig('tiny', { sources: ['vanilla', 'vanilla'] }), expect: { configField: 'sources', names: [/duplicate values: "vanilla"/] } },
  { name: 'train.modes with a duplicate', input: async () => resolveSweepConfig('tiny', { train: { modes: ['frozen', 'scratch', 'frozen'] } }), expect: { configField: 'train.modes', names: [/duplicate values: "frozen"/] } },
  {
    name: 'a token in generator.replicate.trainerInput',
    input: async () => resolveSweepConfig('tiny', replicateSweep({ trainerInput: { hf_token: 'hf_abc', max_train_steps: 10 } })),
    expect: { configField: 'generator.replicate.trainerInput.hf_token', names: [/looks like a secret/] },
  },
  {
    name: 'a password nested in generator.replicate.extraInput',
    input: async () => resolveSweepConfig('tiny', replicateSweep({ extraInput: { webhook: { url: 'https://example.com', Password: 'x' } } })),
    expect: { configField: 'generator.replicate.extraInput.webhook.Password', names: [/looks like a secret/] },
  },
  {
    name: 'an API key in trainerInput, through the CLI',
    input: async ({ tmp }) => {
      const file = path.join(tmp, 'secret-sweep.json');
      await writeFile(file, JSON.stringify(replicateSweep({ trainerInput: { replicate_api_key: 'r8_x' } })));
      return synthmix(['sweep', '--preset', 'tiny', '--config', file]);
    },
    expect: { exit: 2, names: [/generator\.replicate\.trainerInput\.replicate_api_key: looks like a secret/] },
  },

  {
    name: 'finetune.instancesPerClass above dataset.perClass with a fine-tuned source (no class could be fine-tuned)',
    input: async () => resolveSweepConfig('tiny', { finetune: { instancesPerClass: 30 } }),
    expect: { configField: 'finetune.instancesPerClass', names: [/is 30, more than dataset\.perClass \(24\)/, /dreambooth, textual/] },
  },
  {
    name: 'a misspelt queue name: synthmix sweep asks the server who polls each queue and starts nothing',
    input: async ({ tmp }) => {
      const server = await startTemporalDevServer({ dbFile: path.join(tmp, 'preflight.sqlite') });
      try {
        const env = { SYNTHMIX_TEMPORAL_ADDRESS: server.address, SYNTHMIX_QUEUE_GPU: 'synthmix-gpu-misspelt' };
        const ran = await synthmix(['sweep', '--preset', 'tiny', '--id', 'preflight-misspelt'], env);
        // The escape, for workers started later: the same sweep starts, with the warning.
        const anyway = await synthmix(['sweep', '--preset', 'tiny', '--id', 'preflight-anyway', '--no-worker-check'], env);
        const client = await connectClient(loadConfig({ env: {}, overrides: { temporal: { mode: 'external', address: server.address } } }));
        const exists = (id: string) => client.workflow.getHandle(id).describe().then(() => true, () => false);
        const [refused, startedAnyway] = [await exists('preflight-misspelt'), await exists('preflight-anyway')];
        await client.workflow.getHandle('preflight-anyway').terminate().catch(() => undefined);
        await client.connection.close();
        if (refused) throw new Error('the refused sweep was started');
        if (anyway.code !== 0 || !startedAnyway || !anyway.output.includes('warning, starting anyway (--no-worker-check)')) throw new Error(`--no-worker-check did not start it:\n${anyway.output}`);
        return ran;
      } finally {
        await server.stop();
      }
    },
    expect: { exit: 2, names: [/no worker polls task queue "synthmix-gpu-misspelt" \(queues\.gpu\) for activity tasks/, /--no-worker-check/] },
  },

  // ── the dataset (curate) ─────────────────────────────────────────────────────────────────────
  {
    name: 'a class with fewer than k curated images (tooFew "all"): only the fine-tuned sources\' cells at p > 0 are blocked, naming it',
    input: async ({ dataset, local }) => {
      const root = await dataset({ 'gamma/0.png': await png(50) });
      const curated = await curate({ source: { kind: 'local', path: root }, perClass: 3, testPerClass: 0, seed: 1, imageSize: 8, tooFew: 'all' }, { store: local });
      const config = resolveSweepConfig('tiny', { mix: { p: [0, 0.5] }, train: { modes: ['scratch'] } });
      const short = shortClasses(config, curated.classes, curated.counts);
      return { short, blocked: enumerateCells(config).filter((cell) => blockedCellReason(cell, short.reasons)).map((cell) => cell.id) };
    },
    adds: true,
    expect: {
      ok: (value) => {
        const { short, blocked } = value as { short: ReturnType<typeof shortClasses>; blocked: string[] };
        expect(short.classes).toEqual(['gamma']);
        expect(Object.keys(short.reasons).sort()).toEqual(['dreambooth', 'textual']);
        expect(short.reasons.dreambooth).toContain('source dreambooth has no synthetic images of 1 class(es): "gamma" has 1 curated training image(s)');
        expect(short.reasons.dreambooth).toContain('k = 3 a fine-tune learns from (finetune.instancesPerClass)');
        expect(blocked).toEqual(['dreambooth-p0.5-scratch-s0', 'textual-p0.5-scratch-s0']);
      },
    },
  },
  {
    name: 'hidden entries (.ipynb_checkpoints, .DS_Store) at the dataset root and in a class folder',
    input: async ({ dataset, local }) => {
      const root = await dataset({
        '.DS_Store': 'finder',
        '.ipynb_checkpoints/alpha/0.png': await png(99),
        'alpha/.DS_Store': 'finder',
        'beta/.ipynb_checkpoints/0-checkpoint.png': await png(98),
        'beta/.hidden.png': await png(97),
      });
      return curate({ source: { kind: 'local', path: root }, perClass: 3, testPerClass: 1, seed: 1, imageSize: 8 }, { store: local });
    },
    adds: true,
    expect: {
      ok: (value) => {
        const result = value as { classes: string[]; rejected: number; counts: Record<string, unknown> };
        expect(result.classes).toEqual(['alpha', 'beta']);
        expect(result.rejected).toBe(0);
      },
    },
  },
  {
    name: 'classPrompts for a class the curated dataset does not have (checked by the sweep right after curate)',
    input: async ({ dataset, local }) => {
      const curated = await curate({ source: { kind: 'local', path: await dataset() }, perClass: 3, testPerClass: 1, seed: 1, imageSize: 8 }, { store: local });
      const config = resolveSweepConfig('tiny', { generator: { classPrompts: { alpha: ['a photo of an alpha'], zebra: ['a photo of a zebra'] } } });
      const problem = unknownClassPromptsProblem(config, curated.classes);
      if (problem) throw new BadInputError(problem); // what workflows/sweep.ts fails with (ApplicationFailure 'BadInput', non-retryable)
      return curated;
    },
    adds: true,
    expect: { error: 'BadInput', names: [/generator\.classPrompts/, /"zebra"/] },
  },

  // ── store keys and manifest paths that would become local paths ───────────────────────────
  {
    name: 'S3 key models/sd/../../../x put with the raw AWS SDK',
    input: async ({ s3 }) => seaweed.client().send(new PutObjectCommand({ Bucket: seaweed.server.bucket, Key: s3.objectKey('models/sd/../../../x'), Body: 'escape' })),
    // SeaweedFS refuses `.`/`..` segments itself; on a server that stores them (AWS), the listing row below refuses them.
    expect: { refusedBy: 'SeaweedFS', names: [/Invalid Request/i] },
  },
  {
    name: 'an S3 key our store never writes (control character) listed under an engine input prefix',
    input: async ({ s3, runner }) => {
      await seaweed.client().send(new PutObjectCommand({ Bucket: seaweed.server.bucket, Key: s3.objectKey('models/sd/e\tf'), Body: 'x', Metadata: { sha256: 'a'.repeat(64) } }));
      try {
        return await runner.run({ command: 'dummy-train', params: { steps: 1 }, inputs: { model: { prefix: 'models/sd' } } }, hooks('s3-listing'));
      } finally {
        await seaweed.client().send(new DeleteObjectCommand({ Bucket: seaweed.server.bucket, Key: s3.objectKey('models/sd/e\tf') }));
      }
    },
    expect: { error: 'BadInput', names: [/unsafe store key "models\/sd\/e\\tf" listed under "models\/sd\/"/, /control character/] },
  },
  {
    name: 'a listed key models/sd/../../../x as a path under the engine inputs folder',
    input: async ({ tmp }) => localPathForKey(path.join(tmp, 'inputs', 'model'), '../../../x', 'models/sd/../../../x'),
    expect: { error: 'BadInput', names: [/store key "models\/sd\/\.\.\/\.\.\/\.\.\/x" would become a path outside/] },
  },
  {
    name: 'a manifest item whose sha256 is a path (names the cache file)',
    input: async ({ runner }) => runner.fetchToCache('images/x.png', '../../../../tmp/x'),
    expect: { error: 'BadInput', names: [/images\/x\.png/, /not a lowercase hex sha256/] },
  },

  // ── endpoints that would receive a worker secret ─────────────────────────────────────────────
  {
    name: 'Replicate baseUrl over http (the sweep config names it, the worker config refuses it)',
    input: async ({ fetch }) =>
      withEnv({ REPLICATE_API_TOKEN: 'r8_bad_input_row' }, () =>
        generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints: workerEndpoints, config: { baseUrl: 'http://replicate.example.com/v1', model: 'owner/model' }, fetch }),
      ),
    expect: { error: 'BadInput', names: [/http:\/\/replicate\.example\.com\/v1/, /must be https/, /endpoints\.allowLoopbackHttp/] },
    noRequests: true,
  },
  {
    name: 'Replicate baseUrl on an https host that is not on the worker allow-list',
    input: async ({ fetch }) =>
      withEnv({ REPLICATE_API_TOKEN: 'r8_bad_input_row' }, () =>
        generateWithReplicate({ className: 'cat', count: 1, seed: 1, prompts: ['x'] }, { endpoints: workerEndpoints, config: { baseUrl: 'https://api.replicate.com.collector.example/v1', model: 'owner/model' }, fetch }),
      ),
    expect: { error: 'BadInput', names: [/https:\/\/api\.replicate\.com\.collector\.example\/v1/, /endpoints\.allowed \/ SYNTHMIX_ALLOWED_ENDPOINTS/] },
    noRequests: true,
  },
  {
    name: 'LLM endpoint on loopback http without the worker allowing loopback',
    input: async ({ fetch }) =>
      withEnv({ SYNTHMIX_LLM_API_KEY: 'sk-bad-input-row' }, () => writePromptsWithLlm(['cat'], { baseUrl: 'http://127.0.0.1:9/v1', endpoints: workerEndpoints, model: 'm', fetch })),
    expect: { error: 'BadInput', names: [/http:\/\/127\.0\.0\.1:9\/v1/, /endpoints\.allowLoopbackHttp/] },
    noRequests: true,
  },

  // ── images the engine cannot decode ─────────────────────────────────────────────────────────
  {
    name: 'engine.killGraceSeconds of 0 in the worker config (no time to write a checkpoint)',
    input: async () => loadConfig({ env: {}, overrides: { engine: { killGraceSeconds: 0 } } }),
    expect: { workerConfigField: 'engine.killGraceSeconds', names: [/killGraceSeconds/] },
  },
  {
    name: 'a manifest sha256 that is not the sha256 of the stored bytes (engine input cache)',
    input: async (c) => c.runner.fetchToCache('models/sd/weights.bin', 'a'.repeat(64)),
    expect: { error: 'CorruptObject', names: [/models\/sd\/weights\.bin/, /a{64}/] },
  },
  {
    name: 'a second writer publishing a memo marker over an existing object (conditional write)',
    input: async (c) => c.s3.putJsonIfAbsent('models/sd/config.json', { other: 'writer' }),
    expect: { ok: (value) => expect(value).toBeUndefined() },
  },
  {
    name: 'a decompression bomb (PNG declaring 20000×20000 pixels) in a training manifest',
    input: async ({ tmp }) => {
      const workDir = path.join(tmp, 'bomb-work');
      await mkdir(workDir, { recursive: true });
      const bomb = path.join(tmp, 'bomb.png');
      await writeFile(bomb, decompressionBomb());
      const manifest = path.join(tmp, 'bomb.json');
      await writeFile(manifest, JSON.stringify({ classes: ['red'], items: [{ path: bomb, class: 'red' }] }));
      return runEngineProcess({
        python,
        command: 'train-classifier',
        warm: false,
        spec: { workDir, resumeFrom: null, params: { mode: 'scratch', numClasses: 1, imageSize: 16, epochs: 1, width: 4, stem: 'cifar' }, inputs: { train: manifest, val: manifest } },
      });
    },
    expect: { engine: 'permanent', names: [/bomb\.png/, /DecompressionBombError/] },
  },
];

// ── the runner of the table ─────────────────────────────────────────────────────────────────────

const seaweed = withSeaweed();
let ctx: Context;

function replicateSweep(replicate: Record<string, unknown>): Record<string, unknown> {
  return { name: 'bad-input', sources: ['vanilla'], generator: { backend: 'replicate', replicate: { model: 'owner/model', ...replicate } } };
}

function hooks(attemptId: string) {
  return { heartbeat: () => undefined, lastHeartbeat: () => undefined, cancellation: new AbortController().signal, attemptId };
}

async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

async function png(seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(8 * 8 * 3, seed % 256);
  for (let i = 0; i < raw.length; i += 7) raw[i] = (seed * 31 + i) % 256;
  return sharp(raw, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
}

/** Everything stored, as `key sha256` lines: the S3 bucket read raw (a listing our store refuses is still seen). */
async function snapshot(): Promise<string> {
  const local = (await ctx.local.list('')).map((o) => `${o.key} ${o.sha256}`);
  const listed = await seaweed.client().send(new ListObjectsV2Command({ Bucket: seaweed.server.bucket }));
  const remote = (listed.Contents ?? []).map((o) => `s3:${o.Key} ${o.ETag}`);
  return [...local, ...remote].sort().join('\n');
}

/** Files under `dir` (recursive), to see that nothing was written outside an attempt's folder. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

beforeAll(async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-bad-input-'));
  const { endpoint, bucket, region, accessKeyId, secretAccessKey } = seaweed.server;
  const s3 = createS3Store({ bucket, prefix: 'bad-input', endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const local = createLocalStore(path.join(tmp, 'store'));
  // What is already stored, and must not change: weights under the prefix a row lists, a dataset image.
  await s3.put('models/sd/weights.bin', Buffer.from('weights'));
  await s3.put('models/sd/config.json', '{}');
  await local.put('models/sd/weights.bin', Buffer.from('weights'));
  const runner = new EngineRunner(s3, { ...loadConfig({ env: {} }).engine, cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work'), warm: false });
  const requests: string[] = [];
  let datasets = 0;
  ctx = {
    tmp,
    local,
    s3,
    runner,
    requests,
    fetch: async (input) => {
      requests.push(String(input instanceof Request ? input.url : input));
      return new Response('{}', { status: 500 });
    },
    async dataset(extras = {}) {
      const root = path.join(tmp, `dataset-${datasets++}`);
      const files: Record<string, Buffer | string> = {};
      for (const [c, cls] of ['alpha', 'beta'].entries()) for (let i = 0; i < 4; i++) files[`${cls}/${i}.png`] = await png(c * 10 + i);
      for (const [rel, bytes] of Object.entries({ ...files, ...extras })) {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
        await writeFile(path.join(root, rel), bytes);
      }
      return root;
    },
  };
});

afterAll(async () => {
  ctx?.s3.close();
  if (ctx) await rm(ctx.tmp, { recursive: true, force: true });
});

async function feed(row: Row): Promise<Outcome> {
  try {
    const value = await row.input(ctx);
    if (value && typeof value === 'object' && 'code' in value && 'output' in value) return { kind: 'exit', ...(value as { code: number | null; output: string }) };
    if (value && typeof value === 'object' && 'kind' in value && 'stderrTail' in value) return { kind: 'engine', outcome: value as EngineOutcome };
    return { kind: 'value', value };
  } catch (error) {
    return { kind: 'threw', error };
  }
}

function messageOf(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'threw':
      return outcome.error instanceof ZodError ? outcome.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n') : String((outcome.error as Error)?.message ?? outcome.error);
    case 'exit':
      return outcome.output;
    case 'engine':
      return 'message' in outcome.outcome ? `${outcome.outcome.message}\n${outcome.outcome.stderrTail}` : outcome.outcome.stderrTail;
    case 'value':
      return '';
  }
}

describe('bad input', () => {
  it.each(ROWS.map((row) => [row.name, row] as const))('%s', { timeout: 120_000 }, async (_name, row) => {
    const before = await snapshot();
    const requestsBefore = ctx.requests.length;
    const outcome = await feed(row);
    const expected = row.expect;
    const message = messageOf(outcome);
    if ('ok' in expected) {
      expect(outcome.kind, message).toBe('value');
      expected.ok((outcome as { value: unknown }).value);
    } else {
      for (const pattern of expected.names) expect(message).toMatch(pattern);
      if ('error' in expected) {
        expect(outcome.kind).toBe('threw');
        const error = (outcome as { error: unknown }).error;
        expect(error).toBeInstanceOf(SynthmixError);
        expect((error as SynthmixError).type).toBe(expected.error);
        expect((error as SynthmixError).nonRetryable).toBe(true);
      } else if ('configField' in expected) {
        expect(outcome.kind).toBe('threw');
        const error = (outcome as { error: unknown }).error;
        expect(error).toBeInstanceOf(ZodError);
        expect((error as ZodError).issues.map((i) => i.path.join('.'))).toContain(expected.configField);
      } else if ('workerConfigField' in expected) {
        expect(outcome.kind).toBe('threw');
        const error = (outcome as { error: unknown }).error;
        expect(error).toBeInstanceOf(ConfigError);
        expect(message).toContain(expected.workerConfigField);
      } else if ('exit' in expected) {
        expect(outcome.kind).toBe('exit');
        expect((outcome as { code: number | null }).code).toBe(expected.exit);
      } else if ('engine' in expected) {
        expect(outcome.kind).toBe('engine');
        expect((outcome as { outcome: EngineOutcome }).outcome.kind).toBe(expected.engine);
      } else {
        expect(outcome.kind, `refused by ${expected.refusedBy}`).toBe('threw');
      }
    }
    if (row.noRequests) expect(ctx.requests.length).toBe(requestsBefore);
    // Nothing already stored changed (nor was added, unless the row does real work first), and no
    // attempt left anything behind: a link outside its folder would be found here.
    const after = await snapshot();
    if (row.adds) expect(after.split('\n')).toEqual(expect.arrayContaining(before.split('\n')));
    else expect(after).toBe(before);
    expect(await filesUnder(path.join(ctx.tmp, 'work'))).toEqual([]);
    expect(existsSync(path.join(ctx.tmp, 'x'))).toBe(false);
  });
});

describe('the path check (localPathForKey)', () => {
  it('keeps a good key inside its root and refuses every key that would leave it, naming the key', () => {
    const root = path.join(os.tmpdir(), 'root');
    expect(localPathForKey(root, 'unet/weights.bin', 'models/sd/unet/weights.bin')).toBe(path.join(root, 'unet', 'weights.bin'));
    expect(localPathForKey(root, 'a/...b')).toBe(path.join(root, 'a', '...b'));
    for (const relative of ['../x', 'a/../../x', '/etc/passwd', 'a/./b', '..', '', 'a//b', 'a\\..\\x']) {
      expect(() => localPathForKey(root, relative, `models/sd/${relative}`)).toThrow(BadInputError);
      expect(() => localPathForKey(root, relative, `models/sd/${relative}`)).toThrow(`store key ${JSON.stringify(`models/sd/${relative}`)}`);
    }
  });
});

describe('not bad input', () => {
  it('typed fields named like secrets, and class names in classPrompts, are accepted', () => {
    const config = resolveSweepConfig('tiny', {
      train: { pretrainedKey: 'models/resnet18.pt' },
      fid: { extractor: 'inception-v3-fid', inceptionWeightsKey: 'models/pt_inception.pth' },
      generator: { classPrompts: { monkey: ['a photo of a monkey'], turkey: ['a turkey'] } },
    });
    expect(config.train.pretrainedKey).toBe('models/resnet18.pt');
    expect(Object.keys(config.generator.classPrompts)).toEqual(['monkey', 'turkey']);
    expect(unknownClassPromptsProblem(config, ['monkey', 'turkey', 'zebra'])).toBeUndefined();
  });
});
