/**
 * Who polls a task queue, as the Temporal server saw it (`DescribeTaskQueue`): the CLI's pre-flight
 * before it starts a sweep, and the workflows' check when an activity was not started within its
 * schedule-to-start bound (activities/queues.ts). A misspelt queue name otherwise waits forever:
 * Temporal creates a task queue on first use, so nothing ever refuses the name.
 *
 * The server lists the pollers it saw within the last few minutes (its poller history TTL, 5 min
 * by default). A worker with every slot busy does not poll: a fully busy pool can look unpolled.
 */
import type { Client } from '@temporalio/client';
import type { Queues } from './queues.js';

/** What a queue is polled for: workflow tasks (the cpu worker) or activity tasks (cpu and gpu workers). */
export type TaskQueueType = 'workflow' | 'activity';

/** temporal.api.enums.v1 values (the proto package is not a direct dependency of this project). */
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

/** Identities of the workers the server saw polling `queue` for this type of task recently. */
export async function taskQueuePollers(client: Client, queue: string, type: TaskQueueType): Promise<string[]> {
  const described = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TASK_QUEUE_TYPE[type],
  });
  return (described.pollers ?? []).map((p) => p.identity ?? '(unnamed worker)');
}

/** One queue a sweep needs, with what it is polled for and the config field that names it. */
export interface NeededQueue {
  name: string;
  type: TaskQueueType;
  /** `queues.cpu` / `queues.gpu`: where to fix a misspelt name. */
  field: string;
  /** The command that starts a worker for it. */
  worker: string;
}

/** Every (queue, task type) a sweep uses: workflows and cpu activities on queues.cpu, engine steps on queues.gpu. */
export function sweepQueues(queues: Queues): NeededQueue[] {
  return [
    { name: queues.cpu, type: 'workflow', field: 'queues.cpu', worker: 'synthmix worker --queue cpu' },
    { name: queues.cpu, type: 'activity', field: 'queues.cpu', worker: 'synthmix worker --queue cpu' },
    { name: queues.gpu, type: 'activity', field: 'queues.gpu', worker: 'synthmix worker --queue gpu' },
  ];
}

/**
 * The needed queues no worker polls, each as one line naming the queue, its field and the fix.
 * A queue without pollers is asked again for up to `waitMs`: a worker started a moment ago (a
 * script that starts workers, then the sweep) may not have sent its first poll yet.
 */
export async function unpolledQueues(client: Client, needed: readonly NeededQueue[], waitMs = 5000): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  let missing = [...needed];
  for (;;) {
    const polled = await Promise.all(missing.map(async (q) => (await taskQueuePollers(client, q.name, q.type)).length > 0));
    missing = missing.filter((_, i) => !polled[i]);
    if (missing.length === 0 || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return missing.map((q) => `no worker polls task queue "${q.name}" (${q.field}) for ${q.type} tasks: is the name the workers' too, and is one running (${q.worker})?`);
}
