import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { warmEngineFor, type WarmEngine } from './warm-engine.js';
import { withoutSecrets } from './env.js';
import type { GpuSlot, GpuSlots } from './gpu-slots.js';
import { projectRoot } from '../config/load.js';
import { ENGINE_EXIT, parseEngineLine, type EngineEvent, type ResultEvent } from './events.js';

export interface EngineProcessOptions {
  python: string;
  command: string;
  /** The spec object (protocol.py): workDir, resumeFrom, params, inputs. */
  spec: { workDir: string; resumeFrom: string | null; params: Record<string, unknown>; inputs: Record<string, string> };
  threads?: number;
  /** Called for every event, in order; may be async (the next event waits for it). */
  onEvent?: (event: EngineEvent) => Promise<void> | void;
  /** Aborting sends SIGTERM (the engine checkpoints and exits 143), then SIGKILL after `killAfterMs`. */
  signal?: AbortSignal;
  killAfterMs?: number;
  /** Fork from the worker's warm engine instead of spawning (falls back to spawning). */
  warm?: boolean;
  /** The gpu worker's devices: the engine waits for one and sees only it (CUDA_VISIBLE_DEVICES). */
  gpuSlots?: GpuSlots;
}

export type EngineOutcome =
  | { kind: 'ok'; result: ResultEvent; stderrTail: string }
  | { kind: 'permanent'; message: string; stderrTail: string }
  | { kind: 'transient'; message: string; stderrTail: string }
  | { kind: 'preempted'; aborted: boolean; stderrTail: string }
  | { kind: 'crashed'; message: string; stderrTail: string };

const STDERR_TAIL_CHARS = 4000;

/** A started engine process, however it was started. */
interface LaunchedEngine {
  /** JSON-line events (and stray lines) from the engine's stdout. */
  stdout: NodeJS.ReadableStream;
  /** Signal the engine's whole process group (no-op once it has exited). */
  signalGroup(signal: NodeJS.Signals): void;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail(): Promise<string>;
}

function engineEnv(options: EngineProcessOptions, slot: GpuSlot | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...withoutSecrets(process.env),
    PYTHONPATH: path.join(projectRoot, 'engine'),
    PYTHONUNBUFFERED: '1',
    HF_HUB_OFFLINE: '1',
    SYNTHMIX_ENGINE_DIE_WITH_PARENT: '1',
  };
  if (options.threads && options.threads > 0) env.SYNTHMIX_ENGINE_THREADS = String(options.threads);
  // Its own GPU only (also replacing a worker-wide list). The warm engine keys its forkservers on
  // CUDA_* variables, so each device gets a forkserver of its own that never saw another device.
  if (slot) env.CUDA_VISIBLE_DEVICES = slot.device;
  return env;
}

/** `python -m synthmix_engine <command> --spec F` in its own process group. */
function spawnEngine(options: EngineProcessOptions, argv: string[], env: NodeJS.ProcessEnv): LaunchedEngine {
  const child = spawn(options.python, ['-m', 'synthmix_engine', ...argv], {
    cwd: options.spec.workDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let tail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  return {
    stdout: child.stdout,
    signalGroup(sig) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    },
    exit: new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, sig) => resolve({ code, signal: sig }));
    }),
    stderrTail: async () => tail,
  };
}

/** The same engine process, forked by the worker's warm forkserver (warm-engine.ts). */
async function forkEngine(warm: WarmEngine, options: EngineProcessOptions, argv: string[], env: NodeJS.ProcessEnv): Promise<LaunchedEngine> {
  const stderrPath = path.join(options.spec.workDir, 'engine.stderr');
  const childEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const { socket } = await warm.fork({ argv, cwd: options.spec.workDir, env: childEnv, stderrPath });
  const stdout = new PassThrough();
  let pid: number | undefined;
  let exited = false;
  const pending: NodeJS.Signals[] = [];
  const send = (sig: NodeJS.Signals) => {
    if (exited) return;
    if (pid === undefined) {
      pending.push(sig);
      return;
    }
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const lines = createInterface({ input: socket });
    lines.on('line', (line) => {
      if (line.startsWith('{"event": "__pid__"')) {
        pid = (JSON.parse(line) as { pid: number }).pid;
        for (const sig of pending.splice(0)) send(sig);
      } else if (line.startsWith('{"event": "__exit__"')) {
        const raw = JSON.parse(line) as { code: number | null; signal: number | null };
        status = { code: raw.code, signal: raw.signal === null ? null : signalName(raw.signal) };
      } else {
        stdout.write(`${line}\n`);
      }
    });
    socket.once('close', () => {
      exited = true;
      stdout.end();
      // No exit line: the forkserver itself died (its children die with it).
      resolve(status ?? { code: null, signal: 'SIGKILL' });
    });
    socket.once('error', () => socket.destroy());
  });
  return {
    stdout,
    signalGroup: send,
    exit,
    stderrTail: async () => (await readFile(stderrPath, 'utf8').catch(() => '')).slice(-STDERR_TAIL_CHARS),
  };
}

