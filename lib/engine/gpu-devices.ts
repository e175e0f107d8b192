/**
 * Which GPUs a gpu worker pins its engines to, first match wins:
 *  1. `workers.gpuDevices` from the config (SYNTHMIX_GPU_DEVICES): `[]` means no pinning;
 *  2. the worker's own `CUDA_VISIBLE_DEVICES` (a scheduler gave it these), one slot per entry;
 *  3. `nvidia-smi -L`, when present: every GPU of the machine, by UUID (CUDA's default device
 *     order is fastest-first, not nvidia-smi's PCI order, so indices could name another GPU);
 *  4. none (a CPU machine): engines are not pinned.
 */
import { execFileSync } from 'node:child_process';

type Env = Readonly<Record<string, string | undefined>>;

export interface GpuDevices {
  devices: string[];
  /** Where the list came from, for the worker's start-up line. */
  source: 'config' | 'CUDA_VISIBLE_DEVICES' | 'nvidia-smi' | 'none';
}

/** The GPUs of `nvidia-smi -L` output ("GPU 0: NVIDIA H200 (UUID: GPU-…)"), as UUIDs; MIG lines are not GPUs. */
export function parseNvidiaSmiList(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^GPU \d+: .*\(UUID: (GPU-[0-9a-fA-F-]+)\)\s*$/.exec(line.trim());
    if (match) found.push(match[1]);
  }
  return found;
}

/** `nvidia-smi -L`'s GPUs, or [] when the tool is absent or fails (no driver: no GPUs to pin). */
export function detectNvidiaGpus(command = 'nvidia-smi'): string[] {
  try {
    return parseNvidiaSmiList(execFileSync(command, ['-L'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return [];
  }
}

export function resolveGpuDevices(options: { configured?: readonly string[]; env: Env; detect?: () => string[] }): GpuDevices {
  if (options.configured !== undefined) return { devices: [...options.configured], source: options.configured.length ? 'config' : 'none' };
  const visible = options.env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    // "" or "-1" hide every GPU from this worker: nothing to pin to.
    const devices = visible.split(',').map((d) => d.trim()).filter((d) => d !== '' && d !== '-1');
    return { devices, source: devices.length ? 'CUDA_VISIBLE_DEVICES' : 'none' };
  }
  const detected = (options.detect ?? detectNvidiaGpus)();
  return { devices: detected, source: detected.length ? 'nvidia-smi' : 'none' };
}
