/**
 * The paper's three observations, tested on this sweep (the report's "Findings" and findings.json):
 *   (a) adding synthetic images helps: mixed minus only-original at the same p (0 < p < 1), averaged
 *       over p, per source and init mode;
 *   (b) accuracy falls as p → 1: the least-squares slope of the mixed arm's accuracy over p, and
 *       accuracy at the largest p minus at the smallest (p = 1 vs p = 0);
 *   (c) per-class accuracy drops track FID (Table 1 ↔ Fig 6): Spearman's ρ between each class's FID
 *       and its accuracy drop from the smallest to the largest p.
 * Each effect comes with a 95 % interval and a verdict that never says more than the interval does:
 * "holds" when the interval lies wholly on the side the paper claims, "does not hold" when it lies
 * wholly on the other side, else "inconclusive at this sample size".
 *
 * Intervals. (a) and (b) are linear contrasts of cell accuracies. With ≥ 2 seeds that finished every
 * cell of a contrast, the contrast is computed per seed and given a t interval over seeds (paired by
 * seed: it contains training noise, the generator's if seeds reach it, and test-set noise). With one
 * such seed, a percentile bootstrap over test images (paired by image when every cell's evaluation
 * has per-image results on the same test set): test-set noise only, which the finding says. (c)
 * uses a Fisher-z interval (Fieller's variance 1.06/(n − 3)) over the classes: the uncertainty of
 * each class's drop itself is not propagated, which the finding says too.
 */
import { createRng, deriveSeed } from '../random.js';
import { compareSeries, fidOverSeeds, type ReportData, type ResultRow } from './data.js';
import type { CellTestData, TestResults } from './evaluations.js';
import { bootstrap, logGamma, meanAt, spearman, summarize, type Interval } from './stats.js';

export type Verdict = 'holds' | 'does not hold' | 'inconclusive at this sample size';
export type ObservationId = 'a' | 'b' | 'c';

export const FINDINGS_LEVEL = 0.95;
export const BOOTSTRAP_RESAMPLES = 2000;
export const MIN_CLASSES_FOR_VERDICT = 5;

export interface Effect extends Interval {
  /** What was measured, in words. */
  name: string;
  /** `accuracy` (a difference in accuracy, 0.05 = 5 points), `accuracy per unit p`, or `rank correlation`. */
  unit: 'accuracy' | 'accuracy per unit p' | 'rank correlation';
  /** Seeds behind the number (complete seeds for contrasts; seeds averaged for (c)). */
  seeds: number;
  /** Test images behind a bootstrap interval, classes behind a rank correlation. */
  units?: number;
}

export interface FindingRow {
  observation: ObservationId;
  mode: string;
  source: string;
  /** First the effect the verdict rests on. */
  effects: Effect[];
  verdict: Verdict;
  /** Why the number may be weaker than it looks (test-set noise only, counts inferred...). */
  caveats: string[];
}

export interface Observation {
  id: ObservationId;
  claim: string;
  /** How the effect is measured and what "holds" needs. */
  test: string;
  rows: FindingRow[];
  /** One line: how many (source, mode) pairs hold / do not / are inconclusive. */
  summary: string;
}

export interface Findings {
  level: number;
  seeds: number[];
  /** What the seeds varied (`all`: generation too; `training`: mix and training only). */
  seedScope: 'all' | 'training';
  observations: Observation[];
  /** Notes about the whole sweep (a single seed, inferred counts). */
  notes: string[];
}

const CLAIMS: Record<ObservationId, { claim: string; test: string }> = {
  a: {
    claim: 'Adding synthetic images helps: at the same p, training on the mix beats training on the (1−p) originals alone.',
    test: 'mixed − only-original accuracy, averaged over the p values strictly between 0 and 1; holds when the 95% interval is above 0.',
  },
  b: {
    claim: 'Accuracy falls as p → 1 (more synthetic, fewer original images).',
    test: 'least-squares slope of accuracy over p, and accuracy at the largest p − at the smallest p; holds when both 95% intervals are below 0.',
  },
  c: {
    claim: 'Per-class accuracy drops track FID: classes whose synthetic images are further from the originals (higher FID) lose more accuracy.',
    test: "Spearman's ρ between each class's FID and its accuracy drop from the smallest to the largest p (mean over seeds); holds when the 95% interval is above 0.",
  },
};

