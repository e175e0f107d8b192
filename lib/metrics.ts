/**
 * synthmix's own metrics, on the SDK's metric meter: inside an activity `Context.current().metricMeter`
 * (tagged by the SDK with namespace, task queue and activity type) feeds the worker Runtime's
 * exporter, so they are scraped from the same Prometheus endpoint as the SDK's `temporal_*` metrics
 * (workers/telemetry.ts). Without an exporter the SDK's meter drops them: recording is always safe.
 */
import type { MetricMeter } from '@temporalio/common';
import { activityContext } from './deps.js';

/** How an engine step ended (lib/engine/runner.ts). */
export type EngineOutcome = 'ok' | 'permanent' | 'transient' | 'preempted' | 'cancelled' | 'crashed';

export interface EngineMetrics {
  started(command: string): void;
  /** The step's end: `synthmix_engine_step_seconds`, and a failed / preempted count when it did not succeed. */
  ended(command: string, outcome: EngineOutcome, seconds: number): void;
  /** The engine's own rate from a progress event (generate: images written; train: images seen). */
  imagesPerSecond(command: string, value: number): void;
  imagesGenerated(count: number): void;
}

/** The metric names (the README's Health section lists them). */
export const METRIC_NAMES = {
  started: 'synthmix_engine_steps_started',
  failed: 'synthmix_engine_steps_failed',
  preempted: 'synthmix_engine_steps_preempted',
  seconds: 'synthmix_engine_step_seconds',
  imagesPerSecond: 'synthmix_engine_images_per_second',
  imagesGenerated: 'synthmix_images_generated',
} as const;

export function engineMetrics(meter: MetricMeter): EngineMetrics {
  const started = meter.createCounter(METRIC_NAMES.started, undefined, 'Engine steps (processes) started');
  const failed = meter.createCounter(METRIC_NAMES.failed, undefined, 'Engine steps that failed (kind: permanent, transient, crashed)');
  const preempted = meter.createCounter(METRIC_NAMES.preempted, undefined, 'Engine steps stopped by SIGTERM after writing a checkpoint');
  const seconds = meter.createHistogram(METRIC_NAMES.seconds, 'float', 's', 'Wall time of an engine step, by command and outcome');
  const rate = meter.createGauge(METRIC_NAMES.imagesPerSecond, 'float', '1/s', "The engine's last reported images per second, by command");
  const images = meter.createCounter(METRIC_NAMES.imagesGenerated, undefined, 'Synthetic images generated and stored');
  return {
    started: (command) => started.add(1, { command }),
    ended: (command, outcome, s) => {
      seconds.record(s, { command, outcome });
      if (outcome === 'preempted') preempted.add(1, { command });
      else if (outcome === 'permanent' || outcome === 'transient' || outcome === 'crashed') failed.add(1, { command, kind: outcome });
    },
    imagesPerSecond: (command, value) => rate.set(value, { command }),
    imagesGenerated: (count) => images.add(count),
  };
}

/** The metrics of the current activity (its SDK meter), or undefined outside one (tests, the CLI). */
export function activityMetrics(): EngineMetrics | undefined {
  const ctx = activityContext();
  return ctx ? engineMetrics(ctx.metricMeter) : undefined;
}
