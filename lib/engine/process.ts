import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
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
}

export type EngineOutcome =
  | { kind: 'ok'; result: ResultEvent; stderrTail: string }
  | { kind: 'permanent'; message: string; stderrTail: string }
  | { kind: 'transient'; message: string; stderrTail: string }
  | { kind: 'preempted'; aborted: boolean; stderrTail: string }
  | { kind: 'crashed'; message: string; stderrTail: string };

const STDERR_TAIL_CHARS = 4000;

/**
 * Spawn `python -m synthmix_engine <command> --spec F` and follow it to the end.
 * The engine runs in its own process group so that cancellation reaches everything it started,
 * and it asks the kernel to kill it if this process dies (no orphans after a worker SIGKILL).
 */
export async function runEngineProcess(options: EngineProcessOptions): Promise<EngineOutcome> {
  const specPath = path.join(options.spec.workDir, 'spec.json');
  await writeFile(specPath, JSON.stringify(options.spec, null, 2));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONPATH: path.join(projectRoot, 'engine'),
    PYTHONUNBUFFERED: '1',
    HF_HUB_OFFLINE: '1',
    SYNTHMIX_ENGINE_DIE_WITH_PARENT: '1',
  };
  if (options.threads && options.threads > 0) env.SYNTHMIX_ENGINE_THREADS = String(options.threads);
  const child = spawn(options.python, ['-m', 'synthmix_engine', options.command, '--spec', specPath], {
    cwd: options.spec.workDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });

  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
  });

  let aborted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const signalGroup = (sig: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
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
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const event = parseEngineLine(line);
    if (!event) {
      stderrTail = (stderrTail + line + '\n').slice(-STDERR_TAIL_CHARS);
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

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => resolve({ code, signal: sig }));
  }).finally(() => {
    if (killTimer) clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', onAbort);
  });
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
