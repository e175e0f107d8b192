import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { SynthmixConfig } from '../temporal.config.js';
import { createStore } from '../lib/store/index.js';
import { collectGarbage } from '../lib/store/gc.js';
import { cleanLeftovers } from '../lib/engine/leftovers.js';
import { connectWorker } from '../lib/temporal/connection.js';
import { createWorker, gpuDevicesOf, versioningOf, workerStopSeconds, type QueueKind } from '../workers/create.js';
import type { PromotionOutcome } from '../workers/deployment.js';
import { describeWorkflowBundle } from '../workers/bundle.js';
import { installWorkerTelemetry } from '../workers/telemetry.js';
import { log } from '../lib/log.js';
import { startTemporalDevServer } from '../infra/temporal-dev-server.js';
import { runDemo } from './demo.js';

/** What a worker says once it knows whether its build takes new sweeps. */
const PROMOTION_MESSAGES: Record<PromotionOutcome, (build: string) => string> = {
  promoted: (build) => `build ${build} is now current: new sweeps start on it`,
  'already-current': (build) => `build ${build} is current: new sweeps start on it`,
  left: (build) => `build ${build} serves the sweeps pinned to it; \`synthmix deployments set-current ${build}\` starts new sweeps on it`,
  'gave-up': (build) => `build ${build} could not be made current (see the warning above); \`synthmix deployments\` shows the builds`,
};

