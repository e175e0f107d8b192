// One module: every table of the report is built here in one pass, so each number has one source.
/**
 * The numbers of a report, as tables: one row per cell (results.csv/json), one row per plotted point
 * (mean and CI over seeds, summary.csv), FID rows and the re-evaluation history. Every number any
 * figure or table of the report shows comes from here, so the CSV/JSON files hold all of them.
 */
import type { EngineEnvironment } from '../engine/results.js';
import { BadInputError } from '../errors.js';
import { assertSweepId } from '../sweep/id.js';
import type { InitMode } from '../sweep/cells.js';
import { testResultsOf, type CellTestData, type TestResults } from './evaluations.js';
import { binomialBootstrapInterval, summarize, wilsonInterval } from './stats.js';
import type { CellOutcome, FidRow, ReportInput } from './types.js';

/** A plotted series: a synthetic source (mixed arm), `original` (only-original arm) or `randaugment`. */
export type SeriesId = string;

const SERIES_LABELS: Record<string, string> = {
  vanilla: 'Vanilla SD',
  dreambooth: 'DreamBooth',
  textual: 'Textual inversion',
  original: 'Only original',
  randaugment: 'RandAugment (originals)',
};

const SERIES_ORDER = ['vanilla', 'dreambooth', 'textual', 'original', 'randaugment'];

export const MODE_LABELS: Record<InitMode, string> = {
  scratch: 'random init, trained from scratch',
  finetune: 'pretrained weights, whole backbone fine-tuned',
  frozen: 'pretrained weights, backbone frozen (last layer trained)',
};

export function seriesLabel(series: SeriesId): string {
  return SERIES_LABELS[series] ?? series;
}

/** The label a source gets in tables (FID, samples): `original` is the real data there. */
export function sourceLabel(source: string): string {
  if (source === 'original') return 'Original';
  return SERIES_LABELS[source] ?? source;
}

export function seriesOf(outcome: CellOutcome): SeriesId {
  const { cell } = outcome;
  if (cell.arm === 'mixed') return cell.source;
  if (cell.arm === 'only-original') return 'original';
  return cell.arm;
}

