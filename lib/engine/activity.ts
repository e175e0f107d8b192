import { Context } from '@temporalio/activity';
import type { ArtifactStore } from '../store/types.js';
import type { SynthmixConfig } from '../../temporal.config.js';
import type { EngineHeartbeat } from './events.js';
import { gpuSlotsForQueue } from './gpu-slots.js';
import { EngineRunner, type ActivityHooks, type EngineRequest, type EngineResult } from './runner.js';
import { engineMetrics } from '../metrics.js';

/** The hooks of the current Temporal activity: heartbeats, its last heartbeat, its cancellation. */
export function currentActivityHooks(): ActivityHooks {
  const context = Context.current();
  const info = context.info;
  return {
    heartbeat: (details: EngineHeartbeat) => context.heartbeat(details),
    lastHeartbeat: () => info.heartbeatDetails as EngineHeartbeat | undefined,
    cancellation: context.cancellationSignal,
    metrics: engineMetrics(context.metricMeter),
    workerShutdown: () => context.cancellationDetails?.workerShutdown ?? false,
    attemptId: `${info.workflowExecution?.workflowId ?? "standalone"}-${info.activityId}-a${info.attempt}`,
    ...(info.heartbeatTimeoutMs ? { heartbeatTimeoutMs: info.heartbeatTimeoutMs } : {}),
    // Only activities of a gpu queue whose worker pins GPUs get slots (workers/create.ts).
    ...withGpuSlots(info.taskQueue),
  };
}

function withGpuSlots(taskQueue: string): Pick<ActivityHooks, 'gpuSlots'> {
  const gpuSlots = gpuSlotsForQueue(taskQueue);
  return gpuSlots ? { gpuSlots } : {};
}

/** Run an engine command from inside an activity (the usual way gpu activities use the engine). */
export function runEngine(
  store: ArtifactStore,
  engine: SynthmixConfig['engine'],
  request: EngineRequest,
): Promise<EngineResult> {
  return new EngineRunner(store, engine).run(request, currentActivityHooks());
}
