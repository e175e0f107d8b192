/**
 * lib/report/stats.ts against scipy: every reference value is computed by the engine venv's scipy
 * while the test runs (one Python process for the whole file), never typed in.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { toolPaths } from '../infra/tools.js';
import { createRng } from '../lib/random.js';
import {
  averageRanks,
  binomialBootstrapInterval,
  bootstrap,
  bootstrapIndices,
  meanAt,
  normalQuantile,
  olsSlope,
  pairedT,
  spearman,
  studentTQuantile,
  summarize,
  wilsonInterval,
} from '../lib/report/stats.js';

// The reference: reads the cases as JSON on stdin, answers JSON on stdout.
const REFERENCE = String.raw`
import json, sys
import numpy as np
from scipy import stats
c = json.load(sys.stdin)
out = {}
out["t"] = [float(stats.t.ppf(q, df)) for q, df in c["t"]]
out["norm"] = [float(stats.norm.ppf(q)) for q in c["norm"]]
out["wilson"] = []
for k, n, level in c["wilson"]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    out["wilson"].append([float(ci.low), float(ci.high)])
out["summary"] = []
for values in c["summary"]:
    v = np.asarray(values)
    lo, hi = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    out["summary"].append([float(v.mean()), float(v.std(ddof=1)), float(lo), float(hi)])
out["paired"] = []
for a, b in c["paired"]:
    r = stats.ttest_rel(a, b)
    ci = r.confidence_interval(0.95)
    out["paired"].append([float(r.statistic), float(r.pvalue), float(ci.low), float(ci.high)])
out["spearman"] = []
for x, y in c["spearman"]:
    rho = stats.spearmanr(x, y).statistic
    ci = stats.pearsonr(stats.rankdata(x), stats.rankdata(y)).confidence_interval(0.95)
    out["spearman"].append([float(rho), float(ci.low), float(ci.high), [float(r) for r in stats.rankdata(x)]])
out["binomBoot"] = [[float(stats.binom.ppf(0.025, n, k / n) / n), float(stats.binom.ppf(0.975, n, k / n) / n)] for k, n, _ in c["wilson"]]
out["slope"] = [float(stats.linregress(x, y).slope) for x, y in c["slope"]]
# Bootstrap 1: the very same resamples (indices drawn by the TS module), numpy's percentile.
data = np.asarray(c["boot"]["data"])
idx = np.asarray(c["boot"]["indices"])
reps = data[idx].mean(axis=1)
out["bootSame"] = [float(np.percentile(reps, 2.5)), float(np.percentile(reps, 97.5))]
# Paired difference on the same resamples.
a = np.asarray(c["boot"]["a"]); b = np.asarray(c["boot"]["b"])
preps = (a[idx] - b[idx]).mean(axis=1)
out["pairedSame"] = [float(np.percentile(preps, 2.5)), float(np.percentile(preps, 97.5))]
# Bootstrap 2: scipy's own percentile bootstrap (its own random stream), for a distributional check.
res = stats.bootstrap((data,), np.mean, method="percentile", n_resamples=c["boot"]["scipyResamples"], random_state=np.random.default_rng(1))
out["bootScipy"] = [float(res.confidence_interval.low), float(res.confidence_interval.high), float(res.standard_error)]
res = stats.bootstrap((a, b), lambda x, y, axis=-1: np.mean(x - y, axis=axis), paired=True, method="percentile", n_resamples=c["boot"]["scipyResamples"], random_state=np.random.default_rng(2))
out["pairedScipy"] = [float(res.confidence_interval.low), float(res.confidence_interval.high), float(res.standard_error)]
json.dump(out, sys.stdout)
`;

interface Reference {
  t: number[];
  norm: number[];
  wilson: Array<[number, number]>;
  summary: Array<[number, number, number, number]>;
  paired: Array<[number, number, number, number]>;
  spearman: Array<[number, number, number, number[]]>;
  slope: number[];
  binomBoot: Array<[number, number]>;
  bootSame: [number, number];
  pairedSame: [number, number];
  bootScipy: [number, number, number];
  pairedScipy: [number, number, number];
}

const rng = createRng('stats-test');
const T_CASES: Array<[number, number]> = [[0.975, 1], [0.975, 2], [0.975, 4], [0.975, 9], [0.995, 3], [0.9, 30], [0.975, 200]];
const NORM_CASES = [0.975, 0.995, 0.9, 0.5001, 0.025, 0.999999];
const WILSON_CASES: Array<[number, number, number]> = [[0, 40, 0.95], [40, 40, 0.95], [31, 40, 0.95], [1, 3, 0.95], [247, 400, 0.95], [247, 400, 0.9], [6, 60, 0.99]];
const SUMMARY_CASES = [[0.8, 0.84, 0.82], [0.61, 0.58], [0.5, 0.52, 0.49, 0.55, 0.51]];
const PAIRED_CASES: Array<[number[], number[]]> = [
  [[0.71, 0.69, 0.74], [0.65, 0.66, 0.7]],
  [[0.5, 0.6], [0.52, 0.55]],
  [[0.81, 0.79, 0.8, 0.84, 0.78], [0.8, 0.81, 0.77, 0.8, 0.79]],
];
// With ties on both sides (average ranks matter), and without.
const SPEARMAN_CASES: Array<[number[], number[]]> = [
  [[87.2, 54.3, 61, 95.5, 93.5, 163.4, 84.2, 64, 44.9, 99.2], [0.1, 0.05, 0.05, 0.2, 0.12, 0.3, 0.1, 0.02, 0.0, 0.15]],
  [[1, 2, 2, 3, 4, 5, 5, 5], [3, 1, 4, 1, 5, 9, 2, 6]],
  [Array.from({ length: 30 }, () => rng.normal()), Array.from({ length: 30 }, () => rng.normal())],
];
const SLOPE_CASES: Array<[number[], number[]]> = [[[0, 0.25, 0.5, 0.75, 1], [0.62, 0.6, 0.55, 0.47, 0.31]]];
// 400 test images, 0/1 correctness (~62 %), and a paired second arm.
const BOOT_N = 400;
const bootA: number[] = Array.from({ length: BOOT_N }, () => (rng.chance(0.62) ? 1 : 0));
const bootB = bootA.map((v) => (rng.chance(0.1) ? 1 - v : v));
const BOOT_SEED = 12345;
const BOOT_RESAMPLES = 2000;
const BIG_RESAMPLES = 20000;

let ref: Reference;

beforeAll(() => {
  const cases = {
    t: T_CASES,
    norm: NORM_CASES,
    wilson: WILSON_CASES,
    summary: SUMMARY_CASES,
    paired: PAIRED_CASES,
    spearman: SPEARMAN_CASES,
    slope: SLOPE_CASES,
    boot: { data: bootA, a: bootA, b: bootB, indices: bootstrapIndices(BOOT_N, BOOT_RESAMPLES, BOOT_SEED).map((row) => [...row]), scipyResamples: BIG_RESAMPLES },
  };
  const run = spawnSync(toolPaths.enginePython, ['-c', REFERENCE], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`scipy reference failed (${run.status}): ${run.stderr}`);
  ref = JSON.parse(run.stdout) as Reference;
}, 60_000);

describe('statistics against scipy (computed at test time)', () => {
  it('t and normal quantiles', () => {
    T_CASES.forEach(([q, df], i) => expect(studentTQuantile(q, df)).toBeCloseTo(ref.t[i], 9));
    NORM_CASES.forEach((q, i) => expect(normalQuantile(q)).toBeCloseTo(ref.norm[i], 9));
  });

  it('mean and t interval over seeds = scipy t.interval', () => {
    SUMMARY_CASES.forEach((values, i) => {
      const s = summarize(values);
      const [mean, sd, lo, hi] = ref.summary[i];
      expect(s.mean).toBeCloseTo(mean, 12);
      expect(s.sd).toBeCloseTo(sd, 12);
      expect(s.ciLow).toBeCloseTo(lo, 9);
      expect(s.ciHigh).toBeCloseTo(hi, 9);
    });
  });

  it('Wilson interval = scipy binomtest(...).proportion_ci(method="wilson"), including 0 % and 100 %', () => {
    WILSON_CASES.forEach(([k, n, level], i) => {
      const w = wilsonInterval(k, n, level);
      expect(w.estimate).toBe(k / n);
      expect(w.low).toBeCloseTo(ref.wilson[i][0], 9);
      expect(w.high).toBeCloseTo(ref.wilson[i][1], 9);
    });
    expect(() => wilsonInterval(5, 4)).toThrow(/successes/);
  });

  it('paired t over seeds = scipy ttest_rel and its confidence_interval', () => {
    PAIRED_CASES.forEach(([a, b], i) => {
      const r = pairedT(a, b);
      const [t, p, lo, hi] = ref.paired[i];
      expect(r.t).toBeCloseTo(t, 9);
      expect(r.pValue).toBeCloseTo(p, 9);
      expect(r.low).toBeCloseTo(lo, 9);
      expect(r.high).toBeCloseTo(hi, 9);
    });
  });

  it('Spearman ρ = scipy spearmanr (ties averaged); its Fisher-z interval with f = 1 = scipy pearsonr on the ranks', () => {
    SPEARMAN_CASES.forEach(([x, y], i) => {
      const [rho, lo, hi, ranks] = ref.spearman[i];
      expect(averageRanks(x)).toEqual(ranks);
      const pearsonOnRanks = spearman(x, y, { varianceFactor: 1 });
      expect(pearsonOnRanks?.estimate).toBeCloseTo(rho, 12);
      expect(pearsonOnRanks?.low).toBeCloseTo(lo, 9);
      expect(pearsonOnRanks?.high).toBeCloseTo(hi, 9);
      // The default (Fieller's f = 1.06) is the same centre, a little wider on the z scale.
      const fieller = spearman(x, y);
      expect(fieller?.estimate).toBeCloseTo(rho, 12);
      const z = Math.atanh(rho);
      expect(Math.atanh(fieller?.high as number) - z).toBeCloseTo((Math.atanh(hi) - z) * Math.sqrt(1.06), 9);
    });
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeNull();
    expect(spearman([1, 1, 1, 1], [1, 2, 3, 4])).toBeNull();
  });

  it('per-class bootstrap from counts = the binomial quantiles scipy binom.ppf gives (the percentile bootstrap as resamples → ∞)', () => {
    WILSON_CASES.forEach(([k, n], i) => {
      const r = binomialBootstrapInterval(k, n);
      expect(r.low).toBeCloseTo(ref.binomBoot[i][0], 12);
      expect(r.high).toBeCloseTo(ref.binomBoot[i][1], 12);
    });
    // And the drawn bootstrap of the same 0/1 images lands on it (within one image either side).
    const values = Array.from({ length: 60 }, (_, i) => (i < 41 ? 1 : 0));
    const drawn = bootstrap(60, (idx) => meanAt(values, idx), { seed: 3, resamples: 20000 });
    const exact = binomialBootstrapInterval(41, 60);
    expect(Math.abs(drawn.low - exact.low)).toBeLessThanOrEqual(1 / 60 + 1e-12);
    expect(Math.abs(drawn.high - exact.high)).toBeLessThanOrEqual(1 / 60 + 1e-12);
  });

  it('slope over p = scipy linregress', () => {
    SLOPE_CASES.forEach(([x, y], i) => expect(olsSlope(x, y)).toBeCloseTo(ref.slope[i], 12));
  });

  it('bootstrap: on the same resamples, the interval is numpy percentile of the replicates (mean and paired difference)', () => {
    const r = bootstrap(BOOT_N, (idx) => meanAt(bootA, idx), { seed: BOOT_SEED, resamples: BOOT_RESAMPLES });
    expect(r.estimate).toBeCloseTo(bootA.reduce((s, v) => s + v, 0) / BOOT_N, 12);
    expect(r.low).toBeCloseTo(ref.bootSame[0], 12);
    expect(r.high).toBeCloseTo(ref.bootSame[1], 12);
    const diff = bootA.map((v, i) => v - bootB[i]);
    const p = bootstrap(BOOT_N, (idx) => meanAt(diff, idx), { seed: BOOT_SEED, resamples: BOOT_RESAMPLES });
    expect(p.low).toBeCloseTo(ref.pairedSame[0], 12);
    expect(p.high).toBeCloseTo(ref.pairedSame[1], 12);
    // Seeded: the same seed gives the same interval, another seed another one.
    expect(bootstrap(BOOT_N, (idx) => meanAt(bootA, idx), { seed: BOOT_SEED, resamples: BOOT_RESAMPLES }).replicates).toEqual(r.replicates);
    expect(bootstrap(BOOT_N, (idx) => meanAt(bootA, idx), { seed: BOOT_SEED + 1, resamples: BOOT_RESAMPLES }).replicates).not.toEqual(r.replicates);
  });

  it('bootstrap: with its own random stream, agrees with scipy.stats.bootstrap(method="percentile") within Monte Carlo error', () => {
    // Different resamples, so only distributional agreement is expected: 20000 resamples each put
    // the 2.5 % / 97.5 % quantiles within ~0.1 standard errors of each other; allow 0.25 se (and
    // the 1/400 lattice of a mean of 0/1 values).
    const check = (values: number[], scipy: [number, number, number], seed: number) => {
      const r = bootstrap(values.length, (idx) => meanAt(values, idx), { seed, resamples: BIG_RESAMPLES });
      const tol = Math.max(0.25 * scipy[2], 1.01 / BOOT_N);
      expect(Math.abs(r.low - scipy[0])).toBeLessThanOrEqual(tol);
      expect(Math.abs(r.high - scipy[1])).toBeLessThanOrEqual(tol);
      const sd = Math.sqrt(r.replicates.reduce((s, v) => s + (v - r.estimate) ** 2, 0) / (r.replicates.length - 1));
      expect(Math.abs(sd - scipy[2]) / scipy[2]).toBeLessThan(0.05);
    };
    check(bootA, ref.bootScipy, 7);
    check(bootA.map((v, i) => v - bootB[i]), ref.pairedScipy, 8);
  });
});
