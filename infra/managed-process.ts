/**
 * Shared plumbing for the server launchers: free loopback ports, a child process in its own process
 * group with its output in a log file, readiness polling, and cleanup so no server outlives its parent
 * (exit/signal handlers, plus a watchdog that stops the server and removes the temp files even when the
 * parent dies by SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';

// ---------------------------------------------------------------------------------------------
// Ports

/** Ports handed out by this process recently: never hand the same one out twice. */
const handedOut = new Set<number>();

function listenOn(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

function closeAll(servers: readonly net.Server[]): Promise<void> {
  return Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
}

/**
 * `count` distinct free ports on 127.0.0.1 (each found by listening on port 0). All listeners are held
 * until every port is found, so the ports are distinct; then they are released for the server to bind.
 * `paired` (optional): for every port p also require p + paired free (SeaweedFS derives gRPC ports that way).
 */
export async function freePorts(count: number, options: { paired?: number } = {}): Promise<number[]> {
  const held: net.Server[] = [];
  const ports: number[] = [];
  try {
    let attempts = 0;
    while (ports.length < count) {
      if (++attempts > count * 50) throw new Error(`could not find ${count} free loopback ports`);
      const server = await listenOn(0);
      if (!server) continue;
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      if (port === 0 || handedOut.has(port)) {
        held.push(server);
        continue;
      }
      if (options.paired !== undefined) {
        const partner = port + options.paired;
        const partnerServer = partner <= 65535 && !handedOut.has(partner) ? await listenOn(partner) : undefined;
        if (!partnerServer) {
          held.push(server);
          continue;
        }
        held.push(partnerServer);
        handedOut.add(partner);
      }
      held.push(server);
      handedOut.add(port);
      ports.push(port);
    }
    return ports;
  } finally {
    await closeAll(held);
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The last `lines` lines of a log file, reading only from byte `from` on ('' if unreadable). */
export function logTail(file: string, lines = 25, from = 0): string {
  try {
    const size = fileSize(file);
    const start = Math.max(from, size - 64 * 1024);
    if (size <= start) return '';
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(size - start);
      readSync(fd, buffer, 0, buffer.length, start);
      return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup on parent exit

const live = new Set<ManagedProcess>();
let handlersInstalled = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function cleanupAll(): void {
  for (const proc of live) proc.killNowSync();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAll();
  // Behave as if we had never listened: if nobody else handles this signal, die of it.
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/**
 * A launcher's private runtime directory (pid file, and the default data/log files when the caller
 * gave none) plus a watchdog: a tiny detached shell that outlives us. When our process is gone (exit,
 * signal, even SIGKILL) it sends SIGTERM to the server's process group named in the pid file, SIGKILL
 * after 10 s, then removes the runtime directory. While we live it only sleeps.
 */
export class RuntimeDir {
  readonly dir: string;
  readonly pidFile: string;

  constructor(prefix: string) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.pidFile = path.join(this.dir, 'server.pid');
    const script = [
      'parent=$1; pidfile=$2; dir=$3',
      'while kill -0 "$parent" 2>/dev/null; do sleep 1; done',
      'pid=$(cat "$pidfile" 2>/dev/null)',
      'if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then',
      '  kill -TERM -"$pid" 2>/dev/null',
      '  i=0; while [ $i -lt 10 ] && kill -0 "$pid" 2>/dev/null; do sleep 1; i=$((i+1)); done',
      '  kill -KILL -"$pid" 2>/dev/null; sleep 0.2',
      'fi',
      '[ -f "$dir/cleanup-globs" ] && for f in $(cat "$dir/cleanup-globs"); do rm -f $f; done',
      'rm -rf "$dir"',
    ].join('\n');
    try {
      const watchdog = spawn('/bin/sh', ['-c', script, 'synthmix-watchdog', String(process.pid), this.pidFile, this.dir], {
        detached: true,
        stdio: 'ignore',
      });
      watchdog.on('error', () => undefined);
      watchdog.unref();
    } catch {
      // without a watchdog, the exit/signal handlers still stop the server
    }
  }

  /** Extra files (shell globs without spaces) the watchdog removes after our process is gone. */
  cleanupAfterExit(globs: readonly string[]): void {
    writeFileSync(path.join(this.dir, 'cleanup-globs'), `${globs.join('\n')}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// The managed child

export interface ManagedProcessOptions {
  /** A short name for messages, e.g. "temporal dev server". */
  name: string;
  command: string;
  args: readonly string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The running child's pid is kept here (for the watchdog of a {@link RuntimeDir}). */
  pidFile?: string;
}

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private logOffset = 0;

  constructor(private readonly options: ManagedProcessOptions) {}

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  /** Why the process ended, for messages ('' while running). */
  get exitDescription(): string {
    if (!this.exitInfo) return '';
    return this.exitInfo.signal ? `killed by ${this.exitInfo.signal}` : `exited with code ${this.exitInfo.code}`;
  }

  /** Spawns the process (in its own process group). Resolves once spawned; readiness is the caller's. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.options.name} is already running (pid ${this.pid})`);
    installHandlers();
    mkdirSync(path.dirname(this.options.logFile), { recursive: true });
    this.logOffset = fileSize(this.options.logFile);
    const fd = openSync(this.options.logFile, 'a');
    writeSync(fd, `\n==== ${new Date().toISOString()} ${this.options.command} ${this.options.args.join(' ')}\n`);
    let child: ChildProcess;
    try {
      child = spawn(this.options.command, [...this.options.args], {
        cwd: this.options.cwd,
        env: this.options.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    this.exitInfo = undefined;
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        if (this.options.pidFile && readIfExists(this.options.pidFile) === String(child.pid)) {
          rmSync(this.options.pidFile, { force: true });
        }
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (error) => {
        this.exitInfo = { code: null, signal: null };
        reject(new Error(`${this.options.name}: could not start ${this.options.command}: ${error.message}`));
      });
    });
    child.unref();
    live.add(this);
    if (this.options.pidFile && child.pid) writeFileSync(this.options.pidFile, String(child.pid));
  }

  /** The tail of what this run (since the last start) wrote to the log. */
  logSinceStart(lines = 25): string {
    return logTail(this.options.logFile, lines, this.logOffset);
  }

  /** Resolves when the process has exited (immediately if it is not running). */
  waitForExit(): Promise<void> {
    return this.exited;
  }

  /** Sends `signal` to the process group and waits for the exit; SIGKILL after `graceMs`. */
  async signalAndWait(signal: NodeJS.Signals, graceMs = 30_000): Promise<void> {
    if (!this.running || !this.child?.pid) return;
    killGroup(this.child.pid, signal);
    if (signal === 'SIGKILL') {
      await this.exited;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (timedOut && this.child.pid) {
      killGroup(this.child.pid, 'SIGKILL');
      await this.exited;
    }
  }

  /** Synchronous last-resort cleanup (process exit/signal): SIGTERM the group; the watchdog finishes the job. */
  killNowSync(): void {
    if (this.running && this.child?.pid) killGroup(this.child.pid, 'SIGTERM');
  }
}

/**
 * Polls `probe` (which throws until the server is ready) with a small backoff, failing fast if the
 * process exits, and with the log's tail in the error when it gives up.
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  probe: () => Promise<void>,
  options: { name: string; timeoutMs: number; logFile: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = 50;
  let lastError = '';
  for (;;) {
    if (!proc.running) {
      throw new Error(`${options.name} ${proc.exitDescription} before it was ready; log ${options.logFile}:\n${proc.logSinceStart()}`);
    }
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${options.name} not ready after ${Math.round(options.timeoutMs / 1000)} s (last probe error: ${lastError}); ` +
          `log ${options.logFile}:\n${proc.logSinceStart()}`,
      );
    }
    await Promise.race([sleep(delay), proc.waitForExit()]);
    delay = Math.min(delay * 2, 1000);
  }
}

/** True when this run's log shows a port was taken (worth retrying with new ports). */
export function portConflict(proc: ManagedProcess): boolean {
  return /address already in use|EADDRINUSE/i.test(proc.logSinceStart(200));
}

/** Reads a file or returns undefined. */
export function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
