import type { ArtifactStore } from './store/types.js';
import { hashJson } from './hash.js';

/**
 * Bumped when a step's code changes what it computes: part of every output key, so old outputs
 * are not reused by new code. One entry per step.
 */
export const CODE_VERSIONS = {
  curate: '1',
  mix: '1',
  'pretrain-classifier': '1',
  'pretrain-generator': '1',
  finetune: '1',
  generate: '1',
  'replicate-finetune': '1',
  'replicate-generate': '1',
  'extract-features': '1',
  fid: '1',
  train: '1',
  evaluate: '1',
  report: '1',
  're-evaluate': '1',
} as const;

export type StepName = keyof typeof CODE_VERSIONS;

/** Where a step's outputs for these inputs live: `steps/<step>/<hash of inputs + code version>/`. */
export function stepPrefix(step: StepName, inputs: unknown): string {
  return `steps/${step}/${hashJson({ step, codeVersion: CODE_VERSIONS[step], inputs })}`;
}

export interface Memoized<T> {
  /** The step's result (what the workflow sees). */
  value: T;
  /** False when an earlier complete run's result was returned without recomputing. */
  computed: boolean;
  /** The step's output prefix in the store. */
  prefix: string;
}

/**
 * Run `compute` once per distinct (step, inputs): its result is written last, as the completion
 * marker, to `<prefix>/result.json`; a later call with the same inputs returns it at once.
 * Outputs written under the prefix by an interrupted attempt are simply overwritten.
 */
export async function memoize<T>(
  store: ArtifactStore,
  step: StepName,
  inputs: unknown,
  compute: (prefix: string) => Promise<T>,
): Promise<Memoized<T>> {
  const prefix = stepPrefix(step, inputs);
  const marker = `${prefix}/result.json`;
  if (await store.exists(marker)) return { value: await store.getJson<T>(marker), computed: false, prefix };
  const value = await compute(prefix);
  await store.putJson(marker, value);
  return { value, computed: true, prefix };
}
