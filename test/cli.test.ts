/**
 * The README's multi-process flow, run as a user runs it: every step is the `synthmix` CLI as a
 * child process (`node --import tsx cli/synthmix.ts ...`, configured only through the environment),
 * never a helper of the tests:
 *
 *   synthmix server                     (stays up; SIGTERM stops it with exit 0)
 *   synthmix worker --queue cpu         synthmix worker --queue gpu
 *   synthmix sweep --config F --preset tiny --id ID   (F: the README's "Your dataset" config, a local image folder)
 *   synthmix status ID | watch ID | report ID --out DIR | cancel ID
 *
 * and checks their exit codes and what they print.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../lib/config/load.js';
import { connectClient } from '../lib/temporal/connection.js';
import { readSnapshot } from '../cli/progress-read.js';
import type { GenerateCounts } from '../cli/sweep-progress.js';
import { DEMO_PRESET_CLASSES, writeDemoWorld } from '../lib/data/demo-world.js';
import { freePorts } from '../infra/managed-process.js';
import { envWithoutSynthmix } from './support/clean-env.js';

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

let tmp: string;
let env: NodeJS.ProcessEnv;
let server: Running;
const workers: Running[] = [];

/** Start `synthmix ARGS` in a process group of its own (so the test can stop it and its children). */
function start(args: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'cli', 'synthmix.ts'), ...args], {
    cwd: projectRoot,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return { child, output: () => chunks.join(''), exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** Run `synthmix ARGS` to its end: exit code and everything it printed. */
async function synthmix(...args: string[]): Promise<{ code: number | null; output: string }> {
  const run = start(args);
  const code = await run.exited;
  return { code, output: run.output() };
}

async function until(what: string, running: Running, text: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!running.output().includes(text)) {
    if (running.child.exitCode !== null) throw new Error(`${what} exited (${running.child.exitCode}) before printing "${text}":\n${running.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} to print "${text}":\n${running.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopGroup(running: Running | undefined, signal: NodeJS.Signals): void {
  if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
  try {
    process.kill(-(running.child.pid as number), signal);
  } catch {
    // already gone
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-cli-'));
  const [port] = await freePorts(1);
  // Everything through the environment, as the README shows (no SYNTHMIX_CONFIG file).
  env = envWithoutSynthmix();
  Object.assign(env, {
    SYNTHMIX_STATE_DIR: path.join(tmp, 'state'),
    SYNTHMIX_STORE_DIR: path.join(tmp, 'store'),
    SYNTHMIX_TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    SYNTHMIX_QUEUE_CPU: 'cli-cpu',
    SYNTHMIX_QUEUE_GPU: 'cli-gpu',
    SYNTHMIX_ENGINE_CACHE: path.join(tmp, 'cache'),
    SYNTHMIX_ENGINE_WORKDIR: path.join(tmp, 'work'),
    SYNTHMIX_ENGINE_THREADS: '1',
    SYNTHMIX_GPU_CONCURRENCY: '2',
  });
  server = start(['server']);
  await until('synthmix server', server, 'Temporal dev server on');
  for (const queue of ['cpu', 'gpu']) {
    const worker = start(['worker', '--queue', queue]);
    workers.push(worker);
    await until(`synthmix worker --queue ${queue}`, worker, `synthmix ${queue} worker on`);
  }
}, 180_000);

afterAll(async () => {
  for (const worker of workers) stopGroup(worker, 'SIGKILL');
  stopGroup(server, 'SIGTERM');
  await Promise.race([server?.exited, new Promise((r) => setTimeout(r, 30_000))]);
  stopGroup(server, 'SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the README flow, as child processes', () => {
  it('server stays up; sweep (a local image folder) → status → watch → report; a bad config exits 2', async () => {
    // The server is still serving after it printed its address (it used to exit at once, code 13).
    await new Promise((r) => setTimeout(r, 2000));
    expect(server.child.exitCode).toBeNull();

    // A user's image folder (`<root>/<class>/*.png`): here the tiny demo world written to disk.
    const world = await writeDemoWorld(path.join(tmp, 'images'), { preset: 'tiny', seed: 0 });
    // Its own class names, none of the prior domain's: the stand-in base classifier keeps the prior
    // domain's classes and the cells replace its head, as with ImageNet weights.
    for (const root of [world.roots.train, world.roots.test]) {
      world.classes.forEach((name, i) => renameSync(path.join(root, name), path.join(root, `digit-${i}`)));
    }
    const configFile = path.join(tmp, 'my-sweep.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        // The README's "Your dataset" config, over the tiny preset's demo source.
        dataset: { source: { kind: 'local', path: world.roots.train }, testSource: { kind: 'local', path: world.roots.test } },
        // Kept small: one source, two p, one init mode. The base models' pretrain is tiny's own, so
        // its shipped generator and classifier are uploaded (engine/pretrained/), not trained here.
        name: 'cli',
        sources: ['vanilla'],
        mix: { p: [0, 1], onlyOriginal: false },
        train: { modes: ['scratch'], epochs: { scratch: 2, finetune: 1, frozen: 1 } },
      }),
    );

    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ dataset: { perClass: 'many' } }));
    const refused = await synthmix('sweep', '--config', bad, '--preset', 'tiny');
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('dataset.perClass');
    const badId = await synthmix('sweep', '--config', configFile, '--preset', 'tiny', '--id', '../x');
    expect(badId.code).toBe(2);
    expect(badId.output).toContain('--id must be a safe name');

    const started = await synthmix('sweep', '--config', configFile, '--preset', 'tiny', '--id', 'cli-1');
    expect(started.code, started.output).toBe(0);
    expect(started.output.trim().split('\n')[0]).toBe('cli-1');

    const status = await synthmix('status', 'cli-1', '--json');
    expect(status.code, status.output).toBe(0);
    expect((JSON.parse(status.output) as { id: string; status: string }).status).toMatch(/^(RUNNING|COMPLETED)$/);

    // What `status` reads, frame after frame while `watch` follows the sweep: the generate stage's
    // images (4 classes × 24) counted as classes finish, never going back.
    const seen: GenerateCounts[] = [];
    let watching = true;
    const client = await connectClient(loadConfig({ env }));
    const polling = (async () => {
      while (watching) {
        const frame = await readSnapshot(client, 'cli-1').catch(() => undefined);
        if (frame?.progress?.stage === 'generate' && frame.generate) seen.push(frame.generate);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    const watched = await synthmix('watch', 'cli-1');
    watching = false;
    await polling;
    await client.connection.close();
    expect(watched.code, `${watched.output}\n--- workers:\n${workers.map((w) => w.output().slice(-3000)).join('\n')}`).toBe(0);
    expect(watched.output.trim().split('\n').at(-1)).toBe('cli-1 completed');
    // Not a terminal: one line per change, no carriage-return redraws, no line twice in a row.
    const lines = watched.output.trim().split('\n');
    expect(watched.output).not.toContain('\r');
    expect(lines.filter((line, i) => i > 0 && line === lines[i - 1])).toEqual([]);
    const images = seen.map((g) => g.images.done);
    expect(seen.every((g) => g.images.total === 4 * 24 && g.classes.total === 4)).toBe(true);
    expect(images, 'images done, frame by frame').toEqual([...images].sort((a, b) => a - b));
    expect(images.some((n) => n > 0 && n < 4 * 24), `images done, frame by frame: ${images.join(' ')}`).toBe(true);

    const done = await synthmix('status', 'cli-1');
    expect(done.output).toContain('cli-1: COMPLETED');

    const out = path.join(tmp, 'report');
    const report = await synthmix('report', 'cli-1', '--out', out);
    expect(report.code, report.output).toBe(0);
    expect(existsSync(path.join(out, 'index.html'))).toBe(true);
    // Two cells (vanilla at p = 0 and p = 1, scratch), on the folder's classes.
    const csv = readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(1 + 2);
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    for (const cls of DEMO_PRESET_CLASSES.tiny.map((_, i) => `digit-${i}`)) expect(html).toContain(cls);
    // Both base models came from engine/pretrained/ (the report's "Models used" says so), none was pretrained here.
    for (const role of ['generator', 'classifier base']) expect(html).toContain(`The ${role} was not trained for this sweep`);
  }, 900_000);

  it('cancel stops a running sweep: status says CANCELLED and watch exits 1', async () => {
    // Another seed: nothing is memoized, so the sweep is still running when the cancel arrives.
    const configFile = path.join(tmp, 'other-seed.json');
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(path.join(tmp, 'my-sweep.json'), 'utf8')), seeds: [5] }));
    const started = await synthmix('sweep', '--config', configFile, '--preset', 'tiny', '--id', 'cli-2');
    expect(started.code, started.output).toBe(0);
    const cancelled = await synthmix('cancel', 'cli-2');
    expect(cancelled.code, cancelled.output).toBe(0);
    expect(cancelled.output).toContain('cancellation requested for cli-2');
    const watched = await synthmix('watch', 'cli-2');
    expect(watched.code).toBe(1);
    const status = await synthmix('status', 'cli-2');
    expect(status.output).toContain('cli-2: CANCELLED');
    expect(status.code).toBe(1);
  }, 300_000);

  it('server: SIGTERM stops it with exit 0', async () => {
    for (const worker of workers) stopGroup(worker, 'SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    process.kill(server.child.pid as number, 'SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('the state survives');
  }, 120_000);
});
