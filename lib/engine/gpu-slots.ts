/**
 * One engine per GPU: a gpu worker's engine processes each hold a slot — one device — for their
 * whole life, and get `CUDA_VISIBLE_DEVICES` set to it (lib/engine/process.ts). A device is never
 * handed out twice at once; a slot is released when its engine has exited, however it ended
 * (result, failure, crash, cancellation), and an attempt cancelled while waiting takes none.
 */

export interface GpuSlot {
  /** What the engine's `CUDA_VISIBLE_DEVICES` becomes: an index or a `GPU-<uuid>`. */
  readonly device: string;
  /** Give the device back (idempotent). */
  release(): void;
}

interface Waiter {
  resolve(slot: GpuSlot): void;
  reject(reason: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class GpuSlots {
  private readonly idle: string[];
  private readonly waiters: Waiter[] = [];

  constructor(readonly devices: readonly string[]) {
    if (devices.length === 0) throw new Error('GpuSlots: no devices');
    if (new Set(devices).size !== devices.length) throw new Error(`GpuSlots: a device is listed twice in ${devices.join(',')}`);
    this.idle = [...devices];
  }

  /** Devices not held by an engine now. */
  get free(): number {
    return this.idle.length;
  }

  /** A free device, or the first one released (FIFO); rejects with the signal's reason if aborted first. */
  acquire(signal?: AbortSignal): Promise<GpuSlot> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const device = this.idle.shift();
    if (device !== undefined) return Promise.resolve(this.lease(device));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const at = this.waiters.indexOf(waiter);
          if (at !== -1) this.waiters.splice(at, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  private lease(device: string): GpuSlot {
    let held = true;
    return {
      device,
      release: () => {
        if (!held) return;
        held = false;
        this.handBack(device);
      },
    };
  }

  private handBack(device: string): void {
    const next = this.waiters.shift();
    if (!next) {
      this.idle.push(device);
      return;
    }
    if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
    next.resolve(this.lease(device));
  }
}

/** The slots of each gpu task queue served by this process (set by workers/create.ts). */
const byQueue = new Map<string, GpuSlots>();

export function registerGpuSlots(taskQueue: string, slots: GpuSlots | undefined): void {
  if (slots) byQueue.set(taskQueue, slots);
  else byQueue.delete(taskQueue);
}

/** The slots engines started for an activity of `taskQueue` take; undefined: no pinning. */
export function gpuSlotsForQueue(taskQueue: string): GpuSlots | undefined {
  return byQueue.get(taskQueue);
}
