/**
 * A test's own world on real parts: a fresh temp folder, a Temporal dev server (SQLite in that
 * folder), a config whose state, store and engine folders live there too, in-process workers for
 * the queues asked for, and a client. `stop()` tears everything down (workers first).
 *
 *   let world: TestWorld;
 *   beforeAll(async () => { world = await startTestWorld({ name: 'sweep', workers: ['cpu', 'gpu'] }); });
 *   afterAll(() => world?.stop());
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { loadConfig } from '../../lib/config/load.js';
import { createStore, type ArtifactStore } from '../../lib/store/index.js';
import { connectClient, connectWorker } from '../../lib/temporal/connection.js';
import { createWorker } from '../../workers/create.js';
import { startTemporalDevServer, type DevServer, type TemporalDevServerOptions } from '../../infra/temporal-dev-server.js';
import type { SynthmixConfig } from '../../temporal.config.js';

export interface TestWorldOptions {
  /** Names the temp folder and the task queues (`<name>-cpu`, `<name>-gpu`). */
  name: string;
  /** In-process workers to run (none: the test starts its own, e.g. as child processes). */
  workers?: Array<'cpu' | 'gpu'>;
  /** Config layered over the world's folders and server (e.g. an S3 store, engine threads). */
  overrides?: (tmp: string) => Record<string, unknown>;
  /** Dev server settings (benches compare them: bench/roundtrip.ts). */
  server?: Pick<TemporalDevServerOptions, 'sqlitePragmas' | 'dynamicConfig'>;
}

export interface TestWorld {
  tmp: string;
  server: DevServer;
  config: SynthmixConfig;
  /** The config as a JSON file, for `synthmix worker` processes (SYNTHMIX_CONFIG). */
  configFile: string;
  client: Client;
  store: ArtifactStore;
  workers: Worker[];
  stop(): Promise<void>;
}

export async function startTestWorld(options: TestWorldOptions): Promise<TestWorld> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `synthmix-${options.name}-`));
  const server = await startTemporalDevServer({ dbFile: path.join(tmp, 'temporal.sqlite'), ...options.server });
  const extra = options.overrides?.(tmp) ?? {};
  const overrides = {
    stateDir: path.join(tmp, 'state'),
    temporal: { mode: 'external', address: server.address },
    queues: { cpu: `${options.name}-cpu`, gpu: `${options.name}-gpu` },
    storage: { kind: 'local', dir: path.join(tmp, 'store') },
    ...extra,
    engine: { cacheDir: path.join(tmp, 'cache'), workDir: path.join(tmp, 'work'), ...(extra.engine as object | undefined) },
    workers: { shutdownGraceSeconds: 1, ...(extra.workers as object | undefined) },
  };
  const config = loadConfig({ env: {}, overrides });
  // The same config for workers started as processes (SYNTHMIX_CONFIG).
  const configFile = path.join(tmp, 'synthmix.json');
  writeFileSync(configFile, JSON.stringify(overrides, null, 2));
  const store = createStore(config.storage);
  const workers: Worker[] = [];
  if (options.workers?.length) {
    const connection = await connectWorker(config);
    for (const queue of options.workers) workers.push(await createWorker({ config, connection, store, queue }));
  }
  const running = workers.map((w) => w.run());
  const client = await connectClient(config);
  return {
    tmp,
    server,
    config,
    configFile,
    client,
    store,
    workers,
    async stop() {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.allSettled(running);
      await client.connection.close();
      await server.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
