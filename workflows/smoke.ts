import type { Queues } from '../lib/temporal/queues.js';
import { proxyCpuActivities, proxyGpuActivities } from './proxies.js';
import type { DummyTrainInput, DummyTrainResult, EngineInfo } from '../activities/smoke.js';

export interface SmokeInput {
  queues: Queues;
  message: string;
  dummy?: DummyTrainInput;
  /** Heartbeat timeout for the gpu step; short in fault tests so a dead worker is noticed fast. */
  heartbeatTimeout?: string;
}

export interface SmokeResult {
  stored: { key: string; sha256: string };
  engine: EngineInfo;
  dummy?: DummyTrainResult;
}

/** The foundation's end-to-end check: a cpu step, then gpu steps on the engine. */
export async function smoke(input: SmokeInput): Promise<SmokeResult> {
  const cpu = proxyCpuActivities(input.queues);
  const gpu = proxyGpuActivities(input.queues, input.heartbeatTimeout);
  const stored = await cpu.storeRoundTrip(input.message);
  const engine = await gpu.engineInfo();
  const dummy = input.dummy ? await gpu.dummyTrain(input.dummy) : undefined;
  return { stored, engine, dummy };
}

/** One trivial cpu activity: the unit of orchestration overhead (bench/roundtrip.ts). */
export async function roundTrip(queues: Queues, message: string): Promise<string> {
  return (await proxyCpuActivities(queues).storeRoundTrip(message)).sha256;
}

/** `count` trivial cpu activities one after another: one activity's round trip inside a running workflow (bench/roundtrip.ts). */
export async function roundTrips(queues: Queues, count: number): Promise<{ activityMs: number }> {
  const cpu = proxyCpuActivities(queues);
  let activityMs = 0;
  for (let i = 0; i < count; i += 1) activityMs += (await cpu.storeRoundTrip(`round-trip-${i}`)).wallMs;
  return { activityMs };
}
