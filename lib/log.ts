/**
 * The one logger of synthmix's own code (workers, activities, the engine runner). Inside an
 * activity it logs through the SDK's activity logger (`Context.current().log`), which adds the
 * activity's attributes (type, attempt, workflow id); elsewhere it writes itself. With
 * `workers.logFormat: json` (SYNTHMIX_LOG_FORMAT=json) the worker's Runtime logger and this module
 * share one sink, `writeLogLine`: one JSON object per line, with `sweepId` / `cellId` / `source` /
 * `className` read from the workflow id, so a log collector can follow one sweep or one cell.
 */
import { activityContext } from './deps.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
export type LogAttributes = Record<string, unknown>;

let format: LogFormat = 'text';

/** Set once at a worker's start (workers/telemetry.ts). */
export function setLogFormat(value: LogFormat): void {
  format = value;
}

/**
 * Which part of a sweep a workflow id names (workflows/sweep.ts names its children):
 * `<sweep>`, `<sweep>/<cell>`, `<sweep>/cells/page-N`, `<sweep>/generate/s<seed>/<source>/<class or page-N>`.
 */
export function sweepPartOf(workflowId: string): { sweepId: string; cellId?: string; source?: string; className?: string; seed?: number } {
  const [sweepId, second, ...rest] = workflowId.split('/');
  if (second === undefined || second === 'cells') return { sweepId };
  if (second === 'generate') {
    // `<sweep>/generate/s<seed>/<source>/<class | page-N>` (workflows/class-images.ts classImagesWorkflowId).
    const seeded = /^s(\d+)$/.exec(rest[0] ?? '');
    const [source, item] = seeded ? rest.slice(1) : rest;
    return {
      sweepId,
      ...(seeded ? { seed: Number(seeded[1]) } : {}),
      ...(source ? { source } : {}),
      ...(item && !/^page-\d+$/.test(item) ? { className: item } : {}),
    };
  }
  return { sweepId, cellId: second };
}

/**
 * One JSON log line. The SDK's activity attributes are renamed to the fields a pool operator
 * filters on (`activity`, `attempt`, `sweepId`, `cellId`); the task token is dropped: it completes
 * the activity on anyone's behalf, so it does not belong in a log store.
 */
export function formatJsonLine(level: LogLevel, message: string, meta: LogAttributes | undefined, timeMs: number): string {
  const { taskToken: _token, activityType, workflowId, ...rest } = meta ?? {};
  return JSON.stringify({
    time: new Date(timeMs).toISOString(),
    level,
    message,
    ...(typeof workflowId === 'string' ? { ...sweepPartOf(workflowId), workflowId } : {}),
    ...(typeof activityType === 'string' ? { activity: activityType } : {}),
    ...rest,
  });
}

/** The sink of JSON logs: this module's and the worker Runtime's (SDK and activity logs). */
export function writeLogLine(level: LogLevel, message: string, meta?: LogAttributes, timestampNanos?: bigint): void {
  const timeMs = timestampNanos === undefined ? Date.now() : Number(timestampNanos / 1_000_000n);
  process.stdout.write(`${formatJsonLine(level, message, meta, timeMs)}\n`);
}

function write(level: LogLevel, message: string, attributes?: LogAttributes): void {
  const ctx = activityContext();
  if (ctx) {
    // The SDK adds the activity's attributes and hands it to the Runtime logger (JSON when asked).
    const sdk = ctx.log;
    const method = level === 'ERROR' ? sdk.error : level === 'WARN' ? sdk.warn : sdk.info;
    method.call(sdk, message, attributes);
    return;
  }
  if (format === 'json') return writeLogLine(level, message, attributes);
  const text = attributes && Object.keys(attributes).length > 0 ? `${message} ${JSON.stringify(attributes)}` : message;
  if (level === 'WARN' || level === 'ERROR') console.warn(text);
  else console.log(text);
}

export const log = {
  info: (message: string, attributes?: LogAttributes) => write('INFO', message, attributes),
  warn: (message: string, attributes?: LogAttributes) => write('WARN', message, attributes),
  error: (message: string, attributes?: LogAttributes) => write('ERROR', message, attributes),
  /**
   * A record for log collectors only (JSON logs), e.g. each engine step's start and end: a sweep
   * runs hundreds of steps, and on a console a person reads (the demo) two lines each would bury
   * everything else; a failed step is reported there already (the SDK's "Activity failed").
   */
  record: (level: 'INFO' | 'WARN', message: string, attributes?: LogAttributes) => {
    if (format === 'json') write(level, message, attributes);
  },
};
