/**
 * `npm run test:engine`: runs the engine's pytest suite with the engine venv,
 * `.synthmix/venv/bin/python -m pytest tests -q` in `engine/` (PYTHONPATH=engine), streaming output.
 * Extra arguments are passed to pytest (if the first one is a path, e.g. `tests/test_fid_math.py`, it
 * replaces `tests`). Exits with pytest's status; "no tests collected" (5) is a failure.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setupPaths, toolPaths } from './tools.js';

function fail(message: string): never {
  process.stderr.write(`run-pytest: ${message}\n`);
  process.exit(1);
}

const python = toolPaths.enginePython;
const engineDir = setupPaths.engineDir;
if (!existsSync(python)) fail(`engine python not found at ${python}: run \`npx tsx infra/setup.ts\``);
if (!existsSync(path.join(engineDir, 'tests'))) fail(`no engine test directory at ${path.join(engineDir, 'tests')}`);

const extra = process.argv.slice(2);
const targets = extra.length > 0 && !extra[0].startsWith('-') ? [] : ['tests'];
// The ten slowest tests close the output: where the suite's minutes go (CI time is budgeted).
const args = ['-m', 'pytest', ...targets, '-q', '--durations=10', ...extra];
process.stdout.write(`run-pytest: ${path.relative(toolPaths.root, python)} ${args.join(' ')}   (cwd engine/)\n`);
const existing = process.env.PYTHONPATH;
const child = spawn(python, args, {
  cwd: engineDir,
  stdio: 'inherit',
  env: { ...process.env, PYTHONPATH: existing ? `${engineDir}${path.delimiter}${existing}` : engineDir, PYTHONUNBUFFERED: '1' },
});

// Ctrl-C reaches pytest through the terminal's process group; forward SIGTERM (CI cancellation) ourselves.
const forward = (signal: NodeJS.Signals): void => {
  if (child.exitCode === null) child.kill(signal);
};
process.on('SIGTERM', forward);
process.on('SIGINT', () => undefined); // let pytest handle Ctrl-C and report; we exit with its status

child.on('error', (error) => fail(`could not run ${python}: ${error.message}`));
child.on('exit', (code, signal) => {
  if (signal) fail(`pytest was killed by ${signal}`);
  if (code === 5) fail('pytest collected no tests in engine/tests (exit 5): the engine suite must not be empty');
  if (code !== 0) process.stderr.write(`run-pytest: pytest failed (exit ${code})\n`);
  process.exit(code ?? 1);
});