/** Order series: the paper's order first, unknown ones after, by name. */
export function compareSeries(a: SeriesId, b: SeriesId): number {
  const ia = SERIES_ORDER.indexOf(a);
  const ib = SERIES_ORDER.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || compareText(a, b);
  return compareText(a, b);
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One cell of the sweep, flattened: a row of results.csv. */
export interface ResultRow {
  cellId: string;
  arm: string;
  source: string;
  series: SeriesId;
  p: number;
  mode: string;
  seed: number;
  status: 'done' | 'failed';
  error: string | null;
  overallAccuracy: number | null;
  /** class → accuracy (null where the cell has none: failed, or class missing from its evaluation). */
  perClass: Record<string, number | null>;
  bestValAcc: number | null;
  bestEpoch: number | null;
  epochs: number | null;
  trainImages: number | null;
  valImages: number | null;
  wallMs: number | null;
  computed: boolean | null;
  evaluationKey: string | null;
  weightsKey: string | null;
  /** Test images behind overallAccuracy (null when the counts are unknown). */
  testImages: number | null;
  /** 95 % Wilson interval of overallAccuracy from the test set alone (null when the counts are unknown). */
  overallCiLow: number | null;
  overallCiHigh: number | null;
}

/** One plotted point: the mean over seeds of one (mode, series, p, class-or-overall). */
export interface SummaryRow {
  mode: string;
  series: SeriesId;
  seriesLabel: string;
  p: number;
  /** A class name, or `overall`. */
  className: string;
  /** Seeds that finished / failed at this point. */
  n: number;
  failed: number;
  /** Null when no seed finished. */
  mean: number | null;
  sd: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  /**
   * For a point of one finished cell (n = 1): a 95 % interval from its test set alone — Wilson for
   * the overall accuracy, the (exact) percentile bootstrap over the class's test images per class —
   * so a single-seed report still shows how far a point can move. Null for n ≠ 1 (the t interval
   * over seeds is the one to read) or unknown counts.
   */
  testCiLow: number | null;
  testCiHigh: number | null;
  /** Each finished seed's value, in seed order (the figures draw them next to the mean). */
  seedValues: number[];
  /** The cells behind the point (finished and failed), in seed order. */
  cellIds: string[];
}

export interface FailedCell {
  cellId: string;
  mode: string;
  series: SeriesId;
  p: number;
  seed: number;
  error: string;
}

export interface ReportData {
  classes: string[];
  modes: string[];
  series: SeriesId[];
  pValues: number[];
  seeds: number[];
  /**
   * What the seeds varied: `all` (fine-tuning, generation, mix and training) or `training` (mix and
   * training; generation used the first seed). A record without the field predates it: `training`.
   */
  seedScope: 'all' | 'training';
  rows: ResultRow[];
  summary: SummaryRow[];
  failed: FailedCell[];
  fid: FidRow[];
  fidSources: string[];
  extractors: string[];
  /** Where the cells were trained: each distinct engine environment, with how many cells used it. */
  environments: Array<{ description: string; cells: number }>;
  /** Problems in the input that do not stop the report (listed in its HTML). */
  warnings: string[];
  /** Each done cell's test counts (and per-image results where the evaluation has them). */
  tests: TestResults;
}

function finiteOrNull(value: number | undefined | null): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Validate the input's shape enough to render it; errors name the field. */
export function checkReportInput(input: ReportInput): void {
  if (!input || typeof input !== 'object') throw new BadInputError('report input must be an object');
  assertSweepId(input.sweepId, 'report input sweep id');
  if (!Array.isArray(input.classes) || input.classes.some((c) => typeof c !== 'string' || c === '')) {
    throw new BadInputError('report input classes must be a list of class names');
  }
  if (new Set(input.classes).size !== input.classes.length) throw new BadInputError('report input classes has duplicate names');
  if (!Array.isArray(input.cells)) throw new BadInputError('report input cells must be a list');
  const ids = new Set<string>();
  for (const [i, outcome] of input.cells.entries()) {
    const where = `report input cells[${i}]`;
    if (!outcome?.cell || typeof outcome.cell.id !== 'string') throw new BadInputError(`${where}.cell is missing its id`);
    if (ids.has(outcome.cell.id)) throw new BadInputError(`${where}: duplicate cell id ${outcome.cell.id}`);
    ids.add(outcome.cell.id);
    if (typeof outcome.cell.p !== 'number' || !Number.isFinite(outcome.cell.p)) throw new BadInputError(`${where} (${outcome.cell.id}).cell.p must be a number`);
    if (outcome.status !== 'done' && outcome.status !== 'failed') {
      throw new BadInputError(`${where} (${outcome.cell.id}).status must be "done" or "failed", got ${JSON.stringify(outcome.status)}`);
    }
    if (outcome.status === 'done') {
      const acc = outcome.evaluation?.overallAccuracy;
      if (typeof acc !== 'number' || !Number.isFinite(acc)) {
        throw new BadInputError(`${where} (${outcome.cell.id}) is done but has no evaluation.overallAccuracy`);
      }
    }
  }
  if (!Array.isArray(input.fid)) throw new BadInputError('report input fid must be a list');
  if (!input.samples || !Array.isArray(input.samples.classes) || !Array.isArray(input.samples.columns) || typeof input.samples.images !== 'object') {
    throw new BadInputError('report input samples must have classes, columns and images');
  }
  if (!Array.isArray(input.stages)) throw new BadInputError('report input stages must be a list');
}

/** Wilson interval of a cell's overall accuracy from its counts (null without counts). */
function overallInterval(test: CellTestData | undefined): { n: number; low: number; high: number } | null {
  if (!test) return null;
  const counts = Object.values(test.perClass);
  const n = counts.reduce((s, c) => s + c.total, 0);
  if (n === 0) return null;
  const w = wilsonInterval(counts.reduce((s, c) => s + c.correct, 0), n);
  return { n, low: w.low, high: w.high };
}

function classInterval(test: CellTestData | undefined, className: string): { low: number; high: number } | null {
  const counts = test?.perClass[className];
  if (!counts || counts.total === 0) return null;
  return binomialBootstrapInterval(counts.correct, counts.total);
}

/**
 * Build every table of the report from its input. Pure and deterministic. `fetched`: the cells' test
 * results read from their evaluation files (lib/report/evaluations.ts); cells without are inferred
 * from their accuracies.
 */
export function buildReportData(input: ReportInput, fetched?: TestResults): ReportData {
  checkReportInput(input);
  const tests = testResultsOf(input, fetched);
  const warnings: string[] = [];

  // Classes: the input's order; classes that only appear in evaluations come after, by name.
  const extraClasses = new Set<string>();
  for (const outcome of input.cells) {
    for (const name of Object.keys(outcome.evaluation?.perClass ?? {})) if (!input.classes.includes(name)) extraClasses.add(name);
  }
  const classes = [...input.classes, ...[...extraClasses].sort(compareText)];
  if (extraClasses.size > 0) warnings.push(`evaluations name classes not in the sweep's class list: ${[...extraClasses].sort(compareText).join(', ')}`);

  const configModes: string[] = input.config?.train?.modes ?? [];
  const modes = [...configModes];
  for (const outcome of input.cells) if (!modes.includes(outcome.cell.mode)) modes.push(outcome.cell.mode);

  const series = [...new Set(input.cells.map(seriesOf))].sort(compareSeries);
  const pValues = [...new Set([...(input.config?.mix?.p ?? []), ...input.cells.map((o) => o.cell.p)])].sort((a, b) => a - b);
  const seeds = [...new Set([...(input.config?.seeds ?? []), ...input.cells.map((o) => o.cell.seed)])].sort((a, b) => a - b);
  const seedScope = input.config?.seedScope ?? 'training';

  const rows: ResultRow[] = input.cells.map((outcome) => {
    const { cell } = outcome;
    const done = outcome.status === 'done';
    const perClass: Record<string, number | null> = {};
    for (const name of classes) perClass[name] = done ? finiteOrNull(outcome.evaluation?.perClass?.[name]) : null;
    if (done) {
      const missing = input.classes.filter((name) => perClass[name] === null);
      if (missing.length > 0) warnings.push(`cell ${cell.id}: no per-class accuracy for ${missing.join(', ')}`);
    }
    return {
      cellId: cell.id,
      arm: cell.arm,
      source: cell.source,
      series: seriesOf(outcome),
      p: cell.p,
      mode: cell.mode,
      seed: cell.seed,
      status: outcome.status,
      error: outcome.status === 'failed' ? (outcome.error ?? '(no reason recorded)') : (outcome.error ?? null),
      overallAccuracy: done ? finiteOrNull(outcome.evaluation?.overallAccuracy) : null,
      perClass,
      bestValAcc: finiteOrNull(outcome.train?.bestValAcc),
      bestEpoch: finiteOrNull(outcome.train?.bestEpoch),
      epochs: finiteOrNull(outcome.train?.epochs),
      trainImages: finiteOrNull(outcome.train?.trainImages),
      valImages: finiteOrNull(outcome.train?.valImages),
      wallMs: finiteOrNull(outcome.wallMs),
      computed: typeof outcome.computed === 'boolean' ? outcome.computed : null,
      evaluationKey: outcome.evaluation?.evaluationKey ?? null,
      weightsKey: outcome.train?.weightsKey ?? null,
      ...(() => {
        const w = done ? overallInterval(tests.get(cell.id)) : null;
        return { testImages: w?.n ?? null, overallCiLow: w?.low ?? null, overallCiHigh: w?.high ?? null };
      })(),
    };
  });
  rows.sort(compareRows(modes, classes));

  const summary: SummaryRow[] = [];
  const groups = new Map<string, ResultRow[]>();
  for (const row of rows) {
    const key = JSON.stringify([row.mode, row.series, row.p]);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  for (const group of groups.values()) {
    const { mode, series: s, p } = group[0];
    const cellIds = group.map((r) => r.cellId);
    const failedCount = group.filter((r) => r.status === 'failed').length;
    for (const className of ['overall', ...classes]) {
      const values = group
        .filter((r) => r.status === 'done')
        .map((r) => (className === 'overall' ? r.overallAccuracy : r.perClass[className]))
        .filter((v): v is number => v !== null);
      const stats = values.length > 0 ? summarize(values) : undefined;
      const doneRows = group.filter((r) => r.status === 'done');
      const single = values.length === 1 && doneRows.length === 1 ? doneRows[0] : undefined;
      const within = single
        ? className === 'overall'
          ? single.overallCiLow !== null ? { low: single.overallCiLow, high: single.overallCiHigh as number } : null
          : classInterval(tests.get(single.cellId), className)
        : null;
      summary.push({
        mode,
        series: s,
        seriesLabel: seriesLabel(s),
        p,
        className,
        n: values.length,
        failed: failedCount,
        mean: stats ? stats.mean : null,
        sd: stats ? stats.sd : null,
        ciLow: stats ? stats.ciLow : null,
        ciHigh: stats ? stats.ciHigh : null,
        testCiLow: within?.low ?? null,
        testCiHigh: within?.high ?? null,
        seedValues: values,
        cellIds,
      });
    }
  }

  const failed: FailedCell[] = rows
    .filter((r) => r.status === 'failed')
    .map((r) => ({ cellId: r.cellId, mode: r.mode, series: r.series, p: r.p, seed: r.seed, error: r.error ?? '(no reason recorded)' }));

  const fidSources = [...new Set(input.fid.map((r) => r.source))].sort(compareSeries);
  const fidClassOrder = (name: string): number => (name === 'overall' ? classes.length + 1 : classes.indexOf(name) >= 0 ? classes.indexOf(name) : classes.length);
  const fid = [...input.fid].sort(
    (a, b) =>
      compareSeries(a.source, b.source) ||
      fidClassOrder(a.className) - fidClassOrder(b.className) ||
      compareText(a.className, b.className) ||
      compareText(a.extractorId, b.extractorId) ||
      (a.seed ?? -1) - (b.seed ?? -1),
  );
  const extractors = [...new Set(input.fid.map((r) => r.extractorId))].sort(compareText);

  const environments = countEnvironments(input.cells.filter((o) => o.train).map((o) => o.train?.environment));

  return { classes, modes, series, pValues, seeds, seedScope, rows, summary, failed, fid, fidSources, extractors, environments, warnings, tests };
}

/** One line per machine kind: what two reports must share for their numbers to be comparable exactly. */
export function describeEnvironment(env: EngineEnvironment): string {
  const isa = env.isa.length > 0 ? env.isa.join(' ') : 'none reported';
  const device = env.gpu ? `GPU ${env.gpu} (CUDA ${env.cuda ?? '?'})` : 'CPU only';
  return `${env.cpu}; ISA: ${isa}; torch kernels: ${env.torchCpuCapability}; torch ${env.torch}, BLAS ${env.blas ?? 'unknown'}, ${env.threads} thread(s); ${device}`;
}

function countEnvironments(environments: ReadonlyArray<EngineEnvironment | undefined>): Array<{ description: string; cells: number }> {
  const counts = new Map<string, number>();
  for (const env of environments) {
    const description = env ? describeEnvironment(env) : 'not recorded (trained before environments were recorded)';
    counts.set(description, (counts.get(description) ?? 0) + 1);
  }
  return [...counts].map(([description, cells]) => ({ description, cells })).sort((a, b) => b.cells - a.cells || compareText(a.description, b.description));
}

function compareRows(modes: string[], _classes: string[]) {
  return (a: ResultRow, b: ResultRow): number =>
    modes.indexOf(a.mode) - modes.indexOf(b.mode) ||
    compareSeries(a.series, b.series) ||
    a.p - b.p ||
    a.seed - b.seed ||
    compareText(a.cellId, b.cellId);
}

// ---------------------------------------------------------------------------------------------
// CSV

/** RFC 4180 field: quoted when it holds a comma, quote, CR or LF (or leading/trailing space). */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** Parse CSV text written by `toCsv` (RFC 4180). For tests and tools. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      // handled by the \n
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export const RESULT_FIXED_COLUMNS = [
  'cellId', 'arm', 'source', 'series', 'p', 'mode', 'seed', 'status', 'error', 'overallAccuracy',
  'bestValAcc', 'bestEpoch', 'epochs', 'trainImages', 'valImages', 'wallMs', 'computed', 'evaluationKey', 'weightsKey',
  'testImages', 'overallCiLow', 'overallCiHigh',
] as const;

/** results.csv: one row per cell; per-class accuracies in `acc:<class>` columns. */
export function resultsCsv(data: ReportData): string {
  const header = [...RESULT_FIXED_COLUMNS, ...data.classes.map((c) => `acc:${c}`)];
  return toCsv(
    header,
    data.rows.map((r) => [...RESULT_FIXED_COLUMNS.map((k) => r[k]), ...data.classes.map((c) => r.perClass[c])]),
  );
}

export const SUMMARY_COLUMNS = ['mode', 'series', 'seriesLabel', 'p', 'className', 'n', 'failed', 'mean', 'sd', 'ciLow', 'ciHigh', 'testCiLow', 'testCiHigh', 'seedValues', 'cellIds'] as const;

/** summary.csv: every plotted point (mean and 95 % t CI over seeds; a single cell's test-set interval; the seeds' values). */
export function summaryCsv(data: ReportData): string {
  return toCsv(
    SUMMARY_COLUMNS,
    data.summary.map((r) => SUMMARY_COLUMNS.map((k) => (k === 'cellIds' ? r.cellIds.join(' ') : k === 'seedValues' ? r.seedValues.join(' ') : r[k]))),
  );
}

/**
 * The FID of one (source, class, extractor) over the generation seeds: their mean, and the rows (one
 * per seed; one at `seedScope: "training"`). Undefined when no row has a finite FID.
 */
export function fidOverSeeds(data: Pick<ReportData, 'fid'>, source: string, className: string, extractorId: string): { fid: number; rows: FidRow[] } | undefined {
  const rows = data.fid.filter((r) => r.source === source && r.className === className && r.extractorId === extractorId && Number.isFinite(r.fid));
  if (rows.length === 0) return undefined;
  return { fid: rows.reduce((sum, r) => sum + r.fid, 0) / rows.length, rows };
}

/** `seed` last: the generation seed (empty in rows recorded before it was). */
export const FID_COLUMNS = ['source', 'className', 'fid', 'kidMean', 'kidStd', 'n1', 'n2', 'epsilonUsed', 'extractorId', 'weightsSha256', 'kidSubsetSize', 'kidSubsetCapped', 'seed'] as const;

/** The intervals over images after `seed` (empty where a row has none). */
export const FID_INTERVAL_COLUMNS = ['kidLow', 'kidHigh', 'kidLevel', 'fidLow', 'fidHigh', 'fidBias', 'fidLevel', 'fidResamples'] as const;

export function fidCsv(data: ReportData): string {
  return toCsv(
    [...FID_COLUMNS, ...FID_INTERVAL_COLUMNS],
    data.fid.map((r) => {
      const kid = r.kidInterval;
      const fid = r.fidInterval;
      return [...FID_COLUMNS.map((k) => r[k]), kid?.low, kid?.high, kid?.level, fid?.low, fid?.high, fid?.bias, fid?.level, fid?.resamples];
    }),
  );
}

export function historyCsv(input: ReportInput): string {
  const rows: unknown[][] = [];
  for (const entry of input.history ?? []) {
    for (const cell of entry.cells) rows.push([entry.at, entry.testManifestKey, cell.cellId, cell.overallAccuracy]);
  }
  return toCsv(['at', 'testManifestKey', 'cellId', 'overallAccuracy'], rows);
}
