/**
 * The baseline arms in the report (§6.3 zero-shot CLIP): read from their stored evaluations at
 * report time (`resolveBaselines`), drawn as labelled horizontal reference lines in the accuracy
 * figures (Figs 3–5, `referenceLines`) and listed per class (`baselinesHtml`).
 */
import { evaluationFileSchema, parseEngineOutput } from '../engine/results.js';
import type { ArtifactStore } from '../store/types.js';
import type { ReportInput } from './types.js';

/** The label of the CLIP line in the figures and of its table. */
export const CLIP_ZERO_SHOT_LABEL = 'CLIP zero-shot';

export interface BaselineClassRow {
  className: string;
  correct: number | null;
  total: number | null;
  accuracy: number;
}

/** One baseline as the report shows it. */
export interface ResolvedBaseline {
  label: string;
  /** Where the model came from (a store prefix). */
  model: string;
  overallAccuracy: number;
  testImages: number | null;
  /** In the report's class order. */
  perClass: BaselineClassRow[];
  evaluationKey: string;
}

export interface ReportBaselines {
  clipZeroShot?: ResolvedBaseline;
}

/** A horizontal line across an accuracy figure. */
export interface ReferenceLine {
  label: string;
  accuracy: number;
}

/** Read each baseline's stored evaluation (evaluate-classifier's shape); undefined when the sweep had none. */
export async function resolveBaselines(store: ArtifactStore, input: ReportInput): Promise<ReportBaselines | undefined> {
  const clip = input.baselines?.clipZeroShot;
  if (!clip) return undefined;
  const stored = parseEngineOutput('clip-zero-shot', clip.evaluationKey, evaluationFileSchema, await store.getJson<unknown>(clip.evaluationKey));
  const perClass = input.classes.map((className): BaselineClassRow => {
    const row = stored.perClass[className];
    return { className, correct: row?.correct ?? null, total: row?.total ?? null, accuracy: row?.accuracy ?? Number.NaN };
  });
  const totals = perClass.map((r) => r.total);
  return {
    clipZeroShot: {
      label: CLIP_ZERO_SHOT_LABEL,
      model: clip.modelPrefix,
      overallAccuracy: stored.overallAccuracy,
      testImages: totals.every((t): t is number => t !== null) ? totals.reduce((a, b) => a + b, 0) : null,
      perClass,
      evaluationKey: clip.evaluationKey,
    },
  };
}

/** The lines the accuracy figures draw: one per baseline that has an overall accuracy. */
export function referenceLines(baselines: ReportBaselines | undefined): ReferenceLine[] {
  const clip = baselines?.clipZeroShot;
  return clip ? [{ label: clip.label, accuracy: clip.overallAccuracy }] : [];
}

function escapeHtml(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function percent(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '—';
}

/** The baselines section: what each is, its overall accuracy and a row per class. */
export function baselinesHtml(baselines: ReportBaselines): string {
  const clip = baselines.clipZeroShot;
  if (!clip) return '';
  const rows = clip.perClass.map(
    (r) => `<tr><td class="l">${escapeHtml(r.className)}</td><td>${percent(r.accuracy)}</td><td>${r.correct ?? '—'} / ${r.total ?? '—'}</td></tr>`,
  );
  return [
    `<h2 id="baselines">Baselines: ${escapeHtml(clip.label)} (paper §6.3)</h2>`,
    `<p>The test set classified by a CLIP model with no training on it (prompts: the generator's templates with each class's words; a class's text embedding is the mean over its prompts). ` +
      `Model <code>${escapeHtml(clip.model)}</code>; overall accuracy <b>${percent(clip.overallAccuracy)}</b>${clip.testImages !== null ? ` on ${clip.testImages} test images` : ''}, ` +
      `drawn as the “${escapeHtml(clip.label)}” line in the accuracy figures. Predictions per image: <code>${escapeHtml(clip.evaluationKey)}</code>.</p>`,
    '<table>',
    '<tr><th class="l">class</th><th>accuracy</th><th>correct / total</th></tr>',
    `<tr><td class="l"><b>overall</b></td><td><b>${percent(clip.overallAccuracy)}</b></td><td></td></tr>`,
    ...rows,
    '</table>',
  ].join('\n');
}
