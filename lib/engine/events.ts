/** The engine's JSON-lines events (engine/synthmix_engine/protocol.py is the other half). */
export interface ProgressEvent {
  event: 'progress';
  stage: string;
  step: number;
  total: number;
  [metric: string]: unknown;
}
export interface CheckpointEvent {
  event: 'checkpoint';
  path: string;
  step: number;
}
export interface ArtifactEvent {
  event: 'artifact';
  path: string;
  [meta: string]: unknown;
}
export interface ResultEvent {
  event: 'result';
  outputs: Record<string, string>;
  summary: Record<string, unknown>;
}
export interface ErrorEvent {
  event: 'error';
  kind: 'permanent' | 'transient';
  message: string;
}
export type EngineEvent = ProgressEvent | CheckpointEvent | ArtifactEvent | ResultEvent | ErrorEvent;

/** Exit codes of `python -m synthmix_engine` (protocol.py). */
export const ENGINE_EXIT = { ok: 0, permanent: 3, transient: 4, preempted: 143 } as const;

export function parseEngineLine(line: string): EngineEvent | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(trimmed) as { event?: unknown };
    if (typeof value.event !== 'string') return undefined;
    return value as EngineEvent;
  } catch {
    return undefined;
  }
}

/** What a long activity heartbeats, so a retried attempt on any worker can resume. */
export interface EngineHeartbeat {
  checkpointKey?: string;
  checkpointStep?: number;
  progress?: ProgressEvent;
  /** Activity-specific state (e.g. ids of remote predictions already started). */
  extra?: Record<string, unknown>;
}
