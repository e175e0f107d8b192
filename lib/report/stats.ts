// One module: every interval the report prints comes from here (one place to check against scipy).
/**
 * The report's statistics, one module so every interval the report prints comes from one place:
 * across seeds the mean with a Student t interval (seeds are few, so never the normal 1.96) and a
 * paired t over seeds; within one test set the Wilson interval for an accuracy and a seeded
 * percentile bootstrap over test images (per-class accuracies, paired differences); the slope over
 * p; Spearman's rank correlation with a Fisher-z interval. Checked against scipy in test/stats.test.ts.
 */
import { createRng } from '../random.js';

export interface Summary {
  /** Number of values (done seeds). */
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1 in the denominator); null for a single value. */
  readonly sd: number | null;
  /** Standard error of the mean sd/√n; null for a single value. */
  readonly sem: number | null;
  /** Half-width of the confidence interval t(1−α/2, n−1)·sem; null for a single value. */
  readonly halfWidth: number | null;
  readonly ciLow: number | null;
  readonly ciHigh: number | null;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be > 0, got ${x}`);
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTCdf: df must be > 0, got ${df}`);
  const x = df / (df + t * t);
  const tail = 0.5 * regularizedBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The t value with P(T ≤ t) = q, for q in (0, 1) (bisection on the CDF; |error| < 1e-12). */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`studentTQuantile: q must lie in (0, 1), got ${q}`);
  if (!(df > 0)) throw new RangeError(`studentTQuantile: df must be > 0, got ${df}`);
  if (q === 0.5) return 0;
  if (q < 0.5) return -studentTQuantile(1 - q, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < q) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Mean, sd and the `level` (default 95 %) t confidence interval of the mean. Throws on no values. */
export function summarize(values: readonly number[], level = 0.95): Summary {
  if (values.length === 0) throw new RangeError('summarize: no values');
  if (!(level > 0 && level < 1)) throw new RangeError(`summarize: level must lie in (0, 1), got ${level}`);
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`summarize: non-finite value ${v}`);
  const n = values.length;
  // Summation in input order keeps results reproducible for the same input.
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n === 1) return { n, mean, sd: null, sem: null, halfWidth: null, ciLow: null, ciHigh: null };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) * (v - mean), 0) / (n - 1));
  const sem = sd / Math.sqrt(n);
  const halfWidth = studentTQuantile(1 - (1 - level) / 2, n - 1) * sem;
  return { n, mean, sd, sem, halfWidth, ciLow: mean - halfWidth, ciHigh: mean + halfWidth };
}

// ---------------------------------------------------------------------------------------------
// Normal distribution (Wilson and Fisher-z intervals need its quantile).

/** Regularized lower incomplete gamma P(a, x) (series below a + 1, Lentz continued fraction above). */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`regularizedGammaP: a must be > 0, got ${a}`);
  if (x <= 0) return 0;
  const lnFront = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let k = 1; k < 1000; k++) {
      term *= x / (a + k);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
    }
    return sum * Math.exp(lnFront);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 - Math.exp(lnFront) * h;
}

/** Φ(z), the standard normal CDF (through erf(x) = P(½, x²)). */
export function normalCdf(z: number): number {
  const half = 0.5 * regularizedGammaP(0.5, (z * z) / 2);
  return z >= 0 ? 0.5 + half : 0.5 - half;
}

/** Φ⁻¹(q) for q in (0, 1) (bisection on the CDF; |error| < 1e-12 for the quantiles intervals use). */
export function normalQuantile(q: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`normalQuantile: q must lie in (0, 1), got ${q}`);
  if (q === 0.5) return 0;
  if (q < 0.5) return -normalQuantile(1 - q);
  let lo = 0;
  let hi = 1;
  while (normalCdf(hi) < q) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function checkLevel(where: string, level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`${where}: level must lie in (0, 1), got ${level}`);
}

/** An estimate with a two-sided interval; `method` names how the interval was computed. */
export interface Interval {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  readonly level: number;
  readonly method: string;
}

// ---------------------------------------------------------------------------------------------
// Accuracy over one test set

/**
 * Wilson score interval for a proportion `successes / n` (what scipy's
 * `binomtest(k, n).proportion_ci(method='wilson')` returns): unlike the normal ±z·√(p(1−p)/n) it stays
 * inside [0, 1] and is not zero-width at 0 % or 100 % accuracy.
 */
