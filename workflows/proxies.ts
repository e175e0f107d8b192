/**
 * One proxyActivities block per kind of activity: timeouts and retry policies live here, not at
 * call sites. Long gpu steps heartbeat; a missed heartbeat means the worker died, so the attempt
 * is retried (on any worker) and resumes from the checkpoint named in its last heartbeat.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities/index.js';
import type { Queues } from './queues.js';

const nonRetryableErrorTypes = ['BadInput', 'NotFound', 'CorruptObject', 'EnginePermanentError', 'ConfigError'];

/** Short cpu steps (curate, mix, report): quick retries. */
export function cpuActivities(queues: Queues) {
  return proxyActivities<CpuActivities>({
    taskQueue: queues.cpu,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes },
  });
}

/** Heavy engine steps (finetune, generate, train, evaluate, fid): long, heartbeating, resumable. */
export function gpuActivities(queues: Queues, heartbeatTimeout: string = '60 seconds') {
  return proxyActivities<GpuActivities>({
    taskQueue: queues.gpu,
    startToCloseTimeout: '12 hours',
    heartbeatTimeout,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10, nonRetryableErrorTypes },
  });
}
