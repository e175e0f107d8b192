import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log } from '../lib/log.js';
import { projectRoot } from '../lib/project-root.js';
import { bundleWorkflowCode, type WorkflowBundleOption, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

const here = fileURLToPath(import.meta.url);

/**
 * The workflows' entry point next to this module: `workflows/index.ts` from source (tsx),
 * `dist/workflows/index.js` when compiled, so a build bundles the code it ships.
 */
export const workflowsPath = path.join(path.dirname(here), '..', 'workflows', `index${path.extname(here)}`);

/**
 * Where `npm run build` writes the bundle (`dist/workflow-bundle.js`). From source this path is
 * `<repo>/workflow-bundle.js`, which never exists: tsx runs always bundle the source they run.
 */
export const prebuiltBundlePath = path.join(path.dirname(here), '..', 'workflow-bundle.js');

/**
 * A bundle file named by `SYNTHMIX_WORKFLOW_BUNDLE` (a container that ships one elsewhere; the test
 * suite, which bundles once for every worker it starts): it must be built from the same workflow code.
 */
export const WORKFLOW_BUNDLE_ENV = 'SYNTHMIX_WORKFLOW_BUNDLE';

/** The prebuilt bundle this process would load: the environment's, else the build's (when present). */
function prebuiltBundle(): string | undefined {
  const named = process.env[WORKFLOW_BUNDLE_ENV];
  if (named) {
    if (!existsSync(named)) throw new Error(`${WORKFLOW_BUNDLE_ENV}=${named}: no such file (build one with \`npm run build\`, or unset it to bundle at start)`);
    return named;
  }
  return existsSync(prebuiltBundlePath) ? prebuiltBundlePath : undefined;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundle the workflow code once per process (webpack takes seconds on 2 cores). */
export function buildWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  return bundle;
}

/**
 * The bundle a worker runs: the one built at build time when present (no webpack in a production
 * worker's start), else one bundled now from the code this process runs.
 */
export async function workflowBundle(): Promise<WorkflowBundleOption> {
  const prebuilt = prebuiltBundle();
  return prebuilt ? { codePath: prebuilt } : buildWorkflowBundle();
}

/** What a cpu worker says at start about its workflow code (the prebuilt file or a bundle of `workflowsPath`). */
export function describeWorkflowBundle(): string {
  const prebuilt = prebuiltBundle();
  return prebuilt ? `workflow bundle ${prebuilt} (prebuilt)` : `workflow bundle of ${workflowsPath} (bundled at start)`;
}

/** The folders (next to `workflows/`) whose code a workflow bundle can hold: what workflows import, transitively. */
const BUNDLED_FOLDERS = ['workflows', 'lib', 'activities'];

/**
 * The identity of the workflow code this process would bundle, without bundling it: the prebuilt
 * bundle's bytes when there is one; from source, a sha256 over the files of `BUNDLED_FOLDERS` (path
 * and content, sorted) and `package-lock.json` (the bundled packages: the SDK, zod). Over-inclusive
 * on purpose — an edit to a lib module no workflow imports is a new build too, never the reverse —
 * and cheap, so a gpu worker (which runs no workflows) learns its build in milliseconds, not the
 * seconds of webpack.
 */
export function workflowCodeIdentity(): { kind: 'prebuilt' | 'source'; digest: string } {
  const prebuilt = prebuiltBundle();
  if (prebuilt) return { kind: 'prebuilt', digest: createHash('sha256').update(readFileSync(prebuilt)).digest('hex') };
  const base = path.dirname(path.dirname(workflowsPath));
  const ext = path.extname(here);
  const hash = createHash('sha256');
  const files = BUNDLED_FOLDERS.flatMap((folder) => filesUnder(path.join(base, folder), ext)).sort();
  for (const file of files) hash.update(`${path.relative(base, file)}\0`).update(readFileSync(file)).update('\0');
  const lock = path.join(projectRoot, 'package-lock.json');
  if (existsSync(lock)) hash.update(readFileSync(lock));
  return { kind: 'source', digest: hash.digest('hex') };
}

function filesUnder(dir: string, ext: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(ext))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: (message: string) => log.warn(message), error: (message: string) => log.error(message), log: noop };