export function wilsonInterval(successes: number, n: number, level = 0.95): Interval {
  checkLevel('wilsonInterval', level);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`wilsonInterval: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`wilsonInterval: successes must be an integer in [0, ${n}], got ${successes}`);
  }
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return { estimate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half), level, method: 'Wilson score interval' };
}

// ---------------------------------------------------------------------------------------------
// Bootstrap

/**
 * The q-quantile of `sorted` (ascending) with linear interpolation between order statistics —
 * numpy's default (`np.percentile(..., method='linear')`, Hyndman–Fan type 7), which scipy's
 * percentile bootstrap uses.
 */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantileSorted: no values');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantileSorted: q must lie in [0, 1], got ${q}`);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export interface BootstrapOptions {
  /** Resamples (default 2000). */
  resamples?: number;
  /** Seed of the resampling stream: the same seed and data give the same interval. */
  seed: number;
  level?: number;
}

export interface BootstrapResult extends Interval {
  /** The statistic on each resample, in draw order (for checks and figures). */
  readonly replicates: number[];
}

/**
 * Draw `resamples` index vectors of length n with replacement from one mulberry32 stream seeded with
 * `seed` (row r is drawn before row r + 1, each row left to right). Exposed so a test can hand the very
 * same resamples to a reference implementation.
 */
