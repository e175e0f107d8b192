import os from 'node:os';
import path from 'node:path';
import type { SynthmixConfig } from '../temporal.config.js';
import { withEmbeddedWorld } from '../workers/embedded.js';
import { downloadReport } from '../activities/report.js';
import { sweep } from '../workflows/index.js';
import { loadSweepConfig } from './sweep-commands.js';
import { readSnapshot } from './progress-read.js';
import { ProgressTicker } from './ticker.js';
import { UsageError } from './usage.js';

export interface DemoOptions {
  preset: string;
  out: string;
  /** `--seeds 0,1`: the sweep's seeds instead of the preset's (the demo's three take about three times one's time). */
  seeds?: string;
}

/** `--seeds` as the sweep config's `seeds`: comma-separated non-negative integers, else a usage error naming it. */
export function parseSeedList(text: string): number[] {
  const seeds = text.split(',').map((part) => part.trim());
  if (seeds.some((seed) => !/^\d+$/.test(seed) || !Number.isSafeInteger(Number(seed)))) {
    throw new UsageError(`--seeds must be comma-separated non-negative integers (e.g. 0,1,2), got "${text}"`);
  }
  return seeds.map(Number);
}

/**
 * `synthmix demo`: the whole experiment on the embedded world — dev server, both workers and the
 * local store in this process — then the report copied to `--out`.
 */
export async function runDemo(configured: SynthmixConfig, options: DemoOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = demoEngineSlots(configured, env);
  const sweepConfig = loadSweepConfig(options.preset, undefined, options.seeds === undefined ? {} : { seeds: parseSeedList(options.seeds) });
  const began = Date.now();
  await withEmbeddedWorld(config, async ({ client, config: cfg, store }) => {
    const sweepId = `synthmix-${sweepConfig.name}-${Date.now()}`;
    console.log(`sweep ${sweepId} (preset ${options.preset}) on ${cfg.temporal.address}, store ${store.description}`);
    const handle = await client.workflow.start(sweep, {
      taskQueue: cfg.queues.cpu,
      workflowId: sweepId,
      args: [{ sweepId, config: sweepConfig, queues: cfg.queues }],
    });
    const progress = new ProgressTicker({ tty: Boolean(process.stdout.isTTY), write: (text) => process.stdout.write(text) });
    let drawing = false;
    const ticker = setInterval(() => {
      // One frame at a time: a slow frame is skipped, never stacked.
      if (drawing) return;
      drawing = true;
      readSnapshot(client, sweepId)
        .then((snapshot) => progress.draw(snapshot, Date.now()))
        .catch(() => undefined)
        .finally(() => (drawing = false));
    }, 3000);
    try {
      const result = await handle.result();
      const out = path.resolve(options.out);
      await downloadReport(store, sweepId, out);
      console.log(`${result.cells.done}/${result.cells.total} cells done, ${result.cells.failed} failed, in ${((Date.now() - began) / 1000).toFixed(0)} s`);
      for (const s of result.stages) console.log(`  ${s.stage.padEnd(14)} ${(s.wallMs / 1000).toFixed(1)} s wall, ${(s.activityMs / 1000).toFixed(1)} s in activities`);
      console.log(`report: ${path.join(out, 'index.html')}`);
    } finally {
      clearInterval(ticker);
    }
  });
}

/**
 * The demo's models are small: one single-threaded engine per core trains about twice as many
 * images per second as one engine using every core. Unless the user chose (env or config file),
 * the demo's gpu worker runs one engine slot per core, one thread each.
 */
export function demoEngineSlots(config: SynthmixConfig, env: NodeJS.ProcessEnv): SynthmixConfig {
  if (env.SYNTHMIX_CONFIG || env.SYNTHMIX_GPU_CONCURRENCY || env.SYNTHMIX_ENGINE_THREADS) return config;
  const slots = Math.max(1, Math.min(4, os.availableParallelism()));
  return { ...config, workers: { ...config.workers, gpuConcurrency: slots }, engine: { ...config.engine, threads: 1 } };
}
