/**
 * The two ways an engine process starts — spawned (`python -m synthmix_engine`) or forked by the
 * worker's warm forkserver — behave the same: events, results, permanent errors, crashes,
 * SIGTERM preemption, and no process left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load.js';
import { runEngineProcess, type EngineOutcome } from '../lib/engine/process.js';
import type { EngineEvent } from '../lib/engine/events.js';

const python = loadConfig({ env: {} }).engine.python;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-engine-process-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function enginesFor(tag: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', `synthmix_engine dummy-train.*${tag}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function run(warm: boolean, command: string, params: Record<string, unknown>, signal?: AbortSignal, name = 'run', events: EngineEvent[] = []): Promise<{ outcome: EngineOutcome; events: EngineEvent[] }> {
  // The work dir is in the engine's command line (its spec path): pgrep finds the engine by it.
  const workDir = mkdtempSync(path.join(tmp, `${name}-${warm ? 'warm' : 'spawn'}-`));
  const outcome = await runEngineProcess({ python, command, warm, spec: { workDir, resumeFrom: null, params, inputs: {} }, onEvent: (e) => void events.push(e), ...(signal ? { signal } : {}) });
  return { outcome, events };
}

it('gives the same events and result spawned or forked', async () => {
  const spawned = await run(false, 'dummy-train', { steps: 4, checkpointEvery: 2 });
  const forked = await run(true, 'dummy-train', { steps: 4, checkpointEvery: 2 });
  expect(spawned.outcome.kind).toBe('ok');
  expect(forked.outcome.kind).toBe('ok');
  const shape = (events: EngineEvent[]) => events.map((e) => (e.event === 'progress' ? `progress ${e.step}` : e.event));
  expect(shape(spawned.events)).toContain('result');
  expect(shape(forked.events)).toEqual(shape(spawned.events));
  expect(forked.events.filter((e) => e.event === 'checkpoint').length).toBe(2);
});

describe.each([false, true])('engine process (warm: %s)', (warm) => {
  it('maps a permanent error, a crash and SIGTERM like a spawned engine would', async () => {
    const failed = await run(warm, 'dummy-train', { steps: 5, failAt: 2 });
    expect(failed.outcome).toMatchObject({ kind: 'permanent', message: expect.stringContaining('asked to fail at step 2') });
    const crashed = await run(warm, 'dummy-train', { steps: 5, crashAt: 2 });
    expect(crashed.outcome.kind).toBe('crashed');
    expect(crashed.outcome.stderrTail).toContain('simulated crash');

    const tag = `sigterm${warm ? 'w' : 's'}${Date.now()}`;
    const abort = new AbortController();
    const seen: EngineEvent[] = [];
    const running = run(warm, 'dummy-train', { steps: 10_000, stepSeconds: 0.05, checkpointEvery: 10 }, abort.signal, tag, seen);
    // SIGTERM once the engine is training (its first progress event): earlier, during Python's start,
    // no handler is installed yet and the engine dies without a checkpoint — a race, not a bug.
    for (let i = 0; i < 600 && !seen.some((e) => e.event === 'progress'); i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(enginesFor(tag).length).toBe(1);
    abort.abort();
    const preempted = await running;
    expect(preempted.outcome).toMatchObject({ kind: 'preempted', aborted: true });
    // It checkpointed before exiting, and nothing of it is left.
    expect(preempted.events.filter((e) => e.event === 'checkpoint').length).toBeGreaterThan(0);
    expect(enginesFor(tag)).toEqual([]);
  });
});

it('an engine, spawned or forked, gets none of the worker secrets in its environment', async () => {
  const secrets = {
    REPLICATE_API_TOKEN: 'r8_test_token',
    AWS_ACCESS_KEY_ID: 'AKIATEST',
    AWS_SECRET_ACCESS_KEY: 'aws-secret',
    AWS_SESSION_TOKEN: 'aws-session',
    TEMPORAL_API_KEY: 'temporal-key',
    OPENAI_API_KEY: 'sk-test',
    SYNTHMIX_LLM_API_KEY: 'sk-llm',
  };
  const saved = Object.fromEntries(Object.keys(secrets).map((name) => [name, process.env[name]]));
  Object.assign(process.env, secrets, { SYNTHMIX_ENV_PROBE: 'kept' });
  try {
    for (const warm of [false, true]) {
      const { outcome } = await run(warm, 'dummy-train', { steps: 1, stepSeconds: 0, reportEnv: true }, undefined, 'env');
      expect(outcome.kind).toBe('ok');
      const names = (outcome as Extract<EngineOutcome, { kind: 'ok' }>).result.summary.env as string[];
      expect(names).toContain('SYNTHMIX_ENV_PROBE'); // the environment is passed on, less the secrets
      for (const name of Object.keys(secrets)) expect(names, `${name} (warm: ${warm})`).not.toContain(name);
    }
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    delete process.env.SYNTHMIX_ENV_PROBE;
  }
});
