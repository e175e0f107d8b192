/**
 * The warm engine (engine/synthmix_engine/forkserver.py): one Python process per worker that has
 * imported torch and diffusers once and forks an engine process per command, saving seconds of
 * imports on every step. A child behaves exactly like a spawned engine (same events, exit codes,
 * own process group, dies with the worker); when the forkserver cannot start, the runner spawns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { withoutSecrets } from './env.js';
import { log } from '../log.js';

export interface ForkedEngine {
  /** The child's stdout (JSON-line events), with the forkserver's `__pid__`/`__exit__` lines. */
  socket: net.Socket;
}

const READY_TIMEOUT_MS = 120_000;

export class WarmEngine {
  private constructor(
    private readonly server: ChildProcess,
    private readonly socketPath: string,
    private readonly dir: string,
  ) {}

  /** Start a forkserver for `python` with `env` and wait until it has preloaded and listens. */
  static async start(python: string, env: NodeJS.ProcessEnv): Promise<WarmEngine> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synthmix-warm-'));
    const socketPath = path.join(dir, 'engine.sock');
    const server = spawn(python, ['-m', 'synthmix_engine.forkserver', '--socket', socketPath], {
      // Its children inherit its environment: no worker secret in it.
      env: withoutSecrets(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    server.stderr?.setEncoding('utf8');
    server.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    const warm = new WarmEngine(server, socketPath, dir);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`forkserver not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
        const lines = createInterface({ input: server.stdout! });
        lines.once('line', () => {
          clearTimeout(timer);
          resolve();
        });
        server.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`forkserver exited (${signal ?? code}) before it was ready: ${stderr.trim()}`));
        });
        server.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
    } catch (error) {
      warm.stop();
      throw error;
    }
    // The worker must not wait for its forkserver to exit.
    server.unref();
    (server.stdout as net.Socket | null)?.unref?.();
    (server.stderr as net.Socket | null)?.unref?.();
    return warm;
  }

  get alive(): boolean {
    return this.server.exitCode === null && this.server.signalCode === null;
  }

  /** Fork one engine process running `argv` (as after `python -m synthmix_engine`). */
  fork(request: { argv: string[]; cwd: string; env: Record<string, string>; stderrPath: string }): Promise<ForkedEngine> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.socketPath);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.write(`${JSON.stringify({ argv: request.argv, cwd: request.cwd, env: request.env, stderr: request.stderrPath })}\n`);
        resolve({ socket });
      });
    });
  }

  stop(): void {
    if (this.alive) this.server.kill('SIGKILL'); // it ignores SIGTERM (forkserver.py)
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const servers = new Map<string, Promise<WarmEngine | undefined>>();

/**
 * The worker's forkserver for this python and environment, started on first use; undefined when
 * it cannot start (the reason is logged once and the runner spawns engines instead).
 */
export function warmEngineFor(python: string, env: NodeJS.ProcessEnv): Promise<WarmEngine | undefined> {
  // Libraries read these when imported (thread pools, devices): a different value needs its own server.
  const key = JSON.stringify([python, Object.entries(env).filter(([name]) => /^(OMP_|MKL_|CUDA_|PYTORCH_|TORCH_|HIP_)/.test(name)).sort()]);
  const existing = servers.get(key);
  if (existing) {
    return existing.then((warm) => {
      if (warm && !warm.alive) {
        servers.delete(key);
        return warmEngineFor(python, env);
      }
      return warm;
    });
  }
  const starting = WarmEngine.start(python, env).catch((error: unknown) => {
    log.warn(`synthmix: warm engine unavailable, spawning an engine per step (${(error as Error).message})`);
    return undefined;
  });
  servers.set(key, starting);
  return starting;
}
