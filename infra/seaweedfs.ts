/**
 * A real S3-compatible store: SeaweedFS `weed mini` (master + volume + filer + S3 gateway in one
 * process; `.synthmix/tools/bin/weed`), loopback only, every component on an explicit free port,
 * static credentials from an `-s3.config` identities file, one bucket created and checked with real
 * S3 calls before the launcher returns.
 *
 * Why `mini` rather than `server -s3`: it starts in under a second and stops in ~2 s (its components
 * shut down in order); `server -s3` took ~3 s to start and ~17 s to stop (the filer's gRPC graceful stop
 * waits 15 s for the in-process S3 gateway's subscription).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CreateBucketCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { ManagedProcess, RuntimeDir, freePorts, portConflict, waitUntilReady } from './managed-process.js';
import { requireTool } from './tools.js';

export interface S3Server {
  /** `http://127.0.0.1:PORT` (use path-style addressing). */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Where SeaweedFS keeps everything (volumes, filer metadata); survives stop/kill + restart. */
  readonly dataDir: string;
  /** The current server process id (changes on restart). */
  readonly pid: number;
  /** SIGTERM, wait for exit (SIGKILL after 30 s). */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit (for fault tests). */
  kill(): Promise<void>;
  /** Start again on the same ports and data dir; resolves when S3 answers. Stops first if running. */
  restart(): Promise<void>;
}

export interface SeaweedFSOptions {
  /** Data directory; default: a fresh temp dir (removed after this process exits). */
  dataDir?: string;
  /** Bucket created (if missing) at start; default `synthmix`. */
  bucket?: string;
  /** Default `synthmix-dev`. */
  accessKeyId?: string;
  /** Default `synthmix-dev-secret`. */
  secretAccessKey?: string;
  /** Server output; default `<dataDir>/../<name>.weed.log` for a given dir, `<tempdir>/weed.log` otherwise. */
  logFile?: string;
  /** How long to wait for readiness (default 60 s). */
  startTimeoutMs?: number;
}

const REGION = 'us-east-1';
/** SeaweedFS derives some gRPC ports as HTTP port + 10000 (the mini admin worker ignores -admin.port.grpc). */
const GRPC_OFFSET = 10_000;
const MAX_PORT_ATTEMPTS = 3;

/** Client settings for a started server (path-style, static credentials). */
export function s3ClientConfig(server: Pick<S3Server, 'endpoint' | 'region' | 'accessKeyId' | 'secretAccessKey'>): S3ClientConfig {
  return {
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  };
}

interface Ports {
  master: number;
  masterGrpc: number;
  volume: number;
  volumeGrpc: number;
  filer: number;
  filerGrpc: number;
  s3: number;
  s3Grpc: number;
  /** Its gRPC port is admin + 10000 (checked free too). */
  admin: number;
}

async function pickPorts(): Promise<Ports> {
  const [admin] = await freePorts(1, { paired: GRPC_OFFSET });
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = await freePorts(8);
  return { master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc, admin };
}

function allPorts(ports: Ports): number[] {
  return [...Object.values(ports), ports.admin + GRPC_OFFSET];
}

/** SeaweedFS leaves unix sockets named after its ports in /tmp (e.g. /tmp/seaweedfs-s3-grpc-PORT.sock). */
function socketGlobs(ports: Ports): string[] {
  return allPorts(ports).map((port) => `/tmp/seaweedfs-*-${port}.sock`);
}

/** Removes our sockets once the server is down. */
function removeSockets(ports: Ports): void {
  const mine = new Set(allPorts(ports).map(String));
  try {
    for (const name of readdirSync('/tmp')) {
      const match = /^seaweedfs-[a-z0-9-]+-(\d+)\.sock$/.exec(name);
      if (match && mine.has(match[1])) rmSync(path.join('/tmp', name), { force: true });
    }
  } catch {
    // best effort
  }
}

