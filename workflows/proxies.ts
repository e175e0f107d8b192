/**
 * One proxyActivities block per kind of activity: timeouts and retry policies live here, not at
 * call sites. Long gpu steps heartbeat; a missed heartbeat means the worker died, so the attempt
 * is retried (on any worker) and resumes from the checkpoint named in its last heartbeat.
 * Named `proxyXActivities`: never the name of an activity factory (`createXActivities`).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities/index.js';
import type { ReplicateActivities } from '../activities/replicate.js';
import type { Queues } from '../lib/temporal/queues.js';

const nonRetryableErrorTypes = ['BadInput', 'NotFound', 'CorruptObject', 'EnginePermanentError', 'ConfigError'];

/** Short cpu steps (curate, mix, report): quick retries. */
export function proxyCpuActivities(queues: Queues) {
  return proxyActivities<CpuActivities>({
    taskQueue: queues.cpu,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes },
  });
}

/** Heavy engine steps (finetune, generate, train, evaluate, fid): long, heartbeating, resumable. */
export function proxyGpuActivities(queues: Queues, heartbeatTimeout: string = '60 seconds') {
  return proxyActivities<GpuActivities>({
    taskQueue: queues.gpu,
    startToCloseTimeout: '12 hours',
    heartbeatTimeout,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10, nonRetryableErrorTypes },
  });
}

/**
 * The Replicate generator backend (trainings, predictions): remote calls, so on the cpu queue.
 * Long (a DreamBooth training or hundreds of predictions queue on Replicate), heartbeating on a
 * timer; a retry (after a lost worker, a 429 whose Retry-After is too long to wait in-process, a
 * 5xx storm) resumes the predictions / training the last attempt started and pays nothing twice.
 * A missing token, a rejected input or a failed prediction/training is permanent.
 */
export function proxyReplicateActivities(queues: Queues, heartbeatTimeout: string = '60 seconds') {
  return proxyActivities<ReplicateActivities>({
    taskQueue: queues.cpu,
    startToCloseTimeout: '12 hours',
    heartbeatTimeout,
    retry: {
      initialInterval: '5 seconds',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: 12,
      nonRetryableErrorTypes: [...nonRetryableErrorTypes, 'ReplicateMissingToken', 'ReplicateUnauthorized', 'ReplicateBadRequest'],
    },
  });
}
