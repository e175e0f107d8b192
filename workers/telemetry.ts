/**
 * A worker process's health outputs, set up once before its first connection (the SDK's Runtime is
 * a process-wide singleton, created by the first NativeConnection): the Prometheus endpoint of the
 * Runtime's metrics — the SDK's `temporal_*` and synthmix's `synthmix_*` (lib/metrics.ts records on
 * the same meter, so one endpoint serves both) — and, with `logFormat: json`, one JSON sink for the
 * SDK's logs (also forwarded from its Rust core) and synthmix's own (lib/log.ts).
 */
import { DefaultLogger, Runtime, makeTelemetryFilterString, type RuntimeOptions } from '@temporalio/worker';
import type { SynthmixConfig } from '../temporal.config.js';
import { setLogFormat, writeLogLine, type LogAttributes } from '../lib/log.js';
import { METRIC_NAMES } from '../lib/metrics.js';

/** Engine steps last from a second (`info`) to a day (a paper-sized fine-tune): the SDK's default buckets are milliseconds. */
const STEP_SECONDS_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600];

/** The Runtime options for this config; undefined when it asks for nothing beyond the SDK's defaults. */
export function runtimeOptions(workers: SynthmixConfig['workers']): RuntimeOptions | undefined {
  const json = workers.logFormat === 'json';
  if (!json && !workers.metricsAddress) return undefined;
  return {
    ...(json ? { logger: new DefaultLogger('INFO', (entry) => writeLogLine(entry.level, entry.message, entry.meta as LogAttributes | undefined, entry.timestampNanos)) } : {}),
    telemetryOptions: {
      // JSON: the core's own logs go through the same sink instead of straight to the console.
      ...(json ? { logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} } } : {}),
      ...(workers.metricsAddress
        ? { metrics: { prometheus: { bindAddress: workers.metricsAddress, histogramBucketOverrides: { [METRIC_NAMES.seconds]: STEP_SECONDS_BUCKETS } } } }
        : {}),
    },
  };
}

/** Install the Runtime (call before the process's first NativeConnection; a second call throws). */
export function installWorkerTelemetry(config: SynthmixConfig): void {
  setLogFormat(config.workers.logFormat);
  const options = runtimeOptions(config.workers);
  if (options) Runtime.install(options);
}