export function bootstrapIndices(n: number, resamples: number, seed: number): Uint32Array[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`bootstrap: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  const rng = createRng(seed);
  const rows: Uint32Array[] = [];
  for (let r = 0; r < resamples; r++) {
    const row = new Uint32Array(n);
    for (let i = 0; i < n; i++) row[i] = rng.int(n);
    rows.push(row);
  }
  return rows;
}

/**
 * Percentile bootstrap over n independent units (test images): `statistic(indices)` is evaluated on
 * the original order (the estimate) and on each resample; the interval is the (α/2, 1 − α/2)
 * quantiles of the replicates. A paired difference resamples the same indices for both arms, which
 * is what makes it paired.
 */
export function bootstrap(n: number, statistic: (indices: ArrayLike<number>) => number, options: BootstrapOptions): BootstrapResult {
  const level = options.level ?? 0.95;
  checkLevel('bootstrap', level);
  const identity = Uint32Array.from({ length: n }, (_, i) => i);
  const estimate = statistic(identity);
  const replicates = bootstrapIndices(n, options.resamples ?? 2000, options.seed).map((indices) => statistic(indices));
  for (const v of replicates) if (!Number.isFinite(v)) throw new RangeError('bootstrap: the statistic gave a non-finite value');
  const sorted = [...replicates].sort((a, b) => a - b);
  const alpha = 1 - level;
  return {
    estimate,
    low: quantileSorted(sorted, alpha / 2),
    high: quantileSorted(sorted, 1 - alpha / 2),
    level,
    method: `percentile bootstrap over ${n} units, ${replicates.length} resamples, seed ${options.seed}`,
    replicates,
  };
}

/** Mean of `values` at `indices` (the statistic of a bootstrap of a mean). */
export function meanAt(values: ArrayLike<number>, indices: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < indices.length; i++) sum += values[indices[i]];
  return sum / indices.length;
}

// ---------------------------------------------------------------------------------------------
// Paired t over seeds, slope, rank correlation

export interface PairedT extends Interval {
  readonly n: number;
  /** t statistic of the mean difference (null for n < 2 or zero spread). */
  readonly t: number | null;
  readonly df: number;
  /** Two-sided p-value (null where t is). */
  readonly pValue: number | null;
}

/**
 * Paired t test of `a − b` (same seeds, same order): the mean difference with its t interval, as
 * scipy's `ttest_rel(a, b)` and its `confidence_interval()`. Needs n ≥ 2; with no spread at all
 * the interval is the point.
 */
export function pairedT(a: readonly number[], b: readonly number[], level = 0.95): PairedT {
  if (a.length !== b.length) throw new RangeError(`pairedT: ${a.length} values against ${b.length}`);
  if (a.length < 2) throw new RangeError(`pairedT: needs at least 2 pairs, got ${a.length}`);
  const s = summarize(a.map((v, i) => v - b[i]), level);
  const sem = s.sem ?? 0;
  const df = s.n - 1;
  const t = sem > 0 ? s.mean / sem : null;
  const pValue = t === null ? null : 2 * (1 - studentTCdf(Math.abs(t), df));
  return { estimate: s.mean, low: s.ciLow ?? s.mean, high: s.ciHigh ?? s.mean, level, method: `paired t over ${s.n} seeds`, n: s.n, t, df, pValue };
}

/** Least-squares slope of y on x (null when x has no spread). */
export function olsSlope(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length || x.length < 2) throw new RangeError(`olsSlope: needs two equal-length lists of at least 2 values (${x.length}, ${y.length})`);
  const mx = x.reduce((s, v) => s + v, 0) / x.length;
  const my = y.reduce((s, v) => s + v, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : null;
}

/** Ranks 1..n, ties sharing their average rank (scipy's `rankdata(method='average')`). */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Pearson correlation (null when either side has no spread). */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length || x.length < 2) throw new RangeError(`pearson: needs two equal-length lists of at least 2 values (${x.length}, ${y.length})`);
  const mx = x.reduce((s, v) => s + v, 0) / x.length;
  const my = y.reduce((s, v) => s + v, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy))) : null;
}

export interface RankCorrelation extends Interval {
  readonly n: number;
}

/**
 * Spearman's ρ (Pearson correlation of average ranks, as scipy's `spearmanr`) with a Fisher-z
 * interval: tanh(atanh ρ ± z·√(f/(n − 3))). f = 1.06 by default (Fieller, Hartley & Pearson 1957:
 * the variance of atanh of a rank correlation is ~6 % above Pearson's 1/(n − 3)); f = 1 gives the
 * interval scipy's `pearsonr(...).confidence_interval()` puts on the ranks. Null when n < 4 or a
 * side has no spread (then there is no correlation to state).
 */
export function spearman(x: readonly number[], y: readonly number[], options: { level?: number; varianceFactor?: number } = {}): RankCorrelation | null {
  const level = options.level ?? 0.95;
  checkLevel('spearman', level);
  const f = options.varianceFactor ?? 1.06;
  if (x.length !== y.length) throw new RangeError(`spearman: ${x.length} values against ${y.length}`);
  const n = x.length;
  if (n < 4) return null;
  const rho = pearson(averageRanks(x), averageRanks(y));
  if (rho === null) return null;
  const z = normalQuantile(1 - (1 - level) / 2);
  const zr = Math.atanh(Math.max(-1 + 1e-15, Math.min(1 - 1e-15, rho)));
  const half = z * Math.sqrt(f / (n - 3));
  return { estimate: rho, low: Math.tanh(zr - half), high: Math.tanh(zr + half), level, method: `Fisher z interval (variance ${f}/(n−3)) over ${n} pairs`, n };
}

/** P(X ≤ k) for X ~ Binomial(n, p), summed in log space (n up to a few thousand test images). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const lnP = Math.log(p);
  const lnQ = Math.log1p(-p);
  const lnNFact = logGamma(n + 1);
  let sum = 0;
  for (let i = 0; i <= k; i++) sum += Math.exp(lnNFact - logGamma(i + 1) - logGamma(n - i + 1) + i * lnP + (n - i) * lnQ);
  return Math.min(1, sum);
}

/**
 * The percentile bootstrap of an accuracy `successes / n` over its n test images, without drawing:
 * resampling n images with replacement gives Binomial(n, successes/n)/n, so as resamples → ∞ the
 * percentile interval tends to that distribution's α/2 and 1 − α/2 quantiles (scipy's
 * `binom.ppf(q, n, k/n) / n`). Exact and seed-free, so the hundreds of per-class intervals of a report
 * cost nothing and carry no Monte Carlo error.
 */
export function binomialBootstrapInterval(successes: number, n: number, level = 0.95): Interval {
  checkLevel('binomialBootstrapInterval', level);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`binomialBootstrapInterval: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`binomialBootstrapInterval: successes must be an integer in [0, ${n}], got ${successes}`);
  }
  const p = successes / n;
  // CDF(0..n) once, accumulated in the same order binomialCdf sums.
  const cdf: number[] = [];
  if (p <= 0 || p >= 1) for (let x = 0; x <= n; x++) cdf.push(binomialCdf(x, n, p));
  else {
    const lnNFact = logGamma(n + 1);
    let sum = 0;
    for (let x = 0; x <= n; x++) {
      sum += Math.exp(lnNFact - logGamma(x + 1) - logGamma(n - x + 1) + x * Math.log(p) + (n - x) * Math.log1p(-p));
      cdf.push(x >= n ? 1 : Math.min(1, sum));
    }
  }
  // scipy's ppf: the smallest x with CDF(x) ≥ q (a hair of tolerance for the summation's rounding).
  const ppf = (q: number): number => {
    const x = cdf.findIndex((c) => c >= q - 1e-12);
    return x < 0 ? n : x;
  };
  const alpha = 1 - level;
  return { estimate: p, low: ppf(alpha / 2) / n, high: ppf(1 - alpha / 2) / n, level, method: `percentile bootstrap over ${n} test images (exact: binomial quantiles)` };
}
