/**
 * Render a sweep's report: pure functions from a `ReportInput` (and the sample images' bytes) to the
 * files of the report. No I/O, no clock: the same input gives the same bytes.
 *
 * Files (names relative to the report folder):
 *   index.html                          the page (inline CSS; links the files below)
 *   accuracy-<mode>.svg|.png|.vl.json   accuracy vs p per source, only-original line, baselines' lines (Figs 3–5)
 *   per-class-<mode>.svg|.png|.vl.json  per-class accuracy vs p, one panel per class (Fig 6)
 *   samples.png                         rows classes, columns original + sources (Fig 7)
 *   results.csv, results.json           every cell, every number (+ config, run metadata and the models used in the JSON)
 *   summary.csv                         every plotted point: mean, sd, 95 % t CI over seeds
 *   fid.csv, fid.json                   FID / KID per class and overall per source (Table 1)
 *   history.csv                         nightly re-evaluations (only when there are some)
 *   findings.json                       the paper's three observations: effects, 95 % intervals, verdicts
 */
import { stableStringify } from '../hash.js';
import type { TestResults } from './evaluations.js';
import { computeFindings } from './findings.js';
import { buildReportData, fidCsv, historyCsv, resultsCsv, summaryCsv, type ReportData } from './data.js';
import { referenceLines, type ReportBaselines } from './baselines.js';
import { accuracySpec, perClassSpec, renderSvg, svgToPng } from './figures.js';
import { renderHtml, type HtmlContext } from './html.js';
import type { ModelsHeader } from './models.js';
import type { StoredPrompts } from '../steps/prompts.js';
import { composeSampleGrid, MAX_SAMPLES_PER_CELL } from './samples.js';
import type { ReportInput } from './types.js';

export { buildReportData, parseCsv, type ReportData, type ResultRow, type SummaryRow } from './data.js';
export { summarize, studentTQuantile, type Summary } from './stats.js';

export interface RenderedFile {
  /** Path relative to the report folder (no leading slash). */
  readonly name: string;
  readonly contentType: string;
  readonly bytes: Buffer;
}

export interface SampleImages {
  /** Store key → image bytes. */
  readonly images: ReadonlyMap<string, Buffer>;
  /** Store key → why it could not be fetched (missing, corrupt); drawn as a placeholder. */
  readonly missing?: ReadonlyMap<string, string>;
}

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
};

