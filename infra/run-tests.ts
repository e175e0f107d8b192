/**
 * `npm test`: everything CI checks, on a fresh clone. Setup (tools and venvs; idempotent), the
 * oracle venv's setup (GBs, needed by pytest only) and lint start side by side — lint needs only
 * node_modules, and setup spends its minutes in pip unpacking wheels, one core at most each — then
 * the vitest suite (once setup and lint are done), then the engine's pytest suite (once the oracle
 * venv is there too). Lint's and the oracle setup's output is held back and printed when each
 * ends, so nothing interleaves. The exit status is the first failure's (or 0).
 *
 *   npx tsx infra/run-tests.ts            what `npm test` runs
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot as root } from '../lib/project-root.js';
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);

interface Step {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
}

/** Run one step; `quiet`: keep its output and print it (after a header) when it ends. */
function run(step: Step, quiet = false): Promise<number> {
  const started = Date.now();
  process.stdout.write(`run-tests: ${step.name} — ${[path.basename(step.command), ...step.args].join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(step.command, step.args, { cwd: root, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    const held: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => held.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => held.push(chunk));
    const finish = (code: number) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      if (held.length > 0) process.stdout.write(`--- ${step.name} output:\n${Buffer.concat(held).toString('utf8')}`);
      process.stdout.write(`run-tests: ${step.name} ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${seconds} s\n`);
      resolve(code);
    };
    child.once('error', (error) => {
      held.push(Buffer.from(`${error.message}\n`));
      finish(127);
    });
    child.once('exit', (code, signal) => finish(code ?? (signal ? 128 : 1)));
  });
}

const tsx = bin('tsx');
const setup: Step = { name: 'setup', command: tsx, args: ['infra/setup.ts', '--deploy-tools'] };
const oracleSetup: Step = { name: 'setup (oracle venv)', command: tsx, args: ['infra/setup.ts', '--oracles', '--only', 'oracles'] };
const typecheck: Step = { name: 'lint (tsc)', command: bin('tsc'), args: ['--noEmit', '-p', '.'] };
const eslint: Step = { name: 'lint (eslint)', command: bin('eslint'), args: ['.'] };
const vitest: Step = { name: 'vitest', command: bin('vitest'), args: ['run'] };
const pytest: Step = { name: 'pytest', command: tsx, args: ['infra/run-pytest.ts'] };

async function main(): Promise<number> {
  const oracles = run(oracleSetup, true);
  const lint = (async () => (await run(typecheck, true)) || (await run(eslint, true)))();
  const [setupCode, lintCode] = await Promise.all([run(setup), lint]);
  const vitestCode = setupCode || lintCode || (await run(vitest));
  // Wait for the oracle setup whatever happened, so it never outlives this process half-done.
  const oracleCode = await oracles;
  return vitestCode || oracleCode || (await run(pytest));
}

process.exitCode = await main();
