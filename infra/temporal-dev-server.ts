/**
 * A real Temporal dev server (`temporal server start-dev`, the CLI from `.synthmix/tools/bin/`),
 * loopback only, on free ports, persisting to a SQLite file, ready when a gRPC DescribeNamespace
 * succeeds. Used by tests, the demo and local development.
 */
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ManagedProcess, RuntimeDir, freePorts, portConflict, waitUntilReady } from './managed-process.js';
import { requireTool } from './tools.js';

export interface DevServer {
  /** `127.0.0.1:PORT`, the frontend gRPC address. */
  readonly address: string;
  readonly namespace: string;
  /** The SQLite file holding all state (survives kill + restart). */
  readonly dbFile: string;
  /** The Web UI (only with `ui: true`). */
  readonly uiUrl: string | undefined;
  /** The current server process id (changes on restart). */
  readonly pid: number;
  /** SIGTERM, wait for exit (SIGKILL after 30 s). */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit (for fault tests). */
  kill(): Promise<void>;
  /** Start again on the same ports and the same SQLite file; resolves when healthy. Stops first if running. */
  restart(): Promise<void>;
  /** Resolves when the current server process exits, with why (`exited with code 1`, `killed by SIGKILL`). */
  waitForExit(): Promise<string>;
  /** The tail of the server's log since its last start (for messages). */
  logTail(lines?: number): string;
}

export interface TemporalDevServerOptions {
  /** SQLite file; default: a fresh temp file (removed after this process exits). */
  dbFile?: string;
  /** Frontend gRPC port; default: a free port. */
  port?: number;
  /** Serve the Web UI too (default false: headless). */
  ui?: boolean;
  /** Namespace to use (created at launch; `default` always exists). Default `default`. */
  namespace?: string;
  /** Server output goes here; default: `server.log` next to a temp dbFile, or `<dbFile>.log`. */
  logFile?: string;
  /** How long to wait for readiness (default 60 s). */
  startTimeoutMs?: number;
  /**
   * SQLite pragmas (default `FAST_SQLITE_PRAGMAS`; `{}`: SQLite's own defaults). The defaults
   * (rollback journal, synchronous=FULL) fsync several times per workflow step: most of a trivial
   * step's latency on the dev server (bench/roundtrip.ts).
   */
  sqlitePragmas?: Record<string, string>;
  /** Dynamic config values (default `DEFAULT_DYNAMIC_CONFIG`; `{}`: the dev server's own). */
  dynamicConfig?: Record<string, string | number | boolean>;
}

/**
 * WAL journal, fsync at checkpoints only: a killed server (the fault tests) loses nothing — WAL with
 * synchronous=NORMAL is durable across a process crash, only a power loss can drop the last
 * transactions, which a dev server may.
 */
export const FAST_SQLITE_PRAGMAS: Readonly<Record<string, string>> = { journal_mode: 'wal', synchronous: 'normal' };

/**
 * - `system.forceSearchAttributesCacheRefreshOnRead`: the dev server turns it on (so a search
 *   attribute added by hand is visible at once); it re-reads the namespace's search attributes
 *   from SQLite on every visibility write, i.e. every workflow start and close.
 * - `system.enableActivityEagerExecution`: an activity scheduled by a workflow task goes back in that
 *   task's completion response to the same worker (no matching round trip) when the worker has a free slot.
 * - `history.{transfer,timer,visibility}ProcessorMaxPollRPS`: the history service reads each task
 *   queue of a shard at most 20 times a second by default, and the dev server has one shard: past a
 *   burst of ≈ 35, every workflow task scheduled by a finished activity waited ≈ 33 ms to be read
 *   (bench/roundtrip.ts: 42 → 18 ms per activity with a bare worker).
 */
export const FAST_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = {
  'system.forceSearchAttributesCacheRefreshOnRead': false,
  'system.enableActivityEagerExecution': true,
  'history.transferProcessorMaxPollRPS': 10000,
  'history.timerProcessorMaxPollRPS': 10000,
  'history.visibilityProcessorMaxPollRPS': 10000,
};

/**
 * Worker Versioning (workers/deployment.ts) on the dev server. The deployment APIs are on by default
 * in this server (1.32); named here so a server that defaults them off still runs synthmix's
 * versioned workers. A build's drainage status is refreshed every 3 minutes after a grace period of
 * 3 minutes by default: seconds here, so `synthmix deployments` tells a local operator at once that
 * an old build's last sweep ended (a production cluster keeps its defaults).
 */
export const VERSIONING_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = {
  'system.enableDeploymentVersions': true,
  'frontend.workerVersioningWorkflowAPIs': true,
  'matching.wv.VersionDrainageStatusRefreshInterval': '1s',
  'matching.wv.VersionDrainageStatusVisibilityGracePeriod': '1s',
};

