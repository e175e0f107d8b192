import { WORKFLOW_BUNDLE_ENV } from '../../workers/bundle.js';

/**
 * This process's environment without its `SYNTHMIX_*` settings, for a child process (a worker, the
 * CLI) that a test configures itself, as a user's shell would. The workflow bundle built once for
 * the run (`test/global-setup.ts`) stays: it is the same code, and bundling again costs seconds.
 */
export function envWithoutSynthmix(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && (!key.startsWith('SYNTHMIX_') || key === WORKFLOW_BUNDLE_ENV)) env[key] = value;
  }
  return env;
}
