/**
 * Which bytes this computation wrote: the memo (lib/memo.ts) runs a step's compute inside
 * `recordWrites`, and the store core notes every object written meanwhile (key → sha256). The
 * step's marker then pins exactly the bytes its own computation wrote, even if another writer of
 * the same key (a second sweep, a zombie attempt) replaced them before the marker was published.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const log = new AsyncLocalStorage<Map<string, string>>();

/** Run `fn`, collecting the sha256 of every object the stores write during it (and in what it awaits). */
export async function recordWrites<T>(fn: () => Promise<T>): Promise<{ value: T; writes: ReadonlyMap<string, string> }> {
  const writes = new Map<string, string>();
  const value = await log.run(writes, fn);
  return { value, writes };
}

/** Called by the store core after each successful write. */
export function noteWrite(key: string, sha256: string): void {
  log.getStore()?.set(key, sha256);
}
