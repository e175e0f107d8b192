/**
 * vitest globalSetup: a cheap check that `infra/setup.ts` has run (the server binaries and the engine
 * python exist). Test files start their own servers with `test/support/servers.ts`.
 */
import { existsSync } from 'node:fs';
import { toolPaths } from '../infra/tools.js';

export default function setup(): void {
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
}