export async function startSeaweedFS(options: SeaweedFSOptions = {}): Promise<S3Server> {
  const weed = requireTool('weed');
  const bucket = options.bucket ?? 'synthmix';
  const accessKeyId = options.accessKeyId ?? 'synthmix-dev';
  const secretAccessKey = options.secretAccessKey ?? 'synthmix-dev-secret';
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new Error(`startSeaweedFS: bucket "${bucket}" is not a valid S3 bucket name (3-63 chars: a-z, 0-9, '.', '-')`);
  }

  // Pid file + default files; removed (after the server is stopped) once this process is gone.
  const runtime = new RuntimeDir('synthmix-seaweedfs-');
  const dataDir = path.resolve(options.dataDir ?? path.join(runtime.dir, 'data'));
  mkdirSync(dataDir, { recursive: true });
  const logFile = path.resolve(
    options.logFile ??
      (options.dataDir ? path.join(path.dirname(dataDir), `${path.basename(dataDir)}.weed.log`) : path.join(runtime.dir, 'weed.log')),
  );

  // Static credentials: one identity with every action (Admin covers bucket creation).
  const configFile = path.join(dataDir, 'synthmix-s3-identities.json');
  writeFileSync(
    configFile,
    `${JSON.stringify(
      {
        identities: [
          {
            name: 'synthmix',
            credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
            actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
          },
        ],
      },
      null,
      2,
    )}\n`,
    { mode: 0o600 },
  );

  const argsFor = (p: Ports): string[] => [
    'mini',
    `-dir=${dataDir}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    '-master.telemetry=false',
    `-master.port=${p.master}`,
    `-master.port.grpc=${p.masterGrpc}`,
    `-volume.port=${p.volume}`,
    `-volume.port.grpc=${p.volumeGrpc}`,
    `-filer.port=${p.filer}`,
    `-filer.port.grpc=${p.filerGrpc}`,
    `-s3.port=${p.s3}`,
    `-s3.port.grpc=${p.s3Grpc}`,
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    `-s3.config=${configFile}`,
    '-webdav=false',
    '-admin.ui=false',
    `-admin.port=${p.admin}`,
  ];

  let ports = await pickPorts();
  let proc: ManagedProcess | undefined;
  const endpointOf = (p: Ports): string => `http://127.0.0.1:${p.s3}`;

  /** Ready = the volume server has registered with the master, S3 answers ListBuckets, the bucket exists. */
  const probe = async (p: Ports): Promise<void> => {
    const status = await fetch(`http://127.0.0.1:${p.master}/dir/status`, { signal: AbortSignal.timeout(3000) });
    const body = (await status.json()) as { Topology?: { Max?: number } };
    if (!status.ok || !(body.Topology?.Max && body.Topology.Max > 0)) throw new Error('no volume server registered with the master yet');
    const client = new S3Client({ ...s3ClientConfig({ endpoint: endpointOf(p), region: REGION, accessKeyId, secretAccessKey }), maxAttempts: 1 });
    try {
      await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(3000) });
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(3000) });
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== 404) throw error;
        try {
          await client.send(new CreateBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(5000) });
        } catch (createError) {
          const name = (createError as { name?: string }).name;
          if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') {
            throw new Error(`creating bucket "${bucket}" failed: ${(createError as Error).message}`);
          }
        }
        await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(3000) });
      }
    } finally {
      client.destroy();
    }
  };

  const launch = async (mayChangePorts: boolean): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const current = new ManagedProcess({ name: 'seaweedfs', command: weed, args: argsFor(ports), logFile, cwd: dataDir, pidFile: runtime.pidFile });
      proc = current;
      const p = ports;
      runtime.cleanupAfterExit(socketGlobs(p));
      await current.start();
      try {
        await waitUntilReady(current, () => probe(p), { name: `seaweedfs S3 at ${endpointOf(p)}`, timeoutMs, logFile });
        return;
      } catch (error) {
        await current.signalAndWait('SIGKILL');
        removeSockets(p);
        if (mayChangePorts && attempt < MAX_PORT_ATTEMPTS && portConflict(current)) {
          ports = await pickPorts();
          continue;
        }
        throw error;
      }
    }
  };

  await launch(true);

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    await proc?.signalAndWait(signal);
    removeSockets(ports);
  };

  const server: S3Server = {
    get endpoint() {
      return endpointOf(ports);
    },
    bucket,
    region: REGION,
    accessKeyId,
    secretAccessKey,
    dataDir,
    get pid() {
      return proc?.pid ?? -1;
    },
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM');
      await launch(false);
    },
  };
  return server;
}
