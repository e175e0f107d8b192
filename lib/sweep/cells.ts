/**
 * The sweep's vocabulary (sources, init modes, samplers) and what the workflows compute from a
 * checked config: its cells, the seeds that generate, a cell's learning rate. Plain functions, no
 * schema: a workflow evaluates every module it imports once per new workflow, and the config's zod
 * schema (lib/sweep/config.ts) took ≈ 18 ms of each (a CPU profile of replayed workflows).
 * test/workflow-bundle.test.ts keeps zod out of the workflow bundle.
 */
import type { SweepConfig } from './config.js';

export const SOURCES = ['vanilla', 'dreambooth', 'textual'] as const;
export const INIT_MODES = ['scratch', 'finetune', 'frozen'] as const;
export const DEFAULT_P_VALUES = [0, 0.25, 0.5, 0.75, 1] as const;
/** Samplers by name (engine/synthmix_engine/diffusion/schedulers.py: the diffusers classes). */
export const SAMPLERS = ['ddim', 'lms', 'euler', 'dpm++2m', 'pndm'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export type Source = (typeof SOURCES)[number];
export type InitMode = (typeof INIT_MODES)[number];

/** The cells of a sweep: every (source × p × mode), plus only-original per (p < 1 × mode), per seed. */
export interface Cell {
  readonly id: string;
  readonly arm: 'mixed' | 'only-original' | 'randaugment';
  readonly source: Source | 'original';
  readonly p: number;
  readonly mode: InitMode;
  readonly seed: number;
}

/** The learning rate of a cell of `mode`: `train.lr` itself, or its entry for the mode. */
export function trainLr(lr: SweepConfig['train']['lr'], mode: InitMode): number {
  return typeof lr === 'number' ? lr : lr[mode];
}

/** The seeds that fine-tune and generate (and have their own FID): every seed at `all`, the first at `training`. */
export function generationSeeds(config: Pick<SweepConfig, 'seeds' | 'seedScope'>): number[] {
  return config.seedScope === 'all' ? [...config.seeds] : [config.seeds[0]];
}

/** The generation seed whose synthetic images a cell of `cellSeed` mixes in. */
export function generationSeedOf(config: Pick<SweepConfig, 'seeds' | 'seedScope'>, cellSeed: number): number {
  return config.seedScope === 'all' ? cellSeed : config.seeds[0];
}

export function enumerateCells(config: SweepConfig): Cell[] {
  const cells: Cell[] = [];
  for (const seed of config.seeds) {
    for (const mode of config.train.modes) {
      for (const p of config.mix.p) {
        for (const source of config.sources) {
          cells.push({ id: `${source}-p${p}-${mode}-s${seed}`, arm: 'mixed', source, p, mode, seed });
        }
        // (1−p)·d_original is empty at p = 1: the only-original arm has nothing to train on there.
        if (config.mix.onlyOriginal && p < 1) cells.push({ id: `original-p${p}-${mode}-s${seed}`, arm: 'only-original', source: 'original', p, mode, seed });
      }
      if (config.train.randAugment) cells.push({ id: `randaugment-${mode}-s${seed}`, arm: 'randaugment', source: 'original', p: 0, mode, seed });
    }
  }
  return cells;
}

/**
 * `generator.classPrompts` names classes of the dataset: one that the curated dataset does not have
 * is a typo that would silently fall back to the common templates. The problem, or undefined.
 */
export function unknownClassPromptsProblem(config: Pick<SweepConfig, 'generator'>, classes: readonly string[]): string | undefined {
  const known = new Set(classes);
  const unknown = Object.keys(config.generator.classPrompts).filter((name) => !known.has(name));
  if (unknown.length === 0) return undefined;
  return `generator.classPrompts: no class ${unknown.map((name) => JSON.stringify(name)).join(', ')} in the dataset (its classes: ${classes.join(', ')})`;
}
