/**
 * demoWorld: draw the embedded demo world (lib/data/demo-world.ts) and put it in the artifact store,
 * so that curate — on any worker, any machine — reads it as store prefixes:
 *   <prefix>/<worldId>/prior/<class>/<n>.png
 *   <prefix>/<worldId>/target/train/<class>/<n>.png
 *   <prefix>/<worldId>/target/test/<class>/<n>.png
 *   <prefix>/<worldId>/world.json        (written last: the completion marker)
 * Memoized by the world id (version, preset, seed, size): a complete upload is returned as is.
 * For local use without a store, call `writeDemoWorld(outDir, options)` directly.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { BadInputError } from '../lib/errors.js';
import { stableStringify } from '../lib/hash.js';
import {
  checkDemoWorldOptions,
  DEMO_PRESET_CLASSES,
  DEMO_PRESETS,
  demoWorldId,
  writeDemoWorld,
  type DemoPreset,
  type DemoPresetSizes,
} from '../lib/data/demo-world.js';
import { mapLimit } from '../lib/concurrency.js';
import type { DatasetSource } from '../lib/data/source.js';
import type { ArtifactStore } from '../lib/store/types.js';

export { writeDemoWorld } from '../lib/data/demo-world.js';

export interface DemoWorldInput {
  readonly preset: DemoPreset;
  readonly seed: number;
  /** Default 32. */
  readonly imageSize?: number;
  /** Store prefix (default `demo-world`). */
  readonly prefix?: string;
}

export interface DemoWorldResult {
  readonly id: string;
  readonly preset: DemoPreset;
  readonly seed: number;
  readonly imageSize: number;
  readonly classes: string[];
  readonly sizes: DemoPresetSizes;
  /** Dataset sources for curate: the prior domain, the target train set, the target test set. */
  readonly sources: { readonly prior: DatasetSource; readonly train: DatasetSource; readonly test: DatasetSource };
  readonly reused: boolean;
}

async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

/** Draw the demo world into a temp dir and upload it (see the module comment). */
export async function demoWorld(input: DemoWorldInput, deps: { store: ArtifactStore; onProgress?: (done: number, total: number) => void }): Promise<DemoWorldResult> {
  let opts;
  try {
    opts = checkDemoWorldOptions({ preset: input?.preset, seed: input?.seed, imageSize: input?.imageSize });
  } catch (error) {
    throw new BadInputError(error instanceof Error ? error.message : String(error));
  }
  const prefix = (input.prefix ?? 'demo-world').replace(/\/+$/, '');
  if (prefix === '' || prefix.startsWith('/') || prefix.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new BadInputError(`demoWorld: prefix ${JSON.stringify(input.prefix)} is not a safe store prefix`);
  }
  const sizes = DEMO_PRESETS[opts.preset];
  const id = demoWorldId(opts);
  const base = `${prefix}/${id}`;
  const result = (reused: boolean): DemoWorldResult => ({
    id,
    preset: opts.preset,
    seed: opts.seed,
    imageSize: opts.imageSize,
    classes: [...DEMO_PRESET_CLASSES[opts.preset]],
    sizes,
    sources: { prior: { kind: 'store', prefix: `${base}/prior` }, train: { kind: 'store', prefix: `${base}/target/train` }, test: { kind: 'store', prefix: `${base}/target/test` } },
    reused,
  });
  if (await deps.store.exists(`${base}/world.json`)) return result(true);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'synthmix-demo-world-'));
  try {
    const info = await writeDemoWorld(dir, opts);
    const files = (await listFiles(dir)).filter((f) => f !== 'world.json');
    let done = 0;
    await mapLimit(files, 8, async (rel) => {
      await deps.store.putFile(`${base}/${rel}`, path.join(dir, rel), { contentType: 'image/png' });
      deps.onProgress?.(++done, files.length);
    });
    await deps.store.put(`${base}/world.json`, `${stableStringify({ ...info, roots: undefined, reused: undefined }, 2)}\n`, { contentType: 'application/json' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return result(false);
}

export interface DemoWorldActivities {
  demoWorld(input: DemoWorldInput): Promise<DemoWorldResult>;
}

/** Activities for a worker; heartbeats upload progress when run inside an activity. */
export function createDemoWorldActivities(store: ArtifactStore): DemoWorldActivities {
  return {
    async demoWorld(input: DemoWorldInput): Promise<DemoWorldResult> {
      let ctx: Context | undefined;
      try {
        ctx = Context.current();
      } catch {
        ctx = undefined;
      }
      let last = 0;
      return demoWorld(input, {
        store,
        onProgress: ctx
          ? (done, total) => {
              const now = Date.now();
              if (done === total || now - last >= 2000) {
                last = now;
                ctx.heartbeat({ done, total });
              }
            }
          : undefined,
      });
    },
  };
}
