import { Worker, type ActivityInterceptorsFactory, type NativeConnection } from '@temporalio/worker';
import type { SynthmixConfig } from '../temporal.config.js';
import type { ArtifactStore } from '../lib/store/types.js';
import { createCpuActivities, createGpuActivities } from '../activities/index.js';
import { workflowBundle } from './bundle.js';
import { mapActivityFailures } from './failure-mapping.js';

export type QueueKind = 'cpu' | 'gpu';

export interface WorkerSetup {
  config: SynthmixConfig;
  connection: NativeConnection;
  store: ArtifactStore;
  queue: QueueKind;
  /** Identity shown in Temporal (defaults to the SDK's pid@host). */
  identity?: string;
}

/**
 * A worker for one task queue. The cpu worker also runs workflow tasks (workflows are cheap);
 * the gpu worker runs one heavy activity per GPU. Running activities are given
 * `shutdownGraceSeconds` on SIGTERM, then cancelled: the engine checkpoints and the attempt is
 * retried elsewhere from that checkpoint.
 */
export async function createWorker(setup: WorkerSetup): Promise<Worker> {
  const { config, connection, store, queue } = setup;
  const deps = { store, config };
  const common = {
    connection,
    namespace: config.temporal.namespace,
    ...(setup.identity ? { identity: setup.identity } : {}),
    shutdownGraceTime: `${config.workers.shutdownGraceSeconds} seconds`,
    // Cancellation reaches an activity only through a heartbeat response: keep the throttle short
    // so a cancelled sweep stops its engines within seconds, not at 80% of the heartbeat timeout.
    maxHeartbeatThrottleInterval: '3 seconds',
    defaultHeartbeatThrottleInterval: '3 seconds',
    interceptors: { activity: [mapActivityFailures] as ActivityInterceptorsFactory[] },
  } as const;
  if (queue === 'cpu') {
    return Worker.create({
      ...common,
      taskQueue: config.queues.cpu,
      workflowBundle: await workflowBundle(),
      activities: createCpuActivities(deps),
      maxConcurrentActivityTaskExecutions: config.workers.cpuConcurrency,
      maxConcurrentWorkflowTaskExecutions: config.workers.workflowTasks,
    });
  }
  return Worker.create({
    ...common,
    taskQueue: config.queues.gpu,
    activities: createGpuActivities(deps),
    maxConcurrentActivityTaskExecutions: config.workers.gpuConcurrency,
  });
}
