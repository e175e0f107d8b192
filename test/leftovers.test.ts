/**
 * Issue 14 point 10: what `kill -9` leaves on a worker's machine (partial downloads in the engine
 * input cache, attempt folders in the engine work dir) is removed when a worker starts, and nothing a
 * live process may still be writing is touched. Real files, a real dead process.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimAttemptDir, cleanLeftovers } from '../lib/engine/leftovers.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-leftovers-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('leftovers of killed workers', () => {
  it('removes stale .part files and dead attempts, keeps live ones', async () => {
    const engine = { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work') };
    const shaDir = path.join(engine.cacheDir, 'sha256', 'ab');
    await mkdir(shaDir, { recursive: true });
    const stalePart = path.join(shaDir, 'ab12.123-x.part');
    const livePart = path.join(shaDir, 'ab34.456-y.part');
    const cached = path.join(shaDir, 'ab'.padEnd(64, '0'));
    for (const file of [stalePart, livePart, cached]) await writeFile(file, 'bytes');
    const hoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stalePart, hoursAgo, hoursAgo);
    await utimes(cached, hoursAgo, hoursAgo);

    const deadAttempt = path.join(engine.workDir, 'train-1-dead');
    const liveAttempt = path.join(engine.workDir, 'train-2-live');
    const unownedOld = path.join(engine.workDir, 'old-unowned');
    for (const dir of [deadAttempt, liveAttempt, unownedOld]) await mkdir(path.join(dir, 'inputs'), { recursive: true });
    await writeFile(path.join(deadAttempt, '.owner'), JSON.stringify({ pid: await deadPid(), host: os.hostname() }));
    await claimAttemptDir(liveAttempt);
    await utimes(unownedOld, hoursAgo, hoursAgo);
    // An attempt of a live process, however old, stays.
    await utimes(liveAttempt, hoursAgo, hoursAgo);

    const removed = await cleanLeftovers(engine);
    expect(removed.partFiles).toEqual([stalePart]);
    expect(removed.attemptDirs.sort()).toEqual([deadAttempt, unownedOld].sort());
    expect(existsSync(livePart)).toBe(true);
    expect(existsSync(cached)).toBe(true);
    expect(existsSync(liveAttempt)).toBe(true);
  });
});
