import { Worker, type ActivityInterceptorsFactory, type NativeConnection, type WorkerOptions, type WorkflowBundleOption } from '@temporalio/worker';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { SynthmixConfig } from '../temporal.config.js';
import type { ArtifactStore } from '../lib/store/types.js';
import { createCpuActivities, createGpuActivities } from '../activities/index.js';
import { workflowBundle } from './bundle.js';
import { deploymentOptions, promotePolicy, promoteWhenPolling, workerVersion, type PromotionOutcome } from './deployment.js';
import { mapActivityFailures } from './failure-mapping.js';
import { cleanLeftovers } from '../lib/engine/leftovers.js';
import { resolveGpuDevices, type GpuDevices } from '../lib/engine/gpu-devices.js';
import { GpuSlots, registerGpuSlots } from '../lib/engine/gpu-slots.js';

export type QueueKind = 'cpu' | 'gpu';

export interface WorkerSetup {
  config: SynthmixConfig;
  connection: NativeConnection;
  store: ArtifactStore;
  queue: QueueKind;
  /** Identity shown in Temporal (defaults to the SDK's pid@host). */
  identity?: string;
  /**
   * The workflow code a cpu worker runs (default: workers/bundle.ts's, the code this process was
   * built from). Its build id derives from it, so another bundle is another build.
   */
  workflowBundle?: WorkflowBundleOption;
}

export interface WorkerVersioning {
  version: WorkerDeploymentVersion;
  /** How its attempt to make its build current ended (workers/deployment.ts `promoteWhenPolling`). */
  promotion: Promise<PromotionOutcome>;
}

const versionings = new WeakMap<Worker, WorkerVersioning>();

/** A worker's build and promotion (for its start message, and for tests that wait for a build to be current). Undefined: unversioned. */
export function versioningOf(worker: Worker): WorkerVersioning | undefined {
  return versionings.get(worker);
}

/**
 * Seconds after the last engine is SIGKILLed for the worker to upload the checkpoint it wrote,
 * report the attempt and exit (a multi-GB checkpoint at a few hundred MB/s).
 */
export const STOP_MARGIN_SECONDS = 30;

/**
 * How long a worker told to stop (SIGTERM) may take: `workers.shutdownGraceSeconds` for running
 * activities to finish, then `engine.killGraceSeconds` for each cancelled engine to checkpoint
 * before SIGKILL, then the margin. Derived from both, so the worker never gives its engines less
 * than their kill grace; after it the worker stops waiting (the SDK's shutdownForceTime).
 * A supervisor must allow at least this much (systemd TimeoutStopSec, Kubernetes
 * terminationGracePeriodSeconds): `synthmix worker` prints it at start.
 */
export function workerStopSeconds(config: Pick<SynthmixConfig, 'workers' | 'engine'>): number {
  return config.workers.shutdownGraceSeconds + config.engine.killGraceSeconds + STOP_MARGIN_SECONDS;
}

/** The GPUs this process's gpu worker pins engines to (lib/engine/gpu-devices.ts says how they are found). */
export function gpuDevicesOf(config: SynthmixConfig, env: NodeJS.ProcessEnv = process.env): GpuDevices {
  return resolveGpuDevices({ configured: config.workers.gpuDevices, env });
}

/**
 * A worker for one task queue. The cpu worker also runs workflow tasks (workflows are cheap);
 * the gpu worker runs one heavy activity per GPU. Running activities are given
 * `shutdownGraceSeconds` on SIGTERM, then cancelled: the engine checkpoints (within
 * `engine.killGraceSeconds`) and the attempt is retried elsewhere from that checkpoint; the
 * worker gives up waiting after `workerStopSeconds`.
 */
export async function createWorker(setup: WorkerSetup): Promise<Worker> {
  const { config, connection, queue } = setup;
  // Partial downloads and attempt folders of workers killed -9 on this machine (lib/engine/leftovers.ts).
  await cleanLeftovers(config.engine);
  // cpu and gpu workers of one build are one version: a pinned sweep's gpu activities go to its
  // own build's gpu workers, so activity contracts may change between builds as well.
  const version = await workerVersion(config, setup.workflowBundle);
  const common: CommonOptions = {
    connection,
    namespace: config.temporal.namespace,
    ...(setup.identity ? { identity: setup.identity } : {}),
    shutdownGraceTime: `${config.workers.shutdownGraceSeconds} seconds`,
    shutdownForceTime: `${workerStopSeconds(config)} seconds`,
    // Cancellation reaches an activity only through a heartbeat response: keep the throttle short
    // so a cancelled sweep stops its engines within seconds, not at 80% of the heartbeat timeout.
    maxHeartbeatThrottleInterval: '3 seconds',
    defaultHeartbeatThrottleInterval: '3 seconds',
    interceptors: { activity: [mapActivityFailures] as ActivityInterceptorsFactory[] },
    ...deploymentOptions(version),
  };
  const worker = queue === 'cpu' ? await createCpuWorker(setup, common, setup.workflowBundle ?? (await workflowBundle())) : await createGpuWorker(setup, common);
  if (version) {
    const running = () => ['INITIALIZED', 'RUNNING'].includes(worker.getState());
    versionings.set(worker, { version, promotion: promoteWhenPolling({ connection, namespace: config.temporal.namespace, version, policy: promotePolicy(config), identity: setup.identity, keepTrying: running }) });
  }
  return worker;
}

type CommonOptions = Omit<WorkerOptions, 'taskQueue'>;

function createCpuWorker({ config, store }: WorkerSetup, common: CommonOptions, bundle: WorkflowBundleOption): Promise<Worker> {
  return Worker.create({
    ...common,
    taskQueue: config.queues.cpu,
    workflowBundle: bundle,
    activities: createCpuActivities({ store, config }),
    maxConcurrentActivityTaskExecutions: config.workers.cpuConcurrency,
    maxConcurrentWorkflowTaskExecutions: config.workers.workflowTasks,
  });
}

/** One engine per GPU: as many activities as devices, each engine holding one device (GpuSlots). */
function createGpuWorker({ config, store }: WorkerSetup, common: CommonOptions): Promise<Worker> {
  const { devices } = gpuDevicesOf(config);
  registerGpuSlots(config.queues.gpu, devices.length > 0 ? new GpuSlots(devices) : undefined);
  return Worker.create({
    ...common,
    taskQueue: config.queues.gpu,
    activities: createGpuActivities({ store, config }),
    maxConcurrentActivityTaskExecutions: devices.length > 0 ? devices.length : config.workers.gpuConcurrency,
  });
}
