import path from 'node:path';
import type { SynthmixConfig } from '../temporal.config.js';
import { withEmbeddedWorld } from '../workers/embedded.js';
import { downloadReport } from '../activities/report.js';
import { sweep } from '../workflows/index.js';
import { loadSweepConfig, formatProgress } from './sweep-commands.js';
import { progressQuery } from '../workflows/index.js';

export interface DemoOptions {
  preset: string;
  out: string;
}

/**
 * `synthmix demo`: the whole experiment on the embedded world — dev server, both workers and the
 * local store in this process — then the report copied to `--out`.
 */
export async function runDemo(config: SynthmixConfig, options: DemoOptions): Promise<void> {
  const sweepConfig = loadSweepConfig(options.preset);
  const began = Date.now();
  await withEmbeddedWorld(config, async ({ client, config: cfg, store }) => {
    const sweepId = `synthmix-${sweepConfig.name}-${Date.now()}`;
    console.log(`sweep ${sweepId} (preset ${options.preset}) on ${cfg.temporal.address}, store ${store.description}`);
    const handle = await client.workflow.start(sweep, {
      taskQueue: cfg.queues.cpu,
      workflowId: sweepId,
      args: [{ sweepId, config: sweepConfig, queues: cfg.queues }],
    });
    const ticker = setInterval(() => {
      handle.query(progressQuery).then(
        (p) => process.stdout.write(`\r${formatProgress(p)}   `),
        () => undefined,
      );
    }, 3000);
    try {
      const result = await handle.result();
      const out = path.resolve(options.out);
      await downloadReport(store, sweepId, out);
      console.log(`\n${result.cells.done}/${result.cells.total} cells done, ${result.cells.failed} failed, in ${((Date.now() - began) / 1000).toFixed(0)} s`);
      for (const s of result.stages) console.log(`  ${s.stage.padEnd(14)} ${(s.wallMs / 1000).toFixed(1)} s wall, ${(s.activityMs / 1000).toFixed(1)} s in activities`);
      console.log(`report: ${path.join(out, 'index.html')}`);
    } finally {
      clearInterval(ticker);
    }
  });
}
