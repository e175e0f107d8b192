import type { SynthmixConfig } from '../temporal.config.js';
import { withEmbeddedWorld } from '../workers/embedded.js';
import { smoke } from '../workflows/index.js';

export interface DemoOptions {
  preset: string;
  out: string;
}

/** `synthmix demo`: the embedded world end to end. */
export async function runDemo(config: SynthmixConfig, options: DemoOptions): Promise<void> {
  await withEmbeddedWorld(config, async ({ client, config: cfg }) => {
    const workflowId = `synthmix-smoke-${Date.now()}`;
    console.log(`starting ${workflowId} on ${cfg.temporal.address} (preset ${options.preset})`);
    const result = await client.workflow.execute(smoke, {
      taskQueue: cfg.queues.cpu,
      workflowId,
      args: [{ queues: cfg.queues, message: 'hello from synthmix', dummy: { steps: 20, stepSeconds: 0.02, checkpointEvery: 5 } }],
    });
    console.log(JSON.stringify(result, null, 2));
  });
}
