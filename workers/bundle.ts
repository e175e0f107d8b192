import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log } from '../lib/log.js';
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

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: (message: string) => log.warn(message), error: (message: string) => log.error(message), log: noop };
