#!/usr/bin/env -S npx tsx
/**
 * `synthmix`: the command line. Exit codes: 0 ok, 1 a run failed, 2 bad usage or bad config.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../lib/config/load.js';
import { UsageError } from './usage.js';
import { registerFoundationCommands } from './foundation.js';
import { registerSweepCommands } from './sweep-commands.js';
import { registerScheduleCommands } from './schedule-commands.js';
import { registerStoreCommands } from './store-commands.js';
import { registerExportCommands } from './export-commands.js';
import { registerDeploymentCommands } from './deployment-commands.js';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function buildProgram(): Command {
  const program = new Command('synthmix')
    .description('Dataset augmentation with diffusion models, as durable Temporal workflows.')
    .showHelpAfterError()
    .exitOverride();
  registerFoundationCommands(program, () => loadConfig());
  registerSweepCommands(program, () => loadConfig());
  registerScheduleCommands(program, () => loadConfig());
  registerStoreCommands(program, () => loadConfig());
  registerExportCommands(program, () => loadConfig());
  registerDeploymentCommands(program, () => loadConfig());
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof ConfigError || error instanceof UsageError || error instanceof InvalidArgumentError) {
      console.error(`synthmix: ${error.message}`);
      return EXIT.usage;
    }
    console.error(`synthmix: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failed;
  }
}

process.exitCode = await main(process.argv);
