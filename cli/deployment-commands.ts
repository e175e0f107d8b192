import type { Command } from 'commander';
import type { SynthmixConfig } from '../temporal.config.js';
import { connectClient } from '../lib/temporal/connection.js';
import { describeDeployment, formatDeployment, setCurrentBuild, UnknownBuildError } from '../lib/temporal/deployments.js';
import { UsageError } from './usage.js';

/**
 * `deployments`, `deployments set-current BUILD`: the builds of the configured Worker Deployment
 * (workers/deployment.ts), the sweeps pinned to each, and the operator's step of an upgrade.
 */
export function registerDeploymentCommands(program: Command, config: () => SynthmixConfig): void {
  const deployments = program
    .command('deployments')
    .description('List the builds of the worker deployment: which is current, the sweeps running on each, and which can be retired (drained).')
    .action(async () => {
      const cfg = config();
      const client = await connectClient(cfg);
      try {
        const deployment = await describeDeployment(client, cfg.deployment.name);
        if (!deployment) console.log(`deployment ${cfg.deployment.name}: no versioned worker has polled yet`);
        else console.log(formatDeployment(deployment).join('\n'));
      } finally {
        await client.connection.close();
      }
    });

  deployments
    .command('set-current <build>')
    .description("Start new sweeps on BUILD (its cpu and gpu workers must be polling); running sweeps stay on the build that started them.")
    .action(async (build: string) => {
      const cfg = config();
      const client = await connectClient(cfg);
      try {
        await setCurrentBuild(client, cfg.deployment.name, build).catch((error: unknown) => {
          // A build nobody runs is the operator's typo: a usage error (exit 2), as a bad option is.
          throw error instanceof UnknownBuildError ? new UsageError(error.message) : error;
        });
        console.log(`deployment ${cfg.deployment.name}: new sweeps start on build ${build}`);
      } finally {
        await client.connection.close();
      }
    });
}
