/**
 * One proxyActivities block per kind of activity: timeouts and retry policies live here, not at
 * call sites. Long gpu steps heartbeat; a missed heartbeat means the worker died, so the attempt
 * is retried (on any worker) and resumes from the checkpoint named in its last heartbeat.
 * Named `proxyXActivities`: never the name of an activity factory (`createXActivities`).
 *
 * Every activity has a schedule-to-start bound (`queues.scheduleToStartSeconds`): Temporal makes a
 * task queue on first use, so a misspelt queue name (or a pool with no worker left) would otherwise
 * wait forever. When the bound passes, the queue's pollers decide (activities/queues.ts): pollers
 * seen → the pool is alive but busy, schedule the activity again; none → fail, naming the queue.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, proxyActivities } from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import type { CpuActivities, GpuActivities } from '../activities/index.js';
import type { ReplicateActivities } from '../activities/replicate.js';
import { DEFAULT_SCHEDULE_TO_START_SECONDS, type Queues } from '../lib/temporal/queues.js';

const nonRetryableErrorTypes = ['BadInput', 'NotFound', 'CorruptObject', 'EnginePermanentError', 'ConfigError'];

/** Short cpu steps (curate, mix, report): quick retries. */
export function proxyCpuActivities(queues: Queues) {
  return startBounded(
    proxyActivities<CpuActivities>({
      taskQueue: queues.cpu,
      scheduleToStartTimeout: scheduleToStart(queues),
      startToCloseTimeout: '30 minutes',
      heartbeatTimeout: '2 minutes',
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes },
    }),
    queues,
    'cpu',
  );
}

/** Heavy engine steps (finetune, generate, train, evaluate, fid): long, heartbeating, resumable. */
export function proxyGpuActivities(queues: Queues, heartbeatTimeout: string = '60 seconds') {
  return startBounded(
    proxyActivities<GpuActivities>({
      taskQueue: queues.gpu,
      scheduleToStartTimeout: scheduleToStart(queues),
      startToCloseTimeout: '12 hours',
      heartbeatTimeout,
      retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10, nonRetryableErrorTypes },
    }),
    queues,
    'gpu',
  );
}

/**
 * The Replicate generator backend (trainings, predictions): remote calls, so on the cpu queue.
 * Long (a DreamBooth training or hundreds of predictions queue on Replicate), heartbeating on a
 * timer; a retry (after a lost worker, a 429 whose Retry-After is too long to wait in-process, a
 * 5xx storm) resumes the predictions / training the last attempt started and pays nothing twice.
 * A missing token, a rejected input or a failed prediction/training is permanent.
 */
export function proxyReplicateActivities(queues: Queues, heartbeatTimeout: string = '60 seconds') {
  return startBounded(
    proxyActivities<ReplicateActivities>({
      taskQueue: queues.cpu,
      scheduleToStartTimeout: scheduleToStart(queues),
      startToCloseTimeout: '12 hours',
      heartbeatTimeout,
      retry: {
        initialInterval: '5 seconds',
        backoffCoefficient: 2,
        maximumInterval: '5 minutes',
        maximumAttempts: 12,
        nonRetryableErrorTypes: [...nonRetryableErrorTypes, 'ReplicateMissingToken', 'ReplicateUnauthorized', 'ReplicateBadRequest'],
      },
    }),
    queues,
    'cpu',
  );
}

/**
 * The LLM prompt writer (§6.1): remote calls, so on the cpu queue. Long for a cpu step (one request
 * per class × prompt, Retry-After waits of up to a minute in-process), heartbeating per request; a
 * retry (a 5xx / 429 storm that outlasted the client's own retries, a lost worker) asks again from
 * the start (nothing is stored before every class has its prompts). A missing key, a refused
 * endpoint, 401 / 403 / 404 are permanent (`LlmPromptError` non-retryable, `BadInput`).
 */
export function proxyLlmActivities(queues: Queues) {
  return startBounded(
    proxyActivities<Pick<CpuActivities, 'writeLlmPrompts'>>({
      taskQueue: queues.cpu,
      scheduleToStartTimeout: scheduleToStart(queues),
      startToCloseTimeout: '6 hours',
      heartbeatTimeout: '3 minutes',
      retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 6, nonRetryableErrorTypes },
    }),
    queues,
    'cpu',
  );
}

function scheduleToStart(queues: Queues): string {
  return `${queues.scheduleToStartSeconds ?? DEFAULT_SCHEDULE_TO_START_SECONDS} seconds`;
}

/** Did this activity call fail because no worker started it within its schedule-to-start bound? */
function notStarted(error: unknown): boolean {
  return error instanceof ActivityFailure && error.cause instanceof TimeoutFailure && error.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

/** The failure of a call nobody picked up: the queue, the config field that names it, and the fix. */
function unpolled(queues: Queues, kind: 'cpu' | 'gpu', activity: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `no worker polls task queue "${queues[kind]}" (queues.${kind}): activity ${activity} was not started within ${scheduleToStart(queues)} (queues.scheduleToStartSeconds) and the server saw no poller on the queue. ` +
      `Is the queue name the same in the config that started the sweep and in the workers', and is a ${kind} worker running (synthmix worker --queue ${kind})?`,
    'QueueNotPolled',
  );
}

/**
 * The same activities, each call rescheduled while its queue has pollers and failed (naming the
 * queue) when it has none. The check runs on the cpu queue; if that is the unpolled one, the
 * check itself is not started and the cpu queue is named.
 */
function startBounded<A extends object>(activities: A, queues: Queues, kind: 'cpu' | 'gpu'): A {
  const check = proxyActivities<Pick<CpuActivities, 'queuePollers'>>({
    taskQueue: queues.cpu,
    scheduleToStartTimeout: scheduleToStart(queues),
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
  });
  return new Proxy(activities, {
    get(target, name, receiver) {
      const call: unknown = Reflect.get(target, name, receiver);
      if (typeof call !== 'function' || typeof name !== 'string') return call;
      return async (...args: unknown[]): Promise<unknown> => {
        for (;;) {
          try {
            return await (call as (...a: unknown[]) => Promise<unknown>)(...args);
          } catch (error) {
            if (!notStarted(error)) throw error;
          }
          let pollers: string[];
          try {
            pollers = await check.queuePollers({ queue: queues[kind], type: 'activity' });
          } catch (error) {
            if (notStarted(error)) throw unpolled(queues, 'cpu', 'queuePollers');
            throw error;
          }
          if (pollers.length === 0) throw unpolled(queues, kind, name);
          // Pollers seen: the pool is alive (busy, or scaling up); wait for a free worker again.
        }
      };
    },
  });
}