/** The dev server's dynamic config unless a caller gives its own. */
export const DEFAULT_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = { ...FAST_DYNAMIC_CONFIG, ...VERSIONING_DYNAMIC_CONFIG };

const MAX_PORT_ATTEMPTS = 3;

/**
 * One readiness probe: a fresh connection (no client-side retries) and a DescribeNamespace.
 * `Connection.lazy` so the channel is always closed, even when connecting fails.
 */
async function probe(address: string, namespace: string): Promise<void> {
  const connection = Connection.lazy({ address, connectTimeout: 2000, interceptors: [] });
  try {
    await connection.withDeadline(Date.now() + 3000, () => connection.workflowService.describeNamespace({ namespace }));
  } finally {
    await connection.close();
  }
}

export async function startTemporalDevServer(options: TemporalDevServerOptions = {}): Promise<DevServer> {
  const temporal = requireTool('temporal');
  const namespace = options.namespace ?? 'default';
  const ui = options.ui ?? false;
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const pragmas = options.sqlitePragmas ?? FAST_SQLITE_PRAGMAS;
  const dynamicConfig = options.dynamicConfig ?? DEFAULT_DYNAMIC_CONFIG;

  // Pid file + default files; removed (after the server is stopped) once this process is gone.
  const runtime = new RuntimeDir('synthmix-temporal-');
  const dbFile = path.resolve(options.dbFile ?? path.join(runtime.dir, 'temporal.sqlite'));
  const logFile = path.resolve(options.logFile ?? (options.dbFile ? `${dbFile}.log` : path.join(runtime.dir, 'server.log')));

  interface Ports {
    grpc: number;
    http: number;
    metrics: number;
    ui: number | undefined;
  }
  const pickPorts = async (): Promise<Ports> => {
    const wanted = (options.port === undefined ? 1 : 0) + 2 + (ui ? 1 : 0);
    const found = await freePorts(wanted);
    return {
      grpc: options.port ?? (found.shift() as number),
      http: found.shift() as number,
      metrics: found.shift() as number,
      ui: ui ? found.shift() : undefined,
    };
  };

  const argsFor = (ports: Ports): string[] => [
    'server',
    'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(ports.grpc),
    '--http-port', String(ports.http),
    '--metrics-port', String(ports.metrics),
    '--db-filename', dbFile,
    ...Object.entries(pragmas).flatMap(([name, value]) => ['--sqlite-pragma', `${name}=${value}`]),
    ...Object.entries(dynamicConfig).flatMap(([name, value]) => ['--dynamic-config-value', `${name}=${JSON.stringify(value)}`]),
    ...(ports.ui !== undefined ? ['--ui-ip', '127.0.0.1', '--ui-port', String(ports.ui), '--ui-disable-news-fetch'] : ['--headless']),
    ...(namespace !== 'default' ? ['--namespace', namespace] : []),
    '--log-level', 'warn',
    '--color', 'never',
  ];

  let ports = await pickPorts();
  let proc: ManagedProcess | undefined;

  const launch = async (mayChangePorts: boolean): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const current = new ManagedProcess({
        name: 'temporal dev server',
        command: temporal,
        args: argsFor(ports),
        logFile,
        pidFile: runtime.pidFile,
      });
      proc = current;
      await current.start();
      const address = `127.0.0.1:${ports.grpc}`;
      try {
        await waitUntilReady(current, () => probe(address, namespace), { name: `temporal dev server at ${address}`, timeoutMs, logFile });
        return;
      } catch (error) {
        await current.signalAndWait('SIGKILL');
        if (mayChangePorts && options.port === undefined && attempt < MAX_PORT_ATTEMPTS && portConflict(current)) {
          ports = await pickPorts();
          continue;
        }
        throw error;
      }
    }
  };

  await launch(true);

  const server: DevServer = {
    get address() {
      return `127.0.0.1:${ports.grpc}`;
    },
    namespace,
    dbFile,
    get uiUrl() {
      return ports.ui !== undefined ? `http://127.0.0.1:${ports.ui}` : undefined;
    },
    get pid() {
      return proc?.pid ?? -1;
    },
    async stop() {
      await proc?.signalAndWait('SIGTERM');
    },
    async kill() {
      await proc?.signalAndWait('SIGKILL');
    },
    async restart() {
      await proc?.signalAndWait('SIGTERM');
      await launch(false);
    },
    async waitForExit() {
      const current = proc;
      if (!current) return 'never started';
      await current.waitForExit();
      return current.exitDescription;
    },
    logTail(lines = 25) {
      return proc?.logSinceStart(lines) ?? '';
    },
  };
  return server;
}
