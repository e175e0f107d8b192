import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: the nearest directory above `fromUrl` holding `package.json`. Found by
 * walking up rather than by a fixed `..` count because the same module runs from source
 * (`lib/…`, under tsx) and compiled (`dist/lib/…`, under node) at different depths.
 */
export function findProjectRoot(fromUrl: string): string {
  let dir = path.dirname(fileURLToPath(fromUrl));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(fromUrl)}: cannot find the synthmix checkout`);
    dir = parent;
  }
}

export const projectRoot = findProjectRoot(import.meta.url);
