/**
 * What `kill -9` of a worker leaves behind on its machine, removed when a worker starts: partial
 * downloads (`*.part`) in the engine input cache and attempt folders in the engine work dir. The
 * cache and work dir are shared by every worker of the machine, so only what no live process can
 * still be writing goes: a `.part` file untouched for `staleMs`, an attempt folder whose owner
 * (recorded by the runner in `.owner`) is a dead process of this host, or, without an owner record,
 * untouched for `staleMs`.
 */
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A download or an attempt untouched this long is nobody's (a live download writes every second). */
export const DEFAULT_STALE_MS = 60 * 60 * 1000;

const OWNER_FILE = '.owner';

interface Owner {
  pid: number;
  host: string;
}

/** Record this process as the owner of an attempt folder (the runner calls it when it makes one). */
export async function claimAttemptDir(dir: string): Promise<void> {
  const owner: Owner = { pid: process.pid, host: os.hostname() };
  await writeFile(path.join(dir, OWNER_FILE), JSON.stringify(owner));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(dir: string): Promise<Owner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, OWNER_FILE), 'utf8')) as Partial<Owner>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' ? { pid: parsed.pid, host: parsed.host } : undefined;
  } catch {
    return undefined;
  }
}

async function isStale(file: string, now: number, staleMs: number): Promise<boolean> {
  const info = await stat(file).catch(() => undefined);
  return info !== undefined && now - info.mtimeMs > staleMs;
}

/** `*.part` files under `dir`, at any depth. */
async function partFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith('.part')).map((e) => path.join(e.parentPath, e.name));
}

export interface Leftovers {
  partFiles: string[];
  attemptDirs: string[];
}

/** Remove the leftovers (see the module comment); returns what was removed. */
export async function cleanLeftovers(engine: { cacheDir: string; workDir: string }, staleMs = DEFAULT_STALE_MS): Promise<Leftovers> {
  const now = Date.now();
  const removed: Leftovers = { partFiles: [], attemptDirs: [] };
  for (const file of await partFiles(engine.cacheDir)) {
    if (await isStale(file, now, staleMs)) {
      await rm(file, { force: true });
      removed.partFiles.push(file);
    }
  }
  const attempts = await readdir(engine.workDir, { withFileTypes: true }).catch(() => []);
  for (const entry of attempts) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(engine.workDir, entry.name);
    const owner = await readOwner(dir);
    const dead = owner ? owner.host === os.hostname() && !isAlive(owner.pid) : await isStale(dir, now, staleMs);
    if (dead) {
      await rm(dir, { recursive: true, force: true });
      removed.attemptDirs.push(dir);
    }
  }
  return removed;
}
