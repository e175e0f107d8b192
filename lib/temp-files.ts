/**
 * Temp names and atomic writes shared by every writer on a worker's disk. A temp name is unique per
 * writer (pid + random), never per process alone: two activities of one worker can write the same
 * target at once, and a pid-only name makes the second rename fail with ENOENT.
 */
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';

/** A suffix no other writer — another process, or another activity of this one — is using. */
export function uniqueSuffix(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Write `data` to a private temp file beside `file`, then rename it over `file` (readers see all or nothing). */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${uniqueSuffix()}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}
