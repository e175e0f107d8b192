/** Task queue names travel in workflow inputs: the config decides them, workflows cannot read it. */
export interface Queues {
  readonly cpu: string;
  readonly gpu: string;
  /**
   * How long an activity may wait for a worker to start it before its queue's pollers are checked
   * (workflows/proxies.ts). Absent in inputs recorded before it existed: the default then.
   */
  readonly scheduleToStartSeconds?: number;
}

/**
 * One hour: longer than a GPU pool autoscaling from zero takes to start its first worker (a node
 * provisioned, a multi-GB CUDA image pulled, torch imported: minutes, 20-30 when capacity is
 * scarce). Reaching it costs nothing where the queue has pollers (the activity is rescheduled);
 * where it has none, a misspelt queue is named after an hour instead of never.
 */
export const DEFAULT_SCHEDULE_TO_START_SECONDS = 3600;
