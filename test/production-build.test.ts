/**
 * The production build (`npm run build`): compiled JavaScript in dist/, the workflow bundle made
 * once at build time, and `bin/synthmix` run by plain node (no tsx loader anywhere). A cpu worker
 * started from the build against a real dev server runs one trivial workflow and its activity.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../lib/config/load.js';
import { startTestWorld, type TestWorld } from './support/world.js';

const bin = path.join(projectRoot, 'bin', 'synthmix');
const bundleFile = path.join(projectRoot, 'dist', 'workflow-bundle.js');

/** The environment of a production process: none of this test's SYNTHMIX_* and no loader options (tsx). */
function productionEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SYNTHMIX_') && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return { ...env, ...extra };
}

let world: TestWorld | undefined;
let worker: ChildProcess | undefined;

beforeAll(() => {
  // tsc (incremental after the first build) then webpack once; minutes on 2 busy cores the first time.
  const build = spawnSync('npm', ['run', 'build'], { cwd: projectRoot, encoding: 'utf8', timeout: 540_000 });
  if (build.status !== 0) throw new Error(`npm run build failed (${build.status ?? build.signal}):\n${build.stdout}\n${build.stderr}`);
}, 600_000);

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  await world?.stop();
});

describe('production build', () => {
  it('writes the compiled CLI and the workflow bundle', () => {
    expect(existsSync(path.join(projectRoot, 'dist', 'cli', 'synthmix.js'))).toBe(true);
    expect(readFileSync(bundleFile, 'utf8')).toContain('roundTrip');
  });

  it('bin/synthmix runs through its node shebang', () => {
    expect(readFileSync(bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const help = execFileSync(bin, ['--help'], { cwd: projectRoot, env: productionEnv({}), encoding: 'utf8' });
    expect(help).toContain('worker [options]');
    expect(help).toContain('sweep [options]');
  });

  it('a compiled cpu worker loads the prebuilt bundle and runs a workflow with its activity', async () => {
    world = await startTestWorld({ name: 'prodbuild' });
    const output: string[] = [];
    const child = spawn(process.execPath, [bin, 'worker', '--queue', 'cpu'], {
      cwd: projectRoot,
      env: productionEnv({ SYNTHMIX_CONFIG: world.configFile }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker = child;
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!output.join('').includes('synthmix cpu worker on')) {
      if (child.exitCode !== null) throw new Error(`worker exited early:\n${output.join('')}`);
      if (Date.now() > deadline) throw new Error(`worker did not start:\n${output.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(output.join('')).toContain(`workflow bundle ${bundleFile} (prebuilt)`);

    const message = `production build ${Date.now()}`;
    const sha256 = await world.client.workflow.execute('roundTrip', {
      taskQueue: world.config.queues.cpu,
      workflowId: `prodbuild-roundtrip-${Date.now()}`,
      args: [world.config.queues, message],
    });
    expect(sha256).toBe(createHash('sha256').update(message, 'utf8').digest('hex'));

    // SIGTERM reaches the worker itself (plain node, no wrapper) and it drains and exits cleanly.
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
