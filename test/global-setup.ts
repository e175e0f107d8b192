/**
 * vitest globalSetup: a cheap check that `infra/setup.ts` has run (the server binaries and the engine
 * python exist), and the workflow code bundled once for the whole run: every worker a test starts
 * (in-process or as a child process) loads that file through `SYNTHMIX_WORKFLOW_BUNDLE` instead of
 * running webpack again (seconds of CPU each, on 2 cores). Test files start their own servers with
 * `test/support/servers.ts`.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toolPaths } from '../infra/tools.js';
import { buildWorkflowBundle, WORKFLOW_BUNDLE_ENV } from '../workers/bundle.js';

export default async function setup(): Promise<() => void> {
  const needed: Array<[string, string]> = [
    ['temporal CLI', toolPaths.temporal],
    ['SeaweedFS weed', toolPaths.weed],
  ];
  if (process.env.SYNTHMIX_SKIP_ENGINE !== '1') needed.push(['engine python', toolPaths.enginePython]);
  const missing = needed.filter(([, file]) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.map(([name, file]) => `${name} (${file})`).join(', ')}: run \`npx tsx infra/setup.ts\``,
    );
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synthmix-bundle-'));
  const file = path.join(dir, 'workflow-bundle.js');
  writeFileSync(file, (await buildWorkflowBundle()).code);
  process.env[WORKFLOW_BUNDLE_ENV] = file;
  return () => rmSync(dir, { recursive: true, force: true });
}