/** Decide from an interval: `direction` is the sign the paper claims. */
export function verdictOf(interval: Pick<Interval, 'low' | 'high'>, direction: 1 | -1): Verdict {
  const [low, high] = direction > 0 ? [interval.low, interval.high] : [-interval.high, -interval.low];
  if (low > 0) return 'holds';
  if (high < 0) return 'does not hold';
  return 'inconclusive at this sample size';
}

/** A weighted sum of the accuracies of the cells at (mode, series, p), per seed. */
interface Contrast {
  terms: Array<{ series: string; p: number; weight: number }>;
}

interface ContrastResult {
  effect: Omit<Effect, 'name' | 'unit'>;
  caveats: string[];
}

function cellIndex(data: ReportData): Map<string, ResultRow> {
  const index = new Map<string, ResultRow>();
  for (const row of data.rows) index.set(JSON.stringify([row.mode, row.series, row.p, row.seed]), row);
  return index;
}

/** CDF of Binomial(n, k/n) at 0..n: resampling a class's n test images, k of them right, draws from it. */
function resampleCdf(k: number, n: number): Float64Array {
  const cdf = new Float64Array(n + 1);
  const p = k / n;
  if (p <= 0 || p >= 1) {
    cdf.fill(0);
    for (let x = p <= 0 ? 0 : n; x <= n; x++) cdf[x] = 1;
    return cdf;
  }
  const lnNFact = logGamma(n + 1);
  let sum = 0;
  for (let x = 0; x <= n; x++) {
    sum += Math.exp(lnNFact - logGamma(x + 1) - logGamma(n - x + 1) + x * Math.log(p) + (n - x) * Math.log1p(-p));
    cdf[x] = x === n ? 1 : Math.min(1, sum);
  }
  return cdf;
}

