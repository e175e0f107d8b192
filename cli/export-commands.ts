import { Option, type Command } from 'commander';
import type { SynthmixConfig } from '../temporal.config.js';
import { createStore } from '../lib/store/index.js';
import { assertSweepId } from '../lib/sweep/id.js';
import { EXPORT_FORMATS, exportSweep, type ExportFormat } from '../lib/report/export.js';
import { UsageError } from './usage.js';

/** How to open each format's output, printed after the export. */
const OPEN_WITH: Record<ExportFormat, (out: string) => string> = {
  tensorboard: (out) => `tensorboard --logdir ${out}`,
  mlflow: (out) => `MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ${out}/mlruns`,
  csv: (out) => `${out}/curves.csv (one row per cell, epoch and metric) and ${out}/final.csv (one row per cell)`,
};

/** `export ID --format tensorboard|mlflow|csv --out DIR`: a finished sweep's training curves and final metrics, from its stored record. */
export function registerExportCommands(program: Command, config: () => SynthmixConfig): void {
  program
    .command('export <id>')
    .description("Write a finished sweep's per-epoch curves and final metrics of every cell, tagged by source, p, mode and seed, for TensorBoard, MLflow or as CSV.")
    .addOption(new Option('--format <format>', 'output format').choices([...EXPORT_FORMATS]).makeOptionMandatory())
    .requiredOption('--out <dir>', 'destination folder')
    .action(async (id: string, options: { format: ExportFormat; out: string }) => {
      try {
        assertSweepId(id, 'ID');
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const summary = await exportSweep(createStore(config().storage), id, options.format, options.out);
      console.log(`${summary.runs} runs, ${summary.files.length} files in ${options.out}; open with: ${OPEN_WITH[options.format](options.out)}`);
    });
}
