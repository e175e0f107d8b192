/**
 * Classes that cannot be fine-tuned: DreamBooth and textual inversion learn each class from k
 * (`finetune.instancesPerClass`) of its curated images, and a class curated with fewer (possible
 * with `dataset.tooFew: "all"`) has no fine-tune and so no synthetic images in those sources.
 *
 * Found right after curate, from its counts, before any GPU time is spent: the sweep generates the
 * other classes, and fails only the cells that would draw the missing images — the mixed cells of
 * those sources at p > 0. A source missing a class is not the paper's experiment (its d_total would
 * lack that class's synthetic share), so those cells fail with the reason rather than run on a
 * smaller class set; the p = 0 cells draw no synthetic image and run. Pure: used in workflows.
 */
import type { ClassCounts } from '../steps/curate.js';
import type { Cell, Source } from './cells.js';
import type { SweepConfig } from './config.js';

/** Sources whose per-class generation starts with a fine-tune on the class's k instance images. */
export function isFineTuned(source: Source): boolean {
  return source !== 'vanilla';
}

/** Classes named in one reason at most (a workflow value: bounded whatever the class count). */
const NAMED_AT_MOST = 10;

export interface ShortClasses {
  /** Classes with fewer curated train images than k, in class order. */
  classes: string[];
  /**
   * Per fine-tuned source of the sweep: why its synthetic set lacks classes (names the classes,
   * their counts and k). Absent when no class is short.
   */
  reasons: Partial<Record<Source, string>>;
}

/** The classes of a curated dataset that a fine-tune cannot learn from, and the reason per source. */
export function shortClasses(config: Pick<SweepConfig, 'sources' | 'finetune'>, classes: readonly string[], counts: Readonly<Record<string, ClassCounts>>): ShortClasses {
  const k = config.finetune.instancesPerClass;
  const short = classes.filter((name) => (counts[name]?.train ?? 0) < k);
  const reasons: Partial<Record<Source, string>> = {};
  if (short.length === 0) return { classes: [], reasons };
  const named = short
    .slice(0, NAMED_AT_MOST)
    .map((name) => `"${name}" has ${counts[name]?.train ?? 0}`)
    .join(', ');
  const more = short.length > NAMED_AT_MOST ? ` and ${short.length - NAMED_AT_MOST} more classes` : '';
  for (const source of config.sources.filter(isFineTuned)) {
    reasons[source] =
      `source ${source} has no synthetic images of ${short.length} class(es): ${named} curated training image(s)${more}, ` +
      `fewer than the k = ${k} a fine-tune learns from (finetune.instancesPerClass); its cells at p > 0 would lack them. ` +
      `Add images to those classes, lower finetune.instancesPerClass, or leave the classes out of the dataset`;
  }
  return { classes: short, reasons };
}

/** Why a cell cannot run with these short classes, or undefined: the mixed cells at p > 0 of a fine-tuned source that lacks classes. */
export function blockedCellReason(cell: Cell, reasons: Partial<Record<Source, string>> | undefined): string | undefined {
  if (cell.arm !== 'mixed' || cell.p === 0 || cell.source === 'original') return undefined;
  return reasons?.[cell.source];
}
