/**
 * The base models synthmix ships in `engine/pretrained/<step prefix>/` (engine/pretrained/README.md):
 * the outputs of a memoized step run once on the project's machine with exactly the inputs a preset
 * gives it, so a sweep of that preset uploads them instead of computing them again. One module for
 * every such step (the built-in generator's pretrain, the prior-domain classifier's): the lookup and
 * its verification against SHA256SUMS, the upload, and the writing of a folder
 * (infra/ship-pretrained.ts). A folder is found only under the step's own memo prefix, so any other
 * preset, seed or dataset computes as usual; any file missing or changed, and it computes too.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256Hex } from './hash.js';
import { log } from './log.js';
import { projectRoot } from './project-root.js';
import type { ArtifactStore } from './store/types.js';

/** Where the shipped folders are, relative to the checkout. */
export const SHIPPED_ROOT = 'engine/pretrained';

/** Where a step's result came from when it was shipped rather than computed: recorded in its result. */
export interface ShippedOrigin {
  /** The folder, relative to the checkout: `engine/pretrained/steps/<step>/<hash>`. */
  folder: string;
  /** sha256 of the folder's SHA256SUMS (sha256sum's format), which pins every shipped file's bytes. */
  sha256sums: string;
}

export interface ShippedFolder {
  /** The folder on this machine. */
  dir: string;
  /** Its files, relative to it (`/`-separated), as SHA256SUMS lists them. */
  files: string[];
  origin: ShippedOrigin;
}

/** The checkout's shipped folders (another root: a test's copy). */
const DEFAULT_ROOT = path.join(projectRoot, ...SHIPPED_ROOT.split('/'));

/** The shipped folder of a step's memo prefix (`steps/<step>/<hash>`), whether or not it exists. */
export function shippedDir(prefix: string, root = DEFAULT_ROOT): string {
  return path.join(root, ...prefix.split('/'));
}

/** The shipped folder of `prefix` if it exists and every file SHA256SUMS lists has those bytes; else undefined. */
export async function findShipped(prefix: string, root = DEFAULT_ROOT): Promise<ShippedFolder | undefined> {
  const dir = shippedDir(prefix, root);
  let sums: string;
  try {
    sums = await readFile(path.join(dir, 'SHA256SUMS'), 'utf8');
  } catch {
    return undefined;
  }
  const files: string[] = [];
  for (const line of sums.split('\n').filter(Boolean)) {
    const [sha, file] = line.split(/\s+\*?/, 2);
    const bytes = await readFile(path.join(dir, ...file.split('/'))).catch(() => undefined);
    if (!bytes || sha256Hex(bytes) !== sha) {
      // A damaged checkout computes the step as usual: slower, never wrong.
      log.warn(`shipped model ${dir}: ${file} is missing or does not match SHA256SUMS; computing instead`);
      return undefined;
    }
    files.push(file);
  }
  return { dir, files, origin: { folder: path.relative(projectRoot, dir).split(path.sep).join('/'), sha256sums: sha256Hex(sums) } };
}

/** Upload every shipped file to `<prefix>/<file>`, where the step itself would have written it. */
export async function uploadShipped(store: ArtifactStore, shipped: ShippedFolder, prefix: string): Promise<void> {
  for (const file of shipped.files) await store.putFile(`${prefix}/${file}`, path.join(shipped.dir, ...file.split('/')));
}

/**
 * Write the shipped folder of `prefix` from a store: `files` (relative to the prefix) and, as
 * `extra`, files made here (a step's summary); then SHA256SUMS over all of them. Replaces what was there.
 */
export async function writeShipped(store: ArtifactStore, prefix: string, files: readonly string[], extra: Readonly<Record<string, string>> = {}): Promise<ShippedFolder> {
  const dir = shippedDir(prefix);
  await rm(dir, { recursive: true, force: true });
  const lines: string[] = [];
  const place = async (file: string) => {
    const target = path.join(dir, ...file.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    return target;
  };
  for (const file of files) {
    const target = await place(file);
    await store.getToFile(`${prefix}/${file}`, target);
    lines.push(`${sha256Hex(await readFile(target))}  ${file}`);
  }
  for (const [file, text] of Object.entries(extra)) {
    await writeFile(await place(file), text);
    lines.push(`${sha256Hex(text)}  ${file}`);
  }
  // Byte order of the paths, as `LC_ALL=C sha256sum` lists them.
  lines.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : a.slice(66) > b.slice(66) ? 1 : 0));
  await writeFile(path.join(dir, 'SHA256SUMS'), `${lines.join('\n')}\n`);
  const found = await findShipped(prefix);
  if (!found) throw new Error(`${dir}: the folder just written does not verify against its SHA256SUMS`);
  return found;
}
