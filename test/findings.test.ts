/**
 * Findings on a planted effect: fake evaluation sets where one source (vanilla) is truly better than
 * only-original by a known margin and another (dreambooth) is not. The report must call the first
 * "holds" and never the second — across seeds (t interval) and within one seed (bootstrap over test
 * images, paired by image from the per-image evaluation results).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReportData } from '../lib/report/data.js';
import { fetchTestResults, type CellTestData } from '../lib/report/evaluations.js';
import { createLocalStore } from '../lib/store/index.js';
import { computeFindings, verdictOf, type Findings, type FindingRow } from '../lib/report/findings.js';
import { renderReport } from '../lib/report/render.js';
import { wrapText } from '../lib/report/findings-svg.js';
import { textWidth } from '../lib/report/fonts.js';
import type { CellOutcome, FidRow, ReportInput } from '../lib/report/types.js';
import { createRng } from '../lib/random.js';
import { enumerateCells, type Cell } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';

const MARGIN = 0.08;
const CLASSES = ['a', 'b', 'c', 'd'];

function baseInput(seeds: number[]): { input: ReportInput; cells: Cell[] } {
  const config = resolveSweepConfig('demo', { name: 'planted', seeds, sources: ['vanilla', 'dreambooth'] });
  return {
    cells: enumerateCells(config),
    input: { sweepId: 'planted', config, classes: CLASSES, cells: [], fid: [], samples: { classes: [], columns: [], images: {} }, stages: [], codeVersion: 'test', backends: {}, startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T01:00:00.000Z' },
  };
}

function done(cell: Cell, accuracy: number): CellOutcome {
  return { cell, status: 'done', evaluation: { overallAccuracy: accuracy, perClass: Object.fromEntries(CLASSES.map((c) => [c, accuracy])), evaluationKey: `cells/${cell.id}/evaluation.json` } };
}

function row(findings: Findings, observation: 'a' | 'b' | 'c', mode: string, source: string): FindingRow {
  const found = findings.observations.find((o) => o.id === observation)?.rows.find((r) => r.mode === mode && r.source === source);
  if (!found) throw new Error(`no finding (${observation}) for ${mode}/${source}`);
  return found;
}

describe('the Findings picture', () => {
  it('wraps a note wider than the picture into lines that fit, losing no word', () => {
    const note = '3 seeds (0, 1, 2), seed scope "all": each seed fine-tuned, generated, mixed and trained on its own, so intervals over seeds include the generator\'s variance (the base models are shared, as the paper\'s pretrained weights are).';
    const lines = wrapText(note, 12, 600);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join(' ')).toBe(note);
    for (const line of lines) expect(textWidth(line, 12)).toBeLessThanOrEqual(600);
    expect(wrapText('short', 12, 600)).toEqual(['short']);
  });
});

describe('verdicts', () => {
  it('say no more than the interval', () => {
    expect(verdictOf({ low: 0.01, high: 0.2 }, 1)).toBe('holds');
    expect(verdictOf({ low: -0.01, high: 0.2 }, 1)).toBe('inconclusive at this sample size');
    expect(verdictOf({ low: -0.3, high: -0.01 }, 1)).toBe('does not hold');
    expect(verdictOf({ low: -0.3, high: -0.01 }, -1)).toBe('holds');
  });
});

describe('Findings on a planted effect', () => {
  it('across 3 seeds: the truly better source holds, the equal one is inconclusive (t interval over seeds)', () => {
    const { input, cells } = baseInput([0, 1, 2]);
    // only-original at p: 0.70 − 0.2p plus a per-seed offset; vanilla: that + 8 points (± 1 point per
    // seed); dreambooth: that + {−2, 0, +2} points by seed (true difference exactly 0).
    const seedOffset = [0.01, -0.02, 0.015];
    const vanillaJitter = [-0.01, 0.005, 0.01];
    const dreamboothJitter = [-0.02, 0, 0.02];
    input.cells = cells.map((cell) => {
      const s = cell.seed;
      const original = 0.7 - 0.2 * cell.p + seedOffset[s];
      if (cell.arm === 'only-original') return done(cell, original);
      if (cell.p === 0) return done(cell, original);
      if (cell.p >= 1) return done(cell, 0.4 + seedOffset[s]);
      return done(cell, original + (cell.source === 'vanilla' ? MARGIN + vanillaJitter[s] : dreamboothJitter[s]));
    });
    const data = buildReportData(input);
    const findings = computeFindings(data, data.tests);
    for (const mode of input.config.train.modes) {
      const better = row(findings, 'a', mode, 'vanilla');
      expect(better.verdict).toBe('holds');
      expect(better.effects[0].estimate).toBeCloseTo(MARGIN + (vanillaJitter[0] + vanillaJitter[1] + vanillaJitter[2]) / 3, 12);
      expect(better.effects[0].seeds).toBe(3);
      expect(better.effects[0].method).toContain('t interval over 3 seeds');
      const equal = row(findings, 'a', mode, 'dreambooth');
      expect(['inconclusive at this sample size', 'does not hold']).toContain(equal.verdict);
      expect(equal.effects[0].low).toBeLessThan(0);
      expect(equal.effects[0].high).toBeGreaterThan(0);
      // (b): accuracy falls from p = 0 to p = 1 for both.
      expect(row(findings, 'b', mode, 'vanilla').verdict).toBe('holds');
    }
    expect(findings.observations.find((o) => o.id === 'a')?.summary).toBe(`holds for 3; inconclusive at this sample size for 3 of 6 (source, init mode) pairs`);
    // No FID rows: (c) says it could not be tested rather than guessing.
    expect(findings.observations.find((o) => o.id === 'c')?.summary).toMatch(/not testable/);
  });

  it('within one seed: paired by test image, the better source holds, the equal one is not called; the report puts it first and in findings.json', async () => {
    const { input, cells } = baseInput([0]);
    const n = 400;
    const labels = Array.from({ length: n }, (_, i) => i % CLASSES.length);
    const rng = createRng('planted-images');
    const tests = new Map<string, CellTestData>();
    const perCell = (correct: number[]): CellTestData => {
      const perClass = Object.fromEntries(CLASSES.map((c, k) => {
        const mine = labels.map((l, i) => (l === k ? correct[i] : -1)).filter((v) => v >= 0);
        return [c, { correct: mine.reduce((s, v) => s + v, 0), total: mine.length }];
      }));
      return { origin: 'per-image', perClass, images: { classes: CLASSES, labels, correct } };
    };
    const planted = (cell: Cell): boolean => cell.arm === 'mixed' && cell.p > 0 && cell.p < 1;
    const outcome = (cell: Cell): CellOutcome => {
      const acc = cell.arm === 'only-original' || cell.p === 0 ? 0.6 - 0.1 * cell.p : cell.p >= 1 ? 0.35 : 0.6 - 0.1 * cell.p;
      // A fresh draw per cell at the base accuracy...
      const correct: number[] = Array.from({ length: n }, () => (rng.chance(acc) ? 1 : 0));
      if (planted(cell)) {
        const original = tests.get(`original-p${cell.p}-${cell.mode}-s0`);
        if (!original?.images) throw new Error(`no only-original cell at p = ${cell.p}`);
        const base = [...original.images.correct];
        if (cell.source === 'vanilla') {
          // ...the better source: the only-original cell's answers, plus 32 of its wrong images (8 points) right.
          let flipped = 0;
          for (let i = 0; i < n && flipped < MARGIN * n; i++) if (base[i] === 0) { base[i] = 1; flipped++; }
        } else {
          // ...the equal source: as many right, but 30 right and 30 wrong images swapped.
          const right = base.flatMap((v, i) => (v === 1 ? [i] : [])).slice(0, 30);
          const wrong = base.flatMap((v, i) => (v === 0 ? [i] : [])).slice(0, 30);
          for (const i of right) base[i] = 0;
          for (const i of wrong) base[i] = 1;
        }
        tests.set(cell.id, perCell(base));
        return done(cell, base.reduce((s, v) => s + v, 0) / n);
      }
      tests.set(cell.id, perCell(correct));
      return done(cell, correct.reduce((s, v) => s + v, 0) / n);
    };
    // The only-original cells first: the planted cells are built from their answers.
    const outcomes = new Map<string, CellOutcome>();
    for (const cell of [...cells.filter((c) => !planted(c)), ...cells.filter(planted)]) outcomes.set(cell.id, outcome(cell));
    input.cells = cells.map((cell) => outcomes.get(cell.id) as CellOutcome);
    const data = buildReportData(input, tests);
    const findings = computeFindings(data, data.tests);
    for (const mode of input.config.train.modes) {
      const better = row(findings, 'a', mode, 'vanilla');
      expect(better.verdict).toBe('holds');
      expect(better.effects[0].estimate).toBeCloseTo(MARGIN, 12);
      expect(better.effects[0].method).toContain('paired by image');
      expect(better.caveats.join(' ')).toContain('test-set noise only');
      const equal = row(findings, 'a', mode, 'dreambooth');
      expect(equal.effects[0].estimate).toBeCloseTo(0, 12);
      expect(['inconclusive at this sample size', 'does not hold']).toContain(equal.verdict);
    }
    expect(findings.notes.join(' ')).toContain('One seed');

    const files = await renderReport(input, { images: new Map() }, tests);
    const html = files.find((f) => f.name === 'index.html')?.bytes.toString('utf8') ?? '';
    expect(html.indexOf('id="findings"')).toBeGreaterThan(0);
    expect(html.indexOf('id="findings"')).toBeLessThan(html.indexOf('id="accuracy"'));
    expect(html).toContain('+8.0 pts');
    const json = JSON.parse(files.find((f) => f.name === 'findings.json')?.bytes.toString('utf8') ?? '{}') as Findings;
    expect(json.observations.map((o) => o.id)).toEqual(['a', 'b', 'c']);
    expect(json.observations[0].rows.filter((r) => r.source === 'vanilla').map((r) => r.verdict)).toEqual(['holds', 'holds', 'holds']);
    expect(json.observations[0].rows.filter((r) => r.source === 'dreambooth').every((r) => r.verdict !== 'holds')).toBe(true);
  }, 120_000);
});

describe('Findings (c): per-class drops against FID', () => {
  it('a drop that rises with FID holds; a drop unrelated to FID is not called; too few classes get no verdict', () => {
    const { input, cells } = baseInput([0]);
    const classes = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'];
    input.classes = classes;
    const fidOf = [40, 95, 60, 120, 75, 30, 88, 51];
    // vanilla: drop = FID / 1000 (same ranking); dreambooth: the drops of a ranking unrelated to FID (ρ = 0).
    const unrelated = [3, 8, 1, 6, 5, 4, 2, 7];
    const drop = (source: string, k: number): number => (source === 'vanilla' ? fidOf[k] / 1000 : unrelated[k] / 100);
    input.cells = cells.map((cell): CellOutcome => {
      const perClass = Object.fromEntries(classes.map((c, k) => [c, 0.7 - (cell.arm === 'mixed' ? cell.p * drop(cell.source, k) : 0)]));
      return { cell, status: 'done', evaluation: { overallAccuracy: 0.6, perClass, evaluationKey: `cells/${cell.id}/evaluation.json` } };
    });
    const fidRow = (source: string, className: string, fid: number): FidRow => ({ source, className, fid, kidMean: 0, kidStd: 0, n1: 60, n2: 60, epsilonUsed: 0, extractorId: 'x', weightsSha256: 'y' });
    input.fid = ['vanilla', 'dreambooth'].flatMap((source) => classes.map((c, k) => fidRow(source, c, fidOf[k])));
    const data = buildReportData(input);
    const findings = computeFindings(data, data.tests);
    for (const mode of input.config.train.modes) {
      const tracks = row(findings, 'c', mode, 'vanilla');
      expect(tracks.effects[0].estimate).toBeCloseTo(1, 12);
      expect(tracks.verdict).toBe('holds');
      const unrelatedRow = row(findings, 'c', mode, 'dreambooth');
      expect(unrelatedRow.effects[0].low).toBeLessThan(0);
      expect(unrelatedRow.verdict).toBe('inconclusive at this sample size');
    }
    // Four classes: a perfect ranking is no verdict.
    const four = { ...input, classes: classes.slice(0, 4), fid: input.fid.filter((r) => classes.slice(0, 4).includes(r.className)) };
    const fewer = computeFindings(buildReportData(four), new Map());
    const perfect = row(fewer, 'c', 'scratch', 'vanilla');
    expect(perfect.effects[0].estimate).toBeCloseTo(1, 12);
    expect(perfect.verdict).toBe('inconclusive at this sample size');
  });
});

describe('test results from the stored evaluation files', () => {
  it('reads per-image results and counts; a missing or malformed file is left out (the report infers counts)', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-findings-'));
    try {
      const store = createLocalStore(path.join(tmp, 'store'));
      const { input, cells } = baseInput([0]);
      const [a, b, c, d] = cells;
      input.cells = [done(a, 0.5), done(b, 0.5), done(c, 0.5), done(d, 0.5)];
      const classes = ['a', 'b'];
      await store.put(`cells/${a.id}/evaluation.json`, JSON.stringify({
        overallAccuracy: 0.5, classes, labels: [0, 0, 1, 1], predictions: [0, 1, 1, 0], confusion: [[1, 1], [1, 1]],
        perClass: { a: { correct: 1, total: 2, accuracy: 0.5 }, b: { correct: 1, total: 2, accuracy: 0.5 } },
      }));
      // Written before per-image results were kept: counts only.
      await store.put(`cells/${b.id}/evaluation.json`, JSON.stringify({ overallAccuracy: 0.5, perClass: { a: { correct: 1, total: 2, accuracy: 0.5 }, b: { correct: 1, total: 2, accuracy: 0.5 } } }));
      await store.put(`cells/${c.id}/evaluation.json`, JSON.stringify({ overallAccuracy: 'half' }));
      const tests = await fetchTestResults(store, input);
      expect(tests.get(a.id)).toEqual({ origin: 'per-image', perClass: { a: { correct: 1, total: 2 }, b: { correct: 1, total: 2 } }, images: { classes, labels: [0, 0, 1, 1], correct: [1, 0, 1, 0] } });
      expect(tests.get(b.id)?.origin).toBe('counts');
      expect(tests.has(c.id)).toBe(false);
      expect(tests.has(d.id)).toBe(false);
      // The report fills the gaps from the accuracies and the configured test images per class.
      const data = buildReportData(input, tests);
      expect(data.tests.get(d.id)?.origin).toBe('inferred');
      expect(data.rows.find((r) => r.cellId === a.id)?.testImages).toBe(4);
      expect(data.rows.find((r) => r.cellId === d.id)?.testImages).toBe(input.config.dataset.testPerClass * CLASSES.length);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