function contentTypeOf(name: string): string {
  return CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

/** A mode name safe in a file name. */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The sample image keys the grid draws, in grid order, each once. */
export function sampleKeys(input: ReportInput): string[] {
  const keys = new Set<string>();
  for (const column of input.samples.columns) {
    for (const cls of input.samples.classes) {
      for (const key of (input.samples.images[column]?.[cls] ?? []).slice(0, MAX_SAMPLES_PER_CELL)) keys.add(key);
    }
  }
  return [...keys];
}

function json(value: unknown): Buffer {
  return Buffer.from(`${stableStringify(value, 2)}\n`, 'utf8');
}

/** results.json: the whole report's data, one document. */
export function resultsJson(input: ReportInput, data: ReportData, extra: { samples: unknown; files: string[]; models?: ModelsHeader; baselines?: ReportBaselines }): unknown {
  return {
    sweepId: input.sweepId,
    ...(extra.models ? { models: extra.models } : {}),
    ...(extra.baselines ? { baselines: extra.baselines } : {}),
    codeVersion: input.codeVersion,
    startedAt: input.startedAt,
    finishedAt: input.finishedAt,
    backends: input.backends,
    seeds: data.seeds,
    seedScope: data.seedScope,
    classes: data.classes,
    modes: data.modes,
    series: data.series,
    pValues: data.pValues,
    config: input.config,
    stages: input.stages,
    cells: data.rows,
    summary: data.summary,
    failed: data.failed,
    fid: data.fid,
    fidExtractors: data.extractors,
    history: input.history ?? [],
    samples: extra.samples,
    warnings: data.warnings,
    files: extra.files,
    confidence: {
      level: 0.95,
      method: 'Student t interval of the mean over seeds: mean ± t(0.975, n−1)·sd/√n; none for n = 1',
      withinRun: 'one cell (n = 1): Wilson interval of its overall accuracy (results: overallCiLow/High; summary: testCiLow/High), exact percentile bootstrap over the class\'s test images per class',
      findings: 'findings.json',
    },
  };
}

/** What the report step reads from the store besides the request (each absent in a preview or when the sweep had none). */
export interface ReportExtras {
  /** The models used (lib/report/models.ts): they head the page and go to results.json. */
  readonly models?: ModelsHeader;
  /** The LLM's prompts (§6.1): a section and prompts.json. */
  readonly prompts?: StoredPrompts;
  /** Baseline arms (§6.3 zero-shot CLIP): reference lines in Figs 3–5, a section, results.json. */
  readonly baselines?: ReportBaselines;
}

/**
 * Render every file of the report. Deterministic: same input, image bytes and extras ⇒ same files,
 * same bytes.
 */
export async function renderReport(input: ReportInput, samples: SampleImages, tests?: TestResults, extras: ReportExtras = {}): Promise<RenderedFile[]> {
  const { models, prompts, baselines } = extras;
  const data = buildReportData(input, tests);
  const findings = computeFindings(data, data.tests);
  const files = new Map<string, Buffer>();
  const epochs = input.config?.train?.epochs as Record<string, number> | undefined;

  const figures: HtmlContext['figures'] = [];
  for (const mode of data.modes) {
    const safe = fileSafe(mode);
    const names = {
      mode,
      accuracy: `accuracy-${safe}.svg`,
      accuracyPng: `accuracy-${safe}.png`,
      accuracySpec: `accuracy-${safe}.vl.json`,
      perClass: `per-class-${safe}.svg`,
      perClassPng: `per-class-${safe}.png`,
      perClassSpec: `per-class-${safe}.vl.json`,
    };
    const acc = accuracySpec(data, mode, epochs, referenceLines(baselines));
    const accSvg = await renderSvg(acc);
    files.set(names.accuracy, Buffer.from(accSvg, 'utf8'));
    files.set(names.accuracyPng, svgToPng(accSvg));
    files.set(names.accuracySpec, json(acc));
    const per = perClassSpec(data, mode, epochs);
    const perSvg = await renderSvg(per);
    files.set(names.perClass, Buffer.from(perSvg, 'utf8'));
    files.set(names.perClassPng, svgToPng(perSvg));
    files.set(names.perClassSpec, json(per));
    figures.push(names);
  }

  const grid = await composeSampleGrid(input.samples, samples.images, samples.missing ?? new Map());
  files.set('samples.png', grid.png);

  files.set('results.csv', Buffer.from(resultsCsv(data), 'utf8'));
  files.set('summary.csv', Buffer.from(summaryCsv(data), 'utf8'));
  files.set('fid.csv', Buffer.from(fidCsv(data), 'utf8'));
  files.set('fid.json', json({ sweepId: input.sweepId, extractors: data.extractors, sources: data.fidSources, rows: data.fid }));
  files.set('findings.json', json({ sweepId: input.sweepId, ...findings }));
  if (prompts) files.set('prompts.json', json({ sweepId: input.sweepId, ...prompts }));
  if (input.history && input.history.length > 0) files.set('history.csv', Buffer.from(historyCsv(input), 'utf8'));

  const listed = [...files.keys(), 'results.json'].sort();
  const samplesInfo = {
    classes: input.samples.classes,
    columns: input.samples.columns,
    images: input.samples.images,
    drawn: grid.drawn,
    problems: grid.problems,
    maxPerCell: MAX_SAMPLES_PER_CELL,
    tilePixels: grid.tile,
  };
  files.set('results.json', json(resultsJson(input, data, { samples: samplesInfo, files: ['index.html', ...listed], ...(models ? { models } : {}), ...(baselines ? { baselines } : {}) })));

  const html = renderHtml({
    input,
    data,
    findings,
    figures,
    ...(models ? { models } : {}),
    ...(prompts ? { prompts } : {}),
    ...(baselines ? { baselines } : {}),
    samples: { file: 'samples.png', problems: grid.problems, perCellMax: MAX_SAMPLES_PER_CELL },
    files: listed,
  });
  files.set('index.html', Buffer.from(html, 'utf8'));

  return [...files.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, bytes]) => ({ name, contentType: contentTypeOf(name), bytes }));
}
