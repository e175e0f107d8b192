/**
 * The baseline arms of a sweep (`baselines` in the config): pure builders of their step inputs and
 * prompts, shared by the sweep workflow, the activity and tests.
 */
import type { ManifestRef } from '../data/manifest.js';
import { displayName, fillTemplate } from '../prompts/templates.js';
import type { ClipZeroShotInput } from '../steps/baselines.js';
import type { SweepConfig } from './config.js';

/** The config field that names the CLIP folder: errors and `synthmix plan` name it. */
export const CLIP_MODEL_FIELD = 'baselines.clipZeroShot.modelPrefix';

/** The clip-zero-shot input of a sweep, or undefined when the config asks for no such arm. */
export function clipZeroShotInput(config: SweepConfig, test: ManifestRef, classes: string[]): ClipZeroShotInput | undefined {
  const clip = config.baselines?.clipZeroShot;
  if (!clip) return undefined;
  // The generator's templates: CLIP reads the class as the generator was asked to draw it (§6.3).
  return { test, classes, modelPrefix: clip.modelPrefix, templates: [...config.generator.templates], batchSize: clip.batchSize };
}

/** Per class, its prompts: every template filled with the class's words (`sea_turtle` → `sea turtle`). */
export function clipPrompts(classes: readonly string[], templates: readonly string[]): Record<string, string[]> {
  return Object.fromEntries(classes.map((name) => [name, templates.map((template) => fillTemplate(template, displayName(name)))]));
}
