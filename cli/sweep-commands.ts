import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ZodError } from 'zod';
import type { SynthmixConfig } from '../temporal.config.js';
import { PRESETS, resolveSweepConfig, type PresetName, type SweepConfig } from '../lib/sweep/config.js';
import { connectClient, workflowUiLink } from '../lib/temporal/connection.js';
import { createStore } from '../lib/store/index.js';
import { downloadReport } from '../activities/report.js';
import { writeCurves } from '../lib/report/curves.js';
import { sweep } from '../workflows/index.js';
import { renderProgress, snapshotJson } from './sweep-progress.js';
import { readSnapshot } from './progress-read.js';
import { ProgressTicker } from './ticker.js';
import { UsageError } from './usage.js';
import { assertSweepId } from '../lib/sweep/id.js';
import { formatPlan, planSweep } from '../lib/sweep/plan.js';
import { shippedBaseModelsForPlan } from './plan-shipped.js';
import { sweepQueues, unpolledQueues } from '../lib/temporal/pollers.js';
import { formatWorkflowBuild, workflowBuild } from '../lib/temporal/deployments.js';

/**
 * Read a sweep config file over a preset, and `extra` (a command line's own options) over both; a
 * bad field is a usage error naming it (exit 2).
 */
export function loadSweepConfig(preset: string, file?: string, extra: Record<string, unknown> = {}): SweepConfig {
  if (!(preset in PRESETS)) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got "${preset}"`);
  let overrides: Record<string, unknown> = {};
  if (file) {
    try {
      overrides = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`--config ${file}: cannot read JSON: ${(error as Error).message}`);
    }
  }
  try {
    return resolveSweepConfig(preset as PresetName, { ...overrides, ...extra });
  } catch (error) {
    if (error instanceof ZodError) {
      const issues = error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new UsageError(`invalid sweep config${file ? ` ${file}` : ''}:\n  - ${issues.join('\n  - ')}`);
    }
    throw error;
  }
}

/** `sweep`, `plan`, `status`, `watch`, `cancel`, `report`: a sweep on a running Temporal + workers. */
export function registerSweepCommands(program: Command, config: () => SynthmixConfig): void {
  program
    .command('sweep')
    .description('Start a sweep on the configured Temporal cluster; prints the workflow id and UI link.')
    .option('--config <file>', 'sweep config JSON (fields override the preset)')
    .addOption(new Option('--preset <name>', 'preset').choices(Object.keys(PRESETS)).default('demo'))
    .option('--id <id>', 'workflow id (default: synthmix-<name>-<time>)')
    .option('--no-worker-check', 'start even if no worker polls the queues yet (you start the workers later); otherwise such a sweep is refused, exit 2')
    .action(async (options: { config?: string; preset: string; id?: string; workerCheck: boolean }) => {
      const sweepConfig = loadSweepConfig(options.preset, options.config);
      const sweepId = options.id ?? `synthmix-${sweepConfig.name}-${Date.now()}`;
      try {
        assertSweepId(sweepId, '--id');
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const cfg = config();
      const client = await connectClient(cfg);
      // A misspelt queue would wait forever (Temporal makes a queue on first use): ask the server
      // who polls each queue the sweep uses, before starting anything.
      const unpolled = await unpolledQueues(client, sweepQueues(cfg.queues));
      if (unpolled.length > 0) {
        if (options.workerCheck) {
          await client.connection.close();
          throw new UsageError(`not started:\n  - ${unpolled.join('\n  - ')}\n(--no-worker-check starts it anyway, to wait for workers you start later)`);
        }
        console.error(`synthmix: warning, starting anyway (--no-worker-check):\n  - ${unpolled.join('\n  - ')}`);
      }
      await client.workflow.start(sweep, {
        taskQueue: cfg.queues.cpu,
        workflowId: sweepId,
        args: [{ sweepId, config: sweepConfig, queues: cfg.queues }],
      });
      console.log(sweepId);
      const link = workflowUiLink(cfg, sweepId);
      if (link) console.log(link);
      await client.connection.close();
    });

  program
    .command('plan')
    .description('Check a sweep config and the models and data it names in the store; print its stages. Starts nothing.')
    .option('--config <file>', 'sweep config JSON (fields override the preset)')
    .addOption(new Option('--preset <name>', 'preset').choices(Object.keys(PRESETS)).default('demo'))
    .action(async (options: { config?: string; preset: string }) => {
      const cfg = config();
      const sweepConfig = loadSweepConfig(options.preset, options.config);
      const plan = await planSweep(sweepConfig, createStore(cfg.storage), await shippedBaseModelsForPlan(cfg, sweepConfig));
      console.log(formatPlan(plan).join('\n'));
      if (plan.problems.length > 0) throw new UsageError(`the sweep cannot run:\n  - ${plan.problems.join('\n  - ')}`);
    });

  program
    .command('status <id>')
    .description("Progress of a sweep: each finished stage, then the current one's own progress (steps, images, cells).")
    .option('--json', 'print one JSON object (status, stage, stages, cells, activities in flight, generate counts)')
    .action(async (id: string, options: { json?: boolean }) => {
      const client = await connectClient(config());
      const [snapshot, build] = await Promise.all([readSnapshot(client, id), workflowBuild(client, id)]).finally(() => client.connection.close());
      if (options.json) console.log(JSON.stringify({ ...snapshotJson(snapshot), build }, null, 2));
      else console.log([`${id}: ${snapshot.status}`, formatWorkflowBuild(build), ...renderProgress(snapshot, Date.now())].join('\n'));
      // For scripts: a sweep that ended without completing is a failed run (exit 1), as in `watch`.
      if (!['RUNNING', 'COMPLETED', 'CONTINUED_AS_NEW'].includes(snapshot.status)) throw new Error(`${id} did not complete (${snapshot.status})`);
    });

  program
    .command('watch <id>')
    .description('Follow a sweep live until it ends (in a log: a line when the progress changed).')
    .action(async (id: string) => {
      const client = await connectClient(config());
      const handle = client.workflow.getHandle(id);
      const result = handle.result().then(
        () => 'completed',
        (error: Error) => `failed: ${error.message}`,
      );
      let done: string | undefined;
      void result.then((r) => (done = r));
      const ticker = new ProgressTicker({ tty: Boolean(process.stdout.isTTY), write: (text) => process.stdout.write(text) });
      while (!done) {
        try {
          ticker.draw(await readSnapshot(client, id), Date.now());
        } catch {
          // between continueAsNew runs or not yet started
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
      await client.connection.close();
      // A sweep that did not complete is a failed run: exit 1 (main maps a thrown error to it).
      if (done !== 'completed') throw new Error(`${id} ${done}`);
      console.log(`${id} ${done}`);
    });

  program
    .command('cancel <id>')
    .description('Cancel a sweep; its running activities hear it through their heartbeats.')
    .action(async (id: string) => {
      const client = await connectClient(config());
      await client.workflow.getHandle(id).cancel();
      console.log(`cancellation requested for ${id}`);
      await client.connection.close();
    });

  program
    .command('report <id>')
    .description("Copy a finished sweep's report from the artifact store into a folder.")
    .requiredOption('--out <dir>', 'destination folder')
    .option('--curves', "also draw every cell's training curves (train loss, val accuracy per epoch; one panel per cell) into curves.svg/.png", false)
    .action(async (id: string, options: { out: string; curves: boolean }) => {
      const store = createStore(config().storage);
      const files = await downloadReport(store, id, options.out);
      console.log(`${files.length} files in ${options.out} (open ${options.out}/index.html)`);
      if (options.curves) {
        // Drawn on demand from the sweep record and each cell's metrics.json (as `synthmix export` reads them).
        const curves = await writeCurves(store, id, options.out);
        console.log(`training curves: ${curves.join(', ')}`);
      }
    });
}
