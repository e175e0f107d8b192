/**
 * Heartbeats from loops that run outside the engine runner's pulse (hashing a dataset, fetching a
 * manifest's images, checking a memo's references): on a cold worker with a large dataset these take
 * longer than a heartbeat timeout (60 s gpu, 2 min cpu), and an activity that does not beat is
 * declared dead and retried forever. Call `loopBeat(phase, done, total)` once per item.
 *
 * Each beat keeps the details of the attempt's last heartbeat (the runner's `checkpointKey`), so a
 * beat from a loop never hides the checkpoint a retry resumes from. The SDK throttles what reaches
 * the server; beats are also throttled here (per activity), so a loop of a million files stays cheap.
 */
import type { Context } from '@temporalio/activity';
import { activityContext } from './deps.js';

const MIN_INTERVAL_MS = 1_000;
const lastBeat = new WeakMap<Context, number>();

/** Beat (throttled) from inside a loop, when running in an activity; a no-op elsewhere (tests, the CLI). */
export function loopBeat(phase: string, done: number, total?: number): void {
  const ctx = activityContext();
  if (!ctx) return;
  const now = Date.now();
  const last = lastBeat.get(ctx);
  if (last !== undefined && now - last < MIN_INTERVAL_MS && done !== total) return;
  lastBeat.set(ctx, now);
  const previous = ctx.info.heartbeatDetails as unknown;
  const kept = previous !== null && typeof previous === 'object' && !Array.isArray(previous) ? (previous as Record<string, unknown>) : {};
  ctx.heartbeat({ ...kept, loop: { phase, done, ...(total === undefined ? {} : { total }) } });
}
