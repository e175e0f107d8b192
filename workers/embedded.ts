import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { SynthmixConfig } from '../temporal.config.js';
import type { ArtifactStore } from '../lib/store/types.js';
import { createStore } from '../lib/store/index.js';
import { connectClient, connectWorker } from '../lib/temporal/connection.js';
import { startTemporalDevServer, type DevServer } from '../infra/temporal-dev-server.js';
import { createWorker, versioningOf } from './create.js';
import { installWorkerTelemetry } from './telemetry.js';

export interface EmbeddedWorld {
  config: SynthmixConfig;
  client: Client;
  store: ArtifactStore;
  server?: DevServer;
}

/**
 * The embedded world in one process: the dev server (unless the config points at an external
 * cluster), a cpu and a gpu worker, and a client. `fn` runs while the workers poll; everything is
 * shut down afterwards, also when `fn` throws.
 */
export async function withEmbeddedWorld<T>(config: SynthmixConfig, fn: (world: EmbeddedWorld) => Promise<T>): Promise<T> {
  let server: DevServer | undefined;
  let cfg = config;
  if (config.temporal.mode === 'embedded') {
    mkdirSync(config.stateDir, { recursive: true });
    server = await startTemporalDevServer({
      dbFile: path.join(config.stateDir, 'temporal.sqlite'),
      namespace: config.temporal.namespace,
      logFile: path.join(config.stateDir, 'temporal-server.log'),
    });
    cfg = { ...config, temporal: { ...config.temporal, address: server.address } };
  }
  // This process's workers are all the workers there are: their build takes new sweeps.
  cfg = { ...cfg, deployment: { ...cfg.deployment, promote: cfg.deployment.promote ?? 'always' } };
  try {
    const store = createStore(cfg.storage);
    // As `synthmix worker`: the metrics endpoint and JSON logs when the config asks (the demo's workers).
    installWorkerTelemetry(cfg);
    const connection = await connectWorker(cfg);
    const client = await connectClient(cfg);
    try {
      const cpu = await createWorker({ config: cfg, connection, store, queue: 'cpu' });
      const gpu = await createWorker({ config: cfg, connection, store, queue: 'gpu' });
      // A sweep started before its build is current would wait for unversioned workers: start none before.
      const ready = async () => {
        await Promise.all([versioningOf(cpu)?.promotion, versioningOf(gpu)?.promotion]);
        return fn({ config: cfg, client, store, server });
      };
      return await cpu.runUntil(gpu.runUntil(ready()));
    } finally {
      await client.connection.close();
      await connection.close();
    }
  } finally {
    await server?.stop();
  }
}
