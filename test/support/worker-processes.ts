/**
 * Workers as separate processes, for the tests that kill them: `synthmix worker --queue Q` run as
 * `node --import tsx` (one process, so a signal reaches the worker itself: the `tsx` CLI wrapper
 * relays SIGTERM and escalates to SIGKILL when its child does not acknowledge within 30 ms), each
 * in a process group of its own, configured through a SYNTHMIX_CONFIG file.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../lib/config/load.js';
import { envWithoutSynthmix } from './clean-env.js';

export interface WorkerProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function isAlive(worker: WorkerProcess): boolean {
  return worker.child.exitCode === null && worker.child.signalCode === null;
}

/** The live (not zombie) descendants of a process: the warm engine's forkserver, engines. */
export function descendantsOf(root: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,stat='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, , stat]) => !stat?.startsWith('Z'))
    .map(([pid, ppid]) => [Number(pid), Number(ppid)] as const);
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const [pid, ppid] of rows) {
      if (ppid !== parent || found.includes(pid)) continue;
      found.push(pid);
      visit(pid);
    }
  };
  visit(root);
  return found;
}

/** Which of these processes still live (a zombie awaiting its reaper counts as gone). */
export function stillAlive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      return !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim().startsWith('Z');
    } catch {
      return false; // ps exits 1: no such process
    }
  });
}

/** The worker processes of one test file. */
export class WorkerProcesses {
  readonly all: WorkerProcess[] = [];

  constructor(private readonly configFile: string) {}

  /** Start a worker and wait until it polls its queue; `extraEnv`: this worker's own settings (e.g. its metrics port). */
  async start(name: string, queue: 'cpu' | 'gpu' = 'gpu', extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
    const env: NodeJS.ProcessEnv = { ...envWithoutSynthmix(), SYNTHMIX_CONFIG: this.configFile, ...extraEnv };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'cli', 'synthmix.ts'), 'worker', '--queue', queue], {
      cwd: projectRoot,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`${queue} worker ${name} did not start`);
    const output: string[] = [];
    const collect = (chunk: Buffer) => output.push(chunk.toString('utf8'));
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const worker: WorkerProcess = {
      name,
      child,
      pid: child.pid,
      output,
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    };
    this.all.push(worker);
    await this.waitFor(`${queue} worker ${name} to start polling`, async () => {
      if (!isAlive(worker)) throw new Error(`${queue} worker ${name} exited early:\n${output.join('')}`);
      return output.join('').includes(`synthmix ${queue} worker on`) ? true : undefined;
    });
    return worker;
  }

  /** What the worker processes printed (for failure messages). */
  logs(): string {
    return this.all.map((w) => `--- worker ${w.name} (pid ${w.pid}):\n${w.output.join('').slice(-4000)}`).join('\n');
  }

  /** Poll `probe` until it returns a value; on timeout the error carries the workers' logs. */
  async waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 100): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${this.logs()}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** SIGKILL every worker still alive, with its whole process group (afterAll). */
  async killAll(): Promise<void> {
    for (const worker of this.all) {
      if (!isAlive(worker)) continue;
      try {
        process.kill(-worker.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await worker.exited;
    }
  }
}