function signalName(signal: number): NodeJS.Signals {
  const found = Object.entries(os.constants.signals).find(([, n]) => n === signal);
  return (found?.[0] ?? 'SIGKILL') as NodeJS.Signals;
}

/**
 * Run `python -m synthmix_engine <command> --spec F` and follow it to the end: forked by the
 * worker's warm engine when `warm` is on (imports paid once per worker), else spawned.
 * The engine runs in its own process group so that cancellation reaches everything it started,
 * and it asks the kernel to kill it if this process dies (no orphans after a worker SIGKILL).
 */
export async function runEngineProcess(options: EngineProcessOptions): Promise<EngineOutcome> {
  let slot: GpuSlot | undefined;
  if (options.gpuSlots) {
    try {
      slot = await options.gpuSlots.acquire(options.signal);
    } catch (error) {
      // Cancelled while waiting for a GPU: nothing ran, nothing is held.
      if (options.signal?.aborted) return { kind: 'preempted', aborted: true, stderrTail: '' };
      throw error;
    }
  }
  try {
    return await runHoldingSlot(options, slot);
  } finally {
    // The engine has exited (result, error, crash or cancellation): its GPU is free again.
    slot?.release();
  }
}

async function runHoldingSlot(options: EngineProcessOptions, slot: GpuSlot | undefined): Promise<EngineOutcome> {
  const specPath = path.join(options.spec.workDir, 'spec.json');
  await writeFile(specPath, JSON.stringify(options.spec, null, 2));
  const env = engineEnv(options, slot);
  const argv = [options.command, '--spec', specPath];
  const warm = options.warm ? await warmEngineFor(options.python, env) : undefined;
  const engine = warm ? await forkEngine(warm, options, argv, env).catch(() => spawnEngine(options, argv, env)) : spawnEngine(options, argv, env);
  const signalGroup = engine.signalGroup;

  let aborted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    aborted = true;
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => signalGroup('SIGKILL'), options.killAfterMs ?? 15_000);
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  let result: ResultEvent | undefined;
  let lastError: { kind: 'permanent' | 'transient'; message: string } | undefined;
  let eventChain: Promise<void> = Promise.resolve();
  let eventFailure: unknown;
  let strayLines = '';
  const lines = createInterface({ input: engine.stdout });
  lines.on('line', (line) => {
    const event = parseEngineLine(line);
    if (!event) {
      strayLines = (strayLines + line + '\n').slice(-STDERR_TAIL_CHARS);
      return;
    }
    if (event.event === 'result') result = event;
    if (event.event === 'error') lastError = { kind: event.kind, message: event.message };
    eventChain = eventChain.then(async () => {
      if (eventFailure === undefined) await options.onEvent?.(event);
    }).catch((error: unknown) => {
      eventFailure = error;
      signalGroup('SIGKILL');
    });
  });

  const exit = await engine.exit.finally(() => {
    if (killTimer) clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', onAbort);
  });
  // The line reader may still hold the last lines: let it drain before judging the outcome.
  await new Promise<void>((resolve) => (engine.stdout.readable ? lines.once('close', () => resolve()) : resolve()));
  const stderrTail = ((await engine.stderrTail()) + strayLines).slice(-STDERR_TAIL_CHARS);
  await eventChain;
  if (eventFailure !== undefined) throw eventFailure;

  if (exit.code === ENGINE_EXIT.ok && result) return { kind: 'ok', result, stderrTail };
  if (exit.code === ENGINE_EXIT.permanent) {
    return { kind: 'permanent', message: lastError?.message ?? 'engine reported a permanent error', stderrTail };
  }
  if (exit.code === ENGINE_EXIT.transient) {
    return { kind: 'transient', message: lastError?.message ?? 'engine reported a transient error', stderrTail };
  }
  if (exit.code === ENGINE_EXIT.preempted || (aborted && exit.signal !== null)) {
    return { kind: 'preempted', aborted, stderrTail };
  }
  const how = exit.signal ? `killed by ${exit.signal}` : exit.code === 0 ? 'exited 0 without a result' : `exited with code ${exit.code}`;
  return { kind: 'crashed', message: `engine ${options.command} ${how}`, stderrTail };
}