/** `server`, `worker`, `demo`: the commands that start the embedded world and its workers. */
export function registerFoundationCommands(program: Command, config: () => SynthmixConfig): void {
  program
    .command('gc')
    .description('Find what killed runs left behind: unreferenced local blobs, incomplete S3 multipart uploads, engine .part files and dead attempt folders. Reports only, unless --delete.')
    .option('--delete', 'remove what was found (default: a dry run that only reports)', false)
    .option('--grace-hours <hours>', 'leave anything younger than this alone', (v) => Number(v), 24)
    .action(async (options: { delete: boolean; graceHours: number }) => {
      if (!Number.isFinite(options.graceHours) || options.graceHours < 0) throw new InvalidArgumentError(`--grace-hours must be a number >= 0, got ${options.graceHours}`);
      const cfg = config();
      const graceMs = options.graceHours * 60 * 60 * 1000;
      const report = await collectGarbage(createStore(cfg.storage), { delete: options.delete, graceMs });
      const leftovers = options.delete ? await cleanLeftovers(cfg.engine, graceMs) : undefined;
      const verb = options.delete ? 'removed' : 'would remove (dry run; --delete removes)';
      console.log(`synthmix gc: ${verb}: ${report.unreferencedBlobs.length} unreferenced blobs (${report.unreferencedBytes} bytes), ${report.incompleteUploads.length} incomplete multipart uploads`);
      for (const blob of report.unreferencedBlobs) console.log(`  blob ${blob}`);
      for (const upload of report.incompleteUploads) console.log(`  upload ${upload}`);
      if (leftovers) console.log(`  engine leftovers: ${leftovers.partFiles.length} .part files, ${leftovers.attemptDirs.length} attempt folders`);
    });

  program
    .command('server')
    .description('Start the embedded Temporal dev server (SQLite under the state dir, survives restarts).')
    .option('--ui', 'also serve the Temporal Web UI', false)
    .action(async (options: { ui: boolean }) => {
      const cfg = config();
      mkdirSync(cfg.stateDir, { recursive: true });
      const port = Number(cfg.temporal.address.split(':')[1]);
      const server = await startTemporalDevServer({
        dbFile: path.join(cfg.stateDir, 'temporal.sqlite'),
        port,
        ui: options.ui,
        namespace: cfg.temporal.namespace,
        logFile: path.join(cfg.stateDir, 'temporal-server.log'),
      });
      console.log(`Temporal dev server on ${server.address} (namespace ${server.namespace}, state ${server.dbFile})`);
      if (server.uiUrl) console.log(`Web UI: ${server.uiUrl}`);
      console.log('Ctrl-C (SIGINT) or SIGTERM stops it; the state survives for the next start.');
      // Run until a signal stops us or the server dies on its own (then say why and fail).
      const died = server.waitForExit().then((why) => ({ why }));
      const outcome = await Promise.race([untilSignal(died).then((signal) => ({ signal })), died]);
      if ('why' in outcome) {
        throw new Error(`the Temporal dev server stopped by itself (${outcome.why}); its log (${path.join(cfg.stateDir, 'temporal-server.log')}) ends:\n${server.logTail()}`);
      }
      await server.stop();
    });

  program
    .command('worker')
    .description('Poll one task queue: cpu (curate, mix, report, workflows) or gpu (engine steps).')
    .addOption(new Option('--queue <kind>', 'which queue').choices(['cpu', 'gpu']).makeOptionMandatory())
    .action(async (options: { queue: QueueKind }) => {
      const cfg = config();
      // Before the first connection: the Runtime (metrics endpoint, JSON logs) is the process's one.
      installWorkerTelemetry(cfg);
      const connection = await connectWorker(cfg);
      const worker = await createWorker({ config: cfg, connection, store: createStore(cfg.storage), queue: options.queue });
      log.info(`synthmix ${options.queue} worker on ${options.queue === 'cpu' ? cfg.queues.cpu : cfg.queues.gpu} (${cfg.temporal.address})`);
      log.info(
        `on SIGTERM: ${cfg.workers.shutdownGraceSeconds} s for running activities, then ${cfg.engine.killGraceSeconds} s for engines to checkpoint; ` +
          `allow this process ${workerStopSeconds(cfg)} s to stop (systemd TimeoutStopSec, Kubernetes terminationGracePeriodSeconds)`,
      );
      if (cfg.workers.metricsAddress) log.info(`metrics: http://${cfg.workers.metricsAddress}/metrics`);
      if (options.queue === 'cpu') log.info(describeWorkflowBundle());
      const versioning = versioningOf(worker);
      if (versioning) {
        const { deploymentName, buildId } = versioning.version;
        log.info(`deployment ${deploymentName}, build ${buildId}: sweeps started on this build stay on it (pinned)`);
        void versioning.promotion.then((outcome) => log.info(PROMOTION_MESSAGES[outcome](buildId)));
      } else {
        log.info('unversioned (deployment.versioning is false): running sweeps replay on whatever workflow code the workers have');
      }
      if (options.queue === 'gpu') {
        const gpus = gpuDevicesOf(cfg);
        log.info(gpus.devices.length ? `one engine per GPU: ${gpus.devices.join(', ')} (from ${gpus.source})` : 'no GPUs to pin: engines share this machine');
      }
      // Worker.run returns after SIGINT/SIGTERM once running activities finished or checkpointed.
      await worker.run();
      await connection.close();
    });

  program
    .command('config')
    .description('Validate the configuration and print it resolved (secrets are never part of it).')
    .action(() => {
      console.log(JSON.stringify(config(), null, 2));
    });

  program
    .command('demo')
    .description('Run the whole experiment on the embedded demo world, offline, and print where the report is.')
    .option('--preset <name>', 'sweep preset', 'demo')
    .option('--out <dir>', 'where to write the report', 'reports/demo')
    .option('--seeds <list>', "the sweep's seeds, comma-separated (default: the preset's; the demo's are 0,1,2)")
    .action(async (options: { preset: string; out: string; seeds?: string }) => {
      await runDemo(config(), options);
    });
}

/**
 * Resolves on the first SIGINT or SIGTERM (undefined if `stopWaiting` settles first). Signal
 * listeners alone do not keep Node's event loop alive (the process would end at once with
 * "unsettled top-level await", exit 13): a timer does, until the wait ends.
 */
export function untilSignal(stopWaiting?: Promise<unknown>): Promise<NodeJS.Signals | undefined> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const done = (signal: NodeJS.Signals | undefined) => {
      clearInterval(keepAlive);
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    stopWaiting?.then(
      () => done(undefined),
      () => done(undefined),
    );
  });
}
