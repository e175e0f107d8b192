import { mkdir, readdir, rename, rm, stat, symlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ArtifactStore, ObjectInfo } from '../store/types.js';
import { BadInputError, CorruptObjectError } from '../errors.js';
import { isSha256Hex, sha256File } from '../hash.js';
import { uniqueSuffix } from '../temp-files.js';
import { loopBeat } from '../heartbeat.js';
import { claimAttemptDir } from './leftovers.js';
import { assertSafeKey, folderPrefix, localPathForKey } from '../store/common.js';
import type { SynthmixConfig } from '../../temporal.config.js';
import type { ArtifactEvent, EngineHeartbeat, ProgressEvent } from './events.js';
import { runEngineProcess } from './process.js';
import type { GpuSlots } from './gpu-slots.js';
import type { EngineMetrics, EngineOutcome } from '../metrics.js';
import { log } from '../log.js';

/** An engine input: an object of the store, every object under a store prefix, or a local path. */
export type EngineInput = { key: string } | { prefix: string } | { localPath: string };

export interface EngineRequest {
  command: string;
  params: Record<string, unknown>;
  inputs?: Record<string, EngineInput>;
  /**
   * Where this step keeps its checkpoint in the store. Derive it from the step's input hash: then
   * a retried attempt, on any worker, finds the checkpoint even if its heartbeat was lost.
   */
  checkpointKey?: string;
  onProgress?: (event: ProgressEvent) => void;
  /** Each artifact event (e.g. one generated image) is handed over as soon as the engine writes it. */
  onArtifact?: (event: ArtifactEvent, localPath: string) => Promise<void>;
}

export interface EngineResult {
  /** Output name → absolute local path (file or directory) under the attempt's work dir. */
  outputs: Record<string, string>;
  summary: Record<string, unknown>;
  workDir: string;
  /** The checkpoint this attempt resumed from, if any (observable in tests and logs). */
  resumedFrom?: string;
  /** Delete the attempt's work dir once outputs are uploaded. */
  cleanup(): Promise<void>;
}

/** How the runner talks to its activity: heartbeats out, cancellation and last heartbeat in. */
export interface ActivityHooks {
  heartbeat(details: EngineHeartbeat): void;
  lastHeartbeat(): EngineHeartbeat | undefined;
  cancellation: AbortSignal;
  /** Identifies the attempt's work dir (e.g. activity id + attempt). */
  attemptId: string;
  /** The activity's heartbeat timeout, if it has one: the runner beats well within it. */
  heartbeatTimeoutMs?: number;
  /** The gpu worker's devices, when it pins engines to GPUs (one engine per device). */
  gpuSlots?: GpuSlots;
  /** Where engine steps are counted and timed (the activity's SDK meter: lib/metrics.ts). */
  metrics?: EngineMetrics;
  /** Whether the cancellation came from this worker shutting down (a spot notice): a preemption, not a cancelled sweep. */
  workerShutdown?: () => boolean;
}