function drawFrom(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function sameTestSet(tests: CellTestData[]): boolean {
  const first = tests[0]?.images;
  if (!first) return false;
  return tests.every((t) => {
    const images = t.images;
    return images !== undefined && images.labels.length === first.labels.length && images.classes.join('\u0000') === first.classes.join('\u0000') && images.labels.every((l, i) => l === first.labels[i]);
  });
}

/**
 * Bootstrap of Σ w·accuracy over test images for the cells of one seed: paired (one resample of image
 * indices for every cell) when they share a test set with per-image results, else each cell's images
 * resampled on their own.
 */
function bootstrapContrast(cells: Array<{ weight: number; test: CellTestData }>, seed: number): { interval: Interval; paired: boolean; units: number } {
  const tests = cells.map((c) => c.test);
  if (sameTestSet(tests)) {
    const n = tests[0].images?.correct.length ?? 0;
    const combined = new Float64Array(n);
    for (const { weight, test } of cells) test.images?.correct.forEach((v, i) => (combined[i] += weight * v));
    const r = bootstrap(n, (idx) => meanAt(combined, idx), { seed, resamples: BOOTSTRAP_RESAMPLES, level: FINDINGS_LEVEL });
    return { interval: { ...r, method: `percentile bootstrap over ${n} test images, paired by image (${BOOTSTRAP_RESAMPLES} resamples)` }, paired: true, units: n };
  }
  // Unpaired: each cell's test images resampled within each class (the test set is stratified by
  // class), drawing each class's resampled count of right answers from its binomial directly.
  const strata = cells.map((c) => {
    const counts = Object.values(c.test.perClass).filter((k) => k.total > 0);
    return { weight: c.weight, total: counts.reduce((s, k) => s + k.total, 0), correct: counts.reduce((s, k) => s + k.correct, 0), cdfs: counts.map((k) => resampleCdf(k.correct, k.total)) };
  });
  const estimate = strata.reduce((s, c) => s + (c.total > 0 ? (c.weight * c.correct) / c.total : 0), 0);
  const rng = createRng(seed);
  const replicates: number[] = [];
  for (let r = 0; r < BOOTSTRAP_RESAMPLES; r++) {
    let value = 0;
    for (const { weight, total, cdfs } of strata) {
      if (total === 0) continue;
      let right = 0;
      for (const cdf of cdfs) right += drawFrom(cdf, rng.nextFloat());
      value += (weight * right) / total;
    }
    replicates.push(value);
  }
  replicates.sort((a, b) => a - b);
  const q = (p: number): number => {
    const h = (replicates.length - 1) * p;
    const lo = Math.floor(h);
    return replicates[lo] + (h - lo) * (replicates[Math.min(lo + 1, replicates.length - 1)] - replicates[lo]);
  };
  const units = Math.max(0, ...strata.map((c) => c.total));
  return {
    interval: { estimate, low: q((1 - FINDINGS_LEVEL) / 2), high: q(1 - (1 - FINDINGS_LEVEL) / 2), level: FINDINGS_LEVEL, method: `percentile bootstrap over test images, each cell resampled on its own within each class (no per-image results to pair; ${BOOTSTRAP_RESAMPLES} resamples)` },
    paired: false,
    units,
  };
}

function evaluateContrast(data: ReportData, tests: TestResults, mode: string, contrast: Contrast, label: string): ContrastResult | null {
  const index = cellIndex(data);
  const complete: Array<{ seed: number; cells: Array<{ weight: number; row: ResultRow }> }> = [];
  for (const seed of data.seeds) {
    const cells = contrast.terms.map((t) => ({ weight: t.weight, row: index.get(JSON.stringify([mode, t.series, t.p, seed])) }));
    if (cells.every((c) => c.row?.status === 'done' && c.row.overallAccuracy !== null)) {
      complete.push({ seed, cells: cells as Array<{ weight: number; row: ResultRow }> });
    }
  }
  if (complete.length === 0) return null;
  const values = complete.map(({ cells }) => cells.reduce((s, c) => s + c.weight * (c.row.overallAccuracy as number), 0));
  if (complete.length >= 2) {
    const s = summarize(values, FINDINGS_LEVEL);
    return {
      effect: { estimate: s.mean, low: s.ciLow as number, high: s.ciHigh as number, level: FINDINGS_LEVEL, method: `t interval over ${complete.length} seeds (the contrast computed per seed: paired by seed)`, seeds: complete.length },
      caveats: complete.length < 3 ? ['only 2 seeds: the t interval is very wide (t = 12.7)'] : [],
    };
  }
  const [only] = complete;
  const withTests = only.cells.map((c) => ({ weight: c.weight, test: tests.get(c.row.cellId) }));
  // One seed and no test counts at all: no interval to state, so no finding.
  if (withTests.some((c) => !c.test)) return null;
  const cells = withTests as Array<{ weight: number; test: CellTestData }>;
  const { interval, units } = bootstrapContrast(cells, deriveSeed('findings', label, mode, only.seed));
  const caveats = ['one seed: the interval holds test-set noise only, not training noise between seeds (run ≥ 3 seeds for that)'];
  if (cells.some((c) => c.test.origin === 'inferred')) caveats.push('test counts inferred from accuracies × test images per class (evaluation files unreadable)');
  return { effect: { ...interval, estimate: values[0], seeds: 1, units }, caveats };
}

function pValuesOf(data: ReportData, mode: string, series: string): number[] {
  return [...new Set(data.rows.filter((r) => r.mode === mode && r.series === series).map((r) => r.p))].sort((a, b) => a - b);
}

function fmtP(p: number): string {
  return String(Math.round(p * 1e4) / 1e4);
}

function observationA(data: ReportData, tests: TestResults, sources: string[]): FindingRow[] {
  const rows: FindingRow[] = [];
  for (const mode of data.modes) {
    const originalPs = new Set(pValuesOf(data, mode, 'original'));
    for (const source of sources) {
      const ps = pValuesOf(data, mode, source).filter((p) => p > 0 && p < 1 && originalPs.has(p));
      if (ps.length === 0) continue;
      const terms = ps.flatMap((p) => [{ series: source, p, weight: 1 / ps.length }, { series: 'original', p, weight: -1 / ps.length }]);
      const r = evaluateContrast(data, tests, mode, { terms }, `a:${source}`);
      if (!r) continue;
      const effect: Effect = { name: `acc(mixed) − acc(only original), mean over p ∈ {${ps.map(fmtP).join(', ')}}`, unit: 'accuracy', ...r.effect };
      rows.push({ observation: 'a', mode, source, effects: [effect], verdict: verdictOf(effect, 1), caveats: r.caveats });
    }
  }
  return rows;
}

function observationB(data: ReportData, tests: TestResults, sources: string[]): FindingRow[] {
  const rows: FindingRow[] = [];
  for (const mode of data.modes) {
    for (const source of sources) {
      const ps = pValuesOf(data, mode, source);
      if (ps.length < 2) continue;
      const mean = ps.reduce((s, p) => s + p, 0) / ps.length;
      const sxx = ps.reduce((s, p) => s + (p - mean) ** 2, 0);
      // The OLS slope is linear in the accuracies: Σ (p − p̄)/Sxx · acc(p).
      const slope = evaluateContrast(data, tests, mode, { terms: ps.map((p) => ({ series: source, p, weight: (p - mean) / sxx })) }, `b-slope:${source}`);
      const lo = ps[0];
      const hi = ps[ps.length - 1];
      const ends = evaluateContrast(data, tests, mode, { terms: [{ series: source, p: hi, weight: 1 }, { series: source, p: lo, weight: -1 }] }, `b-ends:${source}`);
      if (!slope || !ends) continue;
      const effects: Effect[] = [
        { name: `slope of accuracy over p (${ps.length} values of p)`, unit: 'accuracy per unit p', ...slope.effect },
        { name: `acc(p = ${fmtP(hi)}) − acc(p = ${fmtP(lo)})`, unit: 'accuracy', ...ends.effect },
      ];
      const verdicts = effects.map((e) => verdictOf(e, -1));
      const verdict: Verdict = verdicts.every((v) => v === 'holds') ? 'holds' : verdicts.some((v) => v === 'does not hold') ? 'does not hold' : 'inconclusive at this sample size';
      rows.push({ observation: 'b', mode, source, effects, verdict, caveats: [...new Set([...slope.caveats, ...ends.caveats])] });
    }
  }
  return rows;
}

function observationC(data: ReportData, sources: string[]): FindingRow[] {
  const rows: FindingRow[] = [];
  const extractor = data.extractors[0];
  for (const mode of data.modes) {
    for (const source of sources) {
      const ps = pValuesOf(data, mode, source);
      if (ps.length < 2) continue;
      const [lo, hi] = [ps[0], ps[ps.length - 1]];
      const fid: number[] = [];
      const drop: number[] = [];
      // Each class FID's own interval over images (Table 1), stated beside ρ, not propagated into it.
      const fidWidths: number[] = [];
      let seeds = Infinity;
      for (const className of data.classes) {
        // With several generation seeds, the class's FID is their mean (each seed's images are one draw of the generator).
        const f = fidOverSeeds(data, source, className, extractor);
        const at = (p: number) => data.summary.find((r) => r.mode === mode && r.series === source && r.p === p && r.className === className);
        const a = at(lo);
        const b = at(hi);
        if (!f || a?.mean == null || b?.mean == null) continue;
        fid.push(f.fid);
        drop.push(a.mean - b.mean);
        for (const r of f.rows) if (r.fidInterval) fidWidths.push(r.fidInterval.high - r.fidInterval.low);
        seeds = Math.min(seeds, a.n, b.n);
      }
      const rho = spearman(fid, drop, { level: FINDINGS_LEVEL });
      if (!rho) continue;
      const effect: Effect = { name: `Spearman ρ(FID, accuracy drop p = ${fmtP(lo)} → ${fmtP(hi)}) over ${rho.n} classes`, unit: 'rank correlation', ...rho, seeds: Number.isFinite(seeds) ? seeds : 0, units: rho.n };
      const caveats = ["the interval is over classes only: each class's drop has its own test-set and seed noise, not propagated"];
      if (fidWidths.length > 0) {
        const sorted = [...fidWidths].sort((x, y) => x - y);
        const mid = Math.floor(sorted.length / 2);
        const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        const spread = Math.max(...fid) - Math.min(...fid);
        caveats.push(`each class's FID has its own 95% interval over images (median width ${median.toFixed(1)} against a spread of ${spread.toFixed(1)} between classes; Table 1), not propagated`);
      }
      if (data.extractors.length > 1) caveats.push(`FID from extractor ${extractor}`);
      // Below 5 classes a perfect ranking happens by chance too often (1 in 24 for 4) and the Fisher z
      // interval degenerates at |ρ| = 1: no verdict.
      const fewClasses = rho.n < MIN_CLASSES_FOR_VERDICT;
      if (fewClasses) caveats.push(`only ${rho.n} classes: at least ${MIN_CLASSES_FOR_VERDICT} are needed for a verdict`);
      rows.push({ observation: 'c', mode, source, effects: [effect], verdict: fewClasses ? 'inconclusive at this sample size' : verdictOf(effect, 1), caveats });
    }
  }
  return rows;
}

function summaryOf(rows: FindingRow[]): string {
  if (rows.length === 0) return 'not testable in this sweep (the cells it needs are missing or failed)';
  const count = (v: Verdict) => rows.filter((r) => r.verdict === v).length;
  const parts = (['holds', 'does not hold', 'inconclusive at this sample size'] as const).filter((v) => count(v) > 0).map((v) => `${v} for ${count(v)}`);
  return `${parts.join('; ')} of ${rows.length} (source, init mode) pair${rows.length === 1 ? '' : 's'}`;
}

/** Every finding of the sweep. Pure and deterministic (bootstrap seeds derive from the finding's name). */
export function computeFindings(data: ReportData, tests: TestResults): Findings {
  const sources = data.series.filter((s) => s !== 'original' && s !== 'randaugment').sort(compareSeries);
  const byId: Record<ObservationId, FindingRow[]> = {
    a: observationA(data, tests, sources),
    b: observationB(data, tests, sources),
    c: observationC(data, sources),
  };
  const notes: string[] = [];
  if (data.seeds.length > 1 && data.seedScope === 'all') notes.push(`${data.seeds.length} seeds (${data.seeds.join(', ')}), seed scope "all": each seed fine-tuned, generated, mixed and trained on its own, so intervals over seeds include the generator's variance (the base models are shared, as the paper's pretrained weights are).`);
  if (data.seeds.length > 1 && data.seedScope === 'training') notes.push(`${data.seeds.length} seeds (${data.seeds.join(', ')}), seed scope "training": they vary the mix and the classifier's training; fine-tuning and generation used the first seed, so intervals over seeds leave out the generator's own variance.`);
  if (data.seeds.length === 1) notes.push(`One seed (${data.seeds[0]}): intervals of (a) and (b) come from the test set alone (bootstrap over test images); the variation between training runs is not in them. Run 3 or more seeds for intervals that include it.`);
  // Test counts matter to the findings only where an interval was bootstrapped from them.
  const bootstrapped = [...byId.a, ...byId.b].some((r) => r.effects.some((e) => e.method.includes('bootstrap')));
  const origins = new Set(bootstrapped ? [...tests.values()].map((t) => t.origin) : []);
  if (origins.has('inferred')) notes.push('Some evaluation files could not be read: their test counts are inferred from accuracy × test images per class, and their cells are not paired by test image.');
  else if (origins.has('counts')) notes.push('Some evaluations predate per-image results: their cells are resampled on their own, not paired by test image.');
  return {
    level: FINDINGS_LEVEL,
    seeds: data.seeds,
    seedScope: data.seedScope,
    observations: (['a', 'b', 'c'] as const).map((id) => ({ id, ...CLAIMS[id], rows: byId[id], summary: summaryOf(byId[id]) })),
    notes,
  };
}
