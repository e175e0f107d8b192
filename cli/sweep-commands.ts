import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ZodError } from 'zod';
import type { SynthmixConfig } from '../temporal.config.js';
import { PRESETS, resolveSweepConfig, type PresetName, type SweepConfig } from '../lib/sweep/config.js';
import { connectClient, workflowUiLink } from '../lib/temporal/connection.js';
import { createStore } from '../lib/store/index.js';
import { downloadReport } from '../activities/report.js';
import { progressQuery, sweep } from '../workflows/index.js';
import { formatProgress, renderProgress, runningCellActivities } from './sweep-progress.js';
import { UsageError } from './usage.js';
import { assertSweepId } from '../lib/sweep/id.js';
import { formatPlan, planSweep } from '../lib/sweep/plan.js';
import { formatWorkflowBuild, workflowBuild } from '../lib/temporal/deployments.js';

/** Read a sweep config file over a preset; a bad field is a usage error naming it (exit 2). */
export function loadSweepConfig(preset: string, file?: string): SweepConfig {
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
    return resolveSweepConfig(preset as PresetName, overrides);
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
    .action(async (options: { config?: string; preset: string; id?: string }) => {
      const sweepConfig = loadSweepConfig(options.preset, options.config);
      const sweepId = options.id ?? `synthmix-${sweepConfig.name}-${Date.now()}`;
      try {
        assertSweepId(sweepId, '--id');
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const cfg = config();
      const client = await connectClient(cfg);
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
      const plan = await planSweep(loadSweepConfig(options.preset, options.config), createStore(config().storage));
      console.log(formatPlan(plan).join('\n'));
      if (plan.problems.length > 0) throw new UsageError(`the sweep cannot run:\n  - ${plan.problems.join('\n  - ')}`);
    });

  program
    .command('status <id>')
    .description('Progress of a sweep: stage and cells done / running / failed.')
    .action(async (id: string) => {
      const client = await connectClient(config());
      const handle = client.workflow.getHandle(id);
      const description = await handle.describe();
      console.log(`${id}: ${description.status.name}`);
      console.log(formatWorkflowBuild(await workflowBuild(client, id)));
      if (description.status.name === 'RUNNING') {
        const progress = await handle.query(progressQuery);
        const cells = await runningCellActivities(client, id, progress.cells.running);
        console.log(renderProgress(progress, cells, Date.now()).join('\n'));
      }
      await client.connection.close();
      // For scripts: a sweep that ended without completing is a failed run (exit 1), as in `watch`.
      if (!['RUNNING', 'COMPLETED', 'CONTINUED_AS_NEW'].includes(description.status.name)) throw new Error(`${id} did not complete (${description.status.name})`);
    });

  program
    .command('watch <id>')
    .description('Follow a sweep live until it ends.')
    .action(async (id: string) => {
      const client = await connectClient(config());
      const handle = client.workflow.getHandle(id);
      const result = handle.result().then(
        () => 'completed',
        (error: Error) => `failed: ${error.message}`,
      );
      let done: string | undefined;
      void result.then((r) => (done = r));
      let drawn = 0;
      while (!done) {
        try {
          const progress = await handle.query(progressQuery);
          if (process.stdout.isTTY) {
            const lines = renderProgress(progress, await runningCellActivities(client, id, progress.cells.running), Date.now());
            // Redraw in place: up over the previous frame, clear it, draw this one.
            process.stdout.write(`${drawn ? `\x1b[${drawn}F\x1b[0J` : ''}${lines.join('\n')}\n`);
            drawn = lines.length;
          } else {
            console.log(formatProgress(progress));
          }
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
    .action(async (id: string, options: { out: string }) => {
      const files = await downloadReport(createStore(config().storage), id, options.out);
      console.log(`${files.length} files in ${options.out} (open ${options.out}/index.html)`);
    });
}