/** An engine's own images-per-second figure in a progress event (generate-images, train-classifier). */
function imagesPerSecondOf(event: ProgressEvent): number | undefined {
  const value = event.imagesPerSecond ?? event.imagesPerSec;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** How often a live attempt heartbeats: every 5 s, or a third of a shorter heartbeat timeout. */
export function pulseIntervalMs(heartbeatTimeoutMs: number | undefined): number {
  return heartbeatTimeoutMs && heartbeatTimeoutMs > 0 ? Math.max(100, Math.min(5_000, Math.floor(heartbeatTimeoutMs / 3))) : 5_000;
}

export class EngineRunner {
  constructor(
    private readonly store: ArtifactStore,
    private readonly config: SynthmixConfig['engine'],
  ) {}

  /**
   * Fetch a store object into the shared cache (named by sha256) and return the cached path.
   * A download goes to a private temp name, is verified (against the store's record while it
   * streams, then against `expectedSha256`, e.g. from a manifest) and only then renamed to its sha
   * name: a kill at any point leaves a stray `.part` file, never wrong bytes under a trusted name.
   * A file already there (written by another worker, or by older code that renamed first) is
   * re-hashed once per worker process before it is trusted; a wrong one is replaced.
   */
  async fetchToCache(key: string, expectedSha256?: string): Promise<string> {
    assertSafeKey(key);
    const sha256 = expectedSha256 ?? (await this.store.stat(key))?.sha256;
    if (!sha256) throw ApplicationFailure.nonRetryable(`engine input not found in the store: ${key}`, 'NotFound');
    // The sha256 names the cache file: only hex, never a path.
    if (!isSha256Hex(sha256)) throw new BadInputError(`engine input ${key}: sha256 ${JSON.stringify(sha256)} is not a lowercase hex sha256`);
    const cached = path.join(this.config.cacheDir, 'sha256', sha256.slice(0, 2), sha256);
    if (await isTrustedCacheFile(cached, sha256)) return cached;
    await mkdir(path.dirname(cached), { recursive: true });
    const tmp = `${cached}.${uniqueSuffix()}.part`;
    try {
      const info = await this.store.getToFile(key, tmp);
      if (info.sha256 !== sha256) throw new CorruptObjectError(key, sha256, info.sha256);
      await rename(tmp, cached);
    } finally {
      await rm(tmp, { force: true });
    }
    verifiedCacheFiles.add(cached);
    return cached;
  }

  private async materialize(name: string, input: EngineInput, inputsDir: string): Promise<string> {
    if ('localPath' in input) return input.localPath;
    if ('key' in input) return this.fetchToCache(input.key);
    const prefix = folderPrefix(input.prefix);
    const objects = await this.store.list(prefix);
    if (objects.length === 0) {
      throw ApplicationFailure.nonRetryable(`engine input '${name}': nothing in the store under ${prefix}`, 'NotFound');
    }
    const dir = path.join(inputsDir, name);
    for (const [index, object] of objects.entries()) {
      loopBeat(`fetch-${name}`, index, objects.length);
      const cached = await this.fetchToCache(object.key, object.sha256);
      const target = localPathForKey(dir, object.key.slice(prefix.length), object.key);
      await mkdir(path.dirname(target), { recursive: true });
      await symlink(cached, target);
    }
    return dir;
  }

  /** Run one engine command as (part of) an activity attempt. */
  async run(request: EngineRequest, hooks: ActivityHooks): Promise<EngineResult> {
    const workDir = path.join(this.config.workDir, `${safeSegment(hooks.attemptId)}-${randomUUID().slice(0, 8)}`);
    await mkdir(workDir, { recursive: true });
    // Whose folder this is: a worker starting after this one was killed -9 removes it (leftovers.ts).
    await claimAttemptDir(workDir);
    const cleanup = () => rm(workDir, { recursive: true, force: true });
    let heartbeat: EngineHeartbeat = { ...(hooks.lastHeartbeat() ?? {}) };
    // A live attempt is beating from its start, through fetching inputs and the engine's start-up,
    // and between progress events (a long epoch on a busy machine): beat at once and on a timer,
    // well within the heartbeat timeout. If this worker dies, the beats stop and Temporal retries.
    hooks.heartbeat(heartbeat);
    const pulse = setInterval(() => hooks.heartbeat(heartbeat), pulseIntervalMs(hooks.heartbeatTimeoutMs));
    try {
      const inputs: Record<string, string> = {};
      for (const [name, input] of Object.entries(request.inputs ?? {})) {
        inputs[name] = await this.materialize(name, input, path.join(workDir, 'inputs'));
      }
      const resumedFrom = await this.findCheckpoint(request, hooks);
      let resumeFrom: string | null = null;
      if (resumedFrom) {
        resumeFrom = path.join(workDir, 'resume.ckpt');
        await this.store.getToFile(resumedFrom, resumeFrom);
      }
      if (resumedFrom) heartbeat = { ...heartbeat, checkpointKey: resumedFrom };
      const began = performance.now();
      hooks.metrics?.started(request.command);
      log.record('INFO', `engine ${request.command} started`, { command: request.command, ...(resumedFrom ? { resumedFrom } : {}) });
      let ended: EngineOutcome = 'crashed';
      const outcome = await runEngineProcess({
        python: this.config.python,
        command: request.command,
        spec: { workDir, resumeFrom, params: request.params, inputs },
        threads: this.config.threads,
        warm: this.config.warm,
        signal: hooks.cancellation,
        killAfterMs: this.config.killGraceSeconds * 1000,
        ...(hooks.gpuSlots ? { gpuSlots: hooks.gpuSlots } : {}),
        onEvent: async (event) => {
          if (event.event === 'progress') {
            const rate = imagesPerSecondOf(event);
            if (rate !== undefined) hooks.metrics?.imagesPerSecond(request.command, rate);
            heartbeat = { ...heartbeat, progress: event };
            hooks.heartbeat(heartbeat);
            request.onProgress?.(event);
          } else if (event.event === 'checkpoint' && request.checkpointKey) {
            await this.store.putFile(request.checkpointKey, resolveIn(workDir, event.path));
            heartbeat = { ...heartbeat, checkpointKey: request.checkpointKey, checkpointStep: event.step };
            hooks.heartbeat(heartbeat);
          } else if (event.event === 'artifact') {
            await request.onArtifact?.(event, resolveIn(workDir, event.path));
            hooks.heartbeat(heartbeat);
          }
        },
      })
        .then((o) => {
          ended = o.kind === 'preempted' && o.aborted && hooks.cancellation.aborted && !hooks.workerShutdown?.() ? 'cancelled' : o.kind;
          return o;
        })
        .finally(() => {
          // A step that threw before its outcome (spawn failure, a failing upload) counts as crashed.
          const seconds = (performance.now() - began) / 1000;
          hooks.metrics?.ended(request.command, ended, seconds);
          log.record(ended === 'ok' || ended === 'cancelled' ? 'INFO' : 'WARN', `engine ${request.command} ${ended} in ${seconds.toFixed(1)} s`, { command: request.command, outcome: ended, seconds });
        });
      switch (outcome.kind) {
        case 'ok': {
          const outputs: Record<string, string> = {};
          for (const [name, rel] of Object.entries(outcome.result.outputs)) outputs[name] = resolveIn(workDir, rel);
          return { outputs, summary: outcome.result.summary, workDir, resumedFrom, cleanup };
        }
        case 'permanent':
          throw ApplicationFailure.create({
            message: `engine ${request.command}: ${outcome.message}`,
            type: 'EnginePermanentError',
            nonRetryable: true,
            details: [{ stderrTail: outcome.stderrTail.slice(-1000) }],
          });
        case 'transient':
          throw ApplicationFailure.retryable(`engine ${request.command}: ${outcome.message}`, 'EngineTransientError', {
            stderrTail: outcome.stderrTail.slice(-1000),
          });
        case 'preempted':
          if (outcome.aborted && hooks.cancellation.aborted) throw new CancelledFailure(`engine ${request.command} cancelled`);
          throw ApplicationFailure.retryable(`engine ${request.command} was preempted (SIGTERM); it checkpointed`, 'EnginePreempted');
        case 'crashed':
          throw ApplicationFailure.retryable(`${outcome.message}\n${outcome.stderrTail.slice(-1000)}`, 'EngineCrashed');
      }
    } catch (error) {
      await cleanup();
      throw error;
    } finally {
      clearInterval(pulse);
    }
  }

  private async findCheckpoint(request: EngineRequest, hooks: ActivityHooks): Promise<string | undefined> {
    const fromHeartbeat = hooks.lastHeartbeat()?.checkpointKey;
    if (fromHeartbeat && (await this.store.exists(fromHeartbeat))) return fromHeartbeat;
    if (request.checkpointKey && (await this.store.exists(request.checkpointKey))) return request.checkpointKey;
    return undefined;
  }
}

/** Cache files this process has hashed (or written after verifying): trusted from then on. */
const verifiedCacheFiles = new Set<string>();

/** True if `cached` exists with exactly `sha256`'s bytes; a file with other bytes is removed. */
async function isTrustedCacheFile(cached: string, sha256: string): Promise<boolean> {
  if (verifiedCacheFiles.has(cached)) {
    if (await stat(cached).catch(() => undefined)) return true;
    verifiedCacheFiles.delete(cached);
    return false;
  }
  const actual = await sha256File(cached).catch(() => undefined);
  if (actual === undefined) return false;
  if (actual !== sha256) {
    await rm(cached, { force: true });
    return false;
  }
  verifiedCacheFiles.add(cached);
  return true;
}

/** A path the engine reported (relative to its work dir, or absolute): it must lie inside the work dir. */
function resolveIn(workDir: string, p: string): string {
  const base = path.resolve(workDir);
  const target = path.resolve(base, p);
  if (!target.startsWith(base + path.sep)) throw new BadInputError(`the engine reported the path ${JSON.stringify(p)}, outside its work dir ${base}`);
  return target;
}

function safeSegment(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80) || 'attempt';
}

export interface UploadOptions {
  /** Leave out entries whose name starts with `.` (a user's folder: `.DS_Store`, `.git`). */
  readonly skipHidden?: boolean;
  /** Called after each object is written (progress). */
  readonly onWritten?: (object: ObjectInfo) => void;
}

/**
 * Upload a local file or directory (recursively, in name order) under `key`; returns what was
 * written. Engine outputs and `synthmix import` both go through it.
 */
export async function uploadOutput(store: ArtifactStore, localPath: string, key: string, options: UploadOptions = {}): Promise<ObjectInfo[]> {
  const info = await stat(localPath);
  if (!info.isDirectory()) {
    const object = await store.putFile(key, localPath);
    options.onWritten?.(object);
    return [object];
  }
  const written: ObjectInfo[] = [];
  const entries = (await readdir(localPath, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (options.skipHidden && entry.name.startsWith('.')) continue;
    written.push(...(await uploadOutput(store, path.join(localPath, entry.name), `${key}/${entry.name}`, options)));
  }
  return written;
}
