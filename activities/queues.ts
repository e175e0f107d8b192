/**
 * cpu: who polls a task queue now, for the workflows' schedule-to-start check (workflows/proxies.ts):
 * an activity that no worker started within its bound is retried when its queue has pollers (the
 * pool is alive, only busy or scaling) and fails naming the queue when it has none.
 */
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from '../lib/deps.js';
import { taskQueuePollers, type TaskQueueType } from '../lib/temporal/pollers.js';

export interface QueuePollersInput {
  queue: string;
  type: TaskQueueType;
}

export function createQueueActivities(_deps: ActivityDeps) {
  return {
    /** Identities of the workers the server saw polling the queue recently (lib/temporal/pollers.ts). */
    async queuePollers(input: QueuePollersInput): Promise<string[]> {
      // The worker's own client: its connection, namespace and credentials.
      return taskQueuePollers(Context.current().client, input.queue, input.type);
    },
  };
}
