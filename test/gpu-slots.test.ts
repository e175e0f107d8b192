/**
 * Several GPUs per machine, tested on CPU through the environment each engine receives: engines
 * run through a wrapper "python" that records the CUDA_VISIBLE_DEVICES it was started with and
 * holds a per-device lock directory while the real engine runs, so two engines on one device at
 * once leave a record. Slots come back after results, permanent errors, crashes and cancellation.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load.js';
import { runEngineProcess, type EngineOutcome } from '../lib/engine/process.js';
import type { EngineEvent } from '../lib/engine/events.js';
import { GpuSlots } from '../lib/engine/gpu-slots.js';
import { detectNvidiaGpus, parseNvidiaSmiList, resolveGpuDevices } from '../lib/engine/gpu-devices.js';
import { gpuDevicesOf } from '../workers/create.js';

const python = loadConfig({ env: {} }).engine.python;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-gpu-slots-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A "python" that logs the device it was given and holds `held-<device>` while the engine runs. */
function recordingPython(name: string): { python: string; log: string; seen(): string[]; clashes(): string[] } {
  const log = mkdtempSync(path.join(tmp, `${name}-log-`));
  const wrapper = path.join(log, 'python');
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      // SIGTERM is for the engine (the runner signals the whole group): the wrapper outlives it to unlock.
      "trap '' TERM",
      'dev="${CUDA_VISIBLE_DEVICES-unset}"',
      `echo "$dev" >> '${log}/seen'`,
      // The warm forkserver: exec, so it stays the worker's direct child (and dies with it).
      `[ "$2" = synthmix_engine.forkserver ] && exec '${python}' "$@"`,
      `mkdir '${log}/held-'"$dev" 2>/dev/null || echo "$dev" >> '${log}/clash'`,
      `'${python}' "$@"`,
      'rc=$?',
      `rmdir '${log}/held-'"$dev" 2>/dev/null`,
      'exit $rc',
      '',
    ].join('\n'),
  );
  chmodSync(wrapper, 0o755);
  const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
  return { python: wrapper, log, seen: () => lines(path.join(log, 'seen')), clashes: () => lines(path.join(log, 'clash')) };
}

async function engine(options: { python: string; slots: GpuSlots; warm: boolean; params: Record<string, unknown>; signal?: AbortSignal; events?: EngineEvent[] }): Promise<EngineOutcome> {
  const workDir = mkdtempSync(path.join(tmp, 'work-'));
  return runEngineProcess({
    python: options.python,
    command: 'dummy-train',
    warm: options.warm,
    gpuSlots: options.slots,
    spec: { workDir, resumeFrom: null, params: options.params, inputs: {} },
    ...(options.events ? { onEvent: (e: EngineEvent) => void options.events?.push(e) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

describe('GpuSlots', () => {
  it('never hands out one device twice; releases go to waiters in order; release is idempotent', async () => {
    const slots = new GpuSlots(['0', '1']);
    const a = await slots.acquire();
    const b = await slots.acquire();
    expect([a.device, b.device].sort()).toEqual(['0', '1']);
    expect(slots.free).toBe(0);
    const order: string[] = [];
    const c = slots.acquire().then((s) => (order.push(`c:${s.device}`), s));
    const d = slots.acquire().then((s) => (order.push(`d:${s.device}`), s));
    b.release();
    b.release(); // a second release must not free the device again
    const cSlot = await c;
    expect(cSlot.device).toBe(b.device);
    expect(slots.free).toBe(0);
    a.release();
    const dSlot = await d;
    expect(order).toEqual([`c:${b.device}`, `d:${a.device}`]);
    cSlot.release();
    dSlot.release();
    expect(slots.free).toBe(2);
  });

  it('an attempt cancelled while waiting takes no device', async () => {
    const slots = new GpuSlots(['GPU-a']);
    const held = await slots.acquire();
    const abort = new AbortController();
    const waiting = slots.acquire(abort.signal);
    abort.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    held.release();
    expect(slots.free).toBe(1);
    await expect(slots.acquire(abort.signal)).rejects.toThrow('cancelled');
    expect(slots.free).toBe(1);
  });

  it('refuses an empty or repeated device list', () => {
    expect(() => new GpuSlots([])).toThrow(/no devices/);
    expect(() => new GpuSlots(['0', '0'])).toThrow(/listed twice/);
  });
});

describe('which GPUs a gpu worker pins', () => {
  const smi = [
    'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5f0c6a4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f)',
    '  MIG 3g.40gb     Device  0: (UUID: MIG-0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0)',
    'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-6a1d7b5f-2e3c-4d4b-8f90-1b2c3d4e5f60)',
    '',
  ].join('\n');

  it('reads the GPUs of nvidia-smi -L by UUID, not MIG instances', () => {
    expect(parseNvidiaSmiList(smi)).toEqual(['GPU-5f0c6a4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f', 'GPU-6a1d7b5f-2e3c-4d4b-8f90-1b2c3d4e5f60']);
  });

  it('config first, then the worker’s CUDA_VISIBLE_DEVICES, then detection, else none', () => {
    const detect = () => ['GPU-x', 'GPU-y'];
    expect(resolveGpuDevices({ configured: ['2', '3'], env: { CUDA_VISIBLE_DEVICES: '0' }, detect })).toEqual({ devices: ['2', '3'], source: 'config' });
    expect(resolveGpuDevices({ configured: [], env: {}, detect })).toEqual({ devices: [], source: 'none' });
    expect(resolveGpuDevices({ env: { CUDA_VISIBLE_DEVICES: '4, 5' }, detect })).toEqual({ devices: ['4', '5'], source: 'CUDA_VISIBLE_DEVICES' });
    expect(resolveGpuDevices({ env: { CUDA_VISIBLE_DEVICES: '' }, detect })).toEqual({ devices: [], source: 'none' });
    expect(resolveGpuDevices({ env: {}, detect })).toEqual({ devices: ['GPU-x', 'GPU-y'], source: 'nvidia-smi' });
    expect(resolveGpuDevices({ env: {}, detect: () => [] })).toEqual({ devices: [], source: 'none' });
    // No nvidia-smi (this CPU machine, or a path that does not exist): no GPUs, no error.
    expect(detectNvidiaGpus(path.join(tmp, 'no-such-nvidia-smi'))).toEqual([]);
  });

  it('takes workers.gpuDevices from the config and SYNTHMIX_GPU_DEVICES', () => {
    const config = loadConfig({ env: { SYNTHMIX_GPU_DEVICES: '0,1,2' } });
    expect(config.workers.gpuDevices).toEqual(['0', '1', '2']);
    expect(gpuDevicesOf(config, {})).toEqual({ devices: ['0', '1', '2'], source: 'config' });
    expect(() => loadConfig({ env: {}, overrides: { workers: { gpuDevices: [''] } } })).toThrow(/workers\.gpuDevices\.0/);
  });
});

describe.each([false, true])('engines pinned one per GPU (warm: %s)', (warm) => {
  it('each engine sees exactly one device, never one another engine holds, and every slot comes back', async () => {
    const recorder = recordingPython(`pinned-${warm}`);
    const slots = new GpuSlots(['0', '1']);
    // Four engines for two devices: two wait for a device, and each run overlaps another.
    const outcomes = await Promise.all(
      [0, 1, 2, 3].map(() => engine({ python: recorder.python, slots, warm, params: { steps: 3, stepSeconds: 0.2 } })),
    );
    expect(outcomes.map((o) => o.kind)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(slots.free).toBe(2);
    if (!warm) {
      // Spawned: the wrapper runs once per engine, in the engine's own environment.
      expect(recorder.seen().sort()).toEqual(['0', '0', '1', '1']);
    } else {
      // Forked: one forkserver per device, started with that device (CUDA_* keys the warm engine),
      // its children getting the same value in their request's env.
      expect(recorder.seen().sort()).toEqual(['0', '1']);
    }
    expect(recorder.clashes()).toEqual([]);
  });

});

// The slot is released in one place for both launch kinds (runEngineProcess's finally, after the
// exit): checked where it is cheap, spawned — the warm case would start another forkserver.
describe('a GPU slot comes back', () => {
  const warm = false;
  it('after a permanent error, a crash and a cancellation', async () => {
    const recorder = recordingPython('release');
    const slots = new GpuSlots(['GPU-only']);
    expect((await engine({ python: recorder.python, slots, warm, params: { steps: 4, failAt: 1 } })).kind).toBe('permanent');
    expect(slots.free).toBe(1);
    expect((await engine({ python: recorder.python, slots, warm, params: { steps: 4, crashAt: 1 } })).kind).toBe('crashed');
    expect(slots.free).toBe(1);

    const abort = new AbortController();
    const events: EngineEvent[] = [];
    const running = engine({ python: recorder.python, slots, warm, params: { steps: 10_000, stepSeconds: 0.05, checkpointEvery: 10 }, signal: abort.signal, events });
    // Cancelled while waiting for the busy device: returns at once, holding nothing.
    const waiterAbort = new AbortController();
    const waiter = engine({ python: recorder.python, slots, warm, params: { steps: 1 }, signal: waiterAbort.signal });
    waiterAbort.abort();
    expect(await waiter).toMatchObject({ kind: 'preempted', aborted: true });
    for (let i = 0; i < 600 && !events.some((e) => e.event === 'progress'); i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(slots.free).toBe(0);
    abort.abort();
    expect((await running).kind).toBe('preempted');
    expect(slots.free).toBe(1);
    expect(recorder.seen().every((device) => device === 'GPU-only')).toBe(true);
    expect(recorder.clashes()).toEqual([]);
  });
});
