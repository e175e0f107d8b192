/**
 * The training-curves figure (`synthmix report ID --out DIR --curves`, issue 17 point 4): one panel
 * per cell, each with its train-loss and val-accuracy lines of one point per epoch, read back from
 * the rendered SVG itself. No servers: fixture runs, and a sweep record with metrics.json in a local store.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curveGroups, curvesSpec, CURVES_FILES, writeCurves } from '../lib/report/curves.js';
import { exampleReport } from '../lib/report/example.js';
import type { ExportRun } from '../lib/report/export-runs.js';
import { renderSvg } from '../lib/report/figures.js';
import { saveSweepRecord } from '../lib/report/record.js';
import type { CellOutcome, ReportInput } from '../lib/report/types.js';
import { createLocalStore, type LocalStore } from '../lib/store/index.js';

interface Panel {
  /** cellId → { metric → points in its line } */
  lines: Array<{ cellId: string; metric: string; points: number }>;
}

/**
 * The facet panels of the SVG, in order: the direct children of each `…_cell` group, with the line
 * marks inside each (vega labels every line path with its first datum, `cellId` included).
 */
function panelsOf(svg: string): Panel[] {
  const panels: Panel[] = [];
  // Each open <g>: whether it is a facet's cell group, and the panel it belongs to.
  const stack: Array<{ cells: boolean; panel?: Panel }> = [];
  const token = /<(\/?)(g|path)\b([^>]*?)(\/?)>/g;
  for (let m = token.exec(svg); m; m = token.exec(svg)) {
    const [, closing, tag, attrs, selfClosing] = m;
    if (tag === 'g' && closing) {
      stack.pop();
      continue;
    }
    const parent = stack[stack.length - 1];
    if (tag === 'g') {
      const cells = /class="mark-group role-scope concat_\d+_cell"/.test(attrs);
      let panel = parent?.panel;
      if (parent?.cells) {
        panel = { lines: [] };
        panels.push(panel);
      }
      if (!selfClosing) stack.push({ cells, panel });
      continue;
    }
    if (!/aria-roledescription="line mark"/.test(attrs)) continue;
    const label = /aria-label="([^"]*)"/.exec(attrs)?.[1] ?? '';
    const d = /\bd="([^"]*)"/.exec(attrs)?.[1] ?? '';
    const cellId = /cellId: ([^;"]+)/.exec(label)?.[1]?.trim() ?? '';
    const metric = label.includes('train loss') ? 'train loss' : label.includes('val accuracy') ? 'val accuracy' : '?';
    expect(parent?.panel, `line of ${cellId} outside a panel`).toBeDefined();
    // One subpath (no break), its vertices: M then L per further point.
    expect(d.match(/M/g)?.length, `line of ${cellId}`).toBe(1);
    parent!.panel!.lines.push({ cellId, metric, points: (d.match(/L/g)?.length ?? 0) + 1 });
  }
  return panels;
}

/** Fixture runs: the example sweep's cells, epochs per mode as configured (they differ), curves made up. */
function runsOf(input: ReportInput): ExportRun[] {
  const epochs = input.config.train.epochs as Record<string, number>;
  return input.cells
    .filter((c) => c.status === 'done')
    .map(({ cell }, i) => ({
      tags: { sweepId: input.sweepId, cellId: cell.id, arm: cell.arm, source: cell.source, p: cell.p, mode: cell.mode, seed: cell.seed },
      final: {},
      epochs: Array.from({ length: epochs[cell.mode] }, (_, e) => ({
        epoch: e + 1,
        values: { 'train/loss': 2.3 / (e + 1) + (i % 7) * 0.01, 'train/accuracy': Math.min(1, 0.1 + 0.1 * e), 'val/accuracy': Math.min(1, 0.12 + 0.08 * e), lr: 0.01 },
      })),
    }));
}

function expectOnePanelPerRun(panels: Panel[], runs: ExportRun[]): void {
  expect(panels).toHaveLength(runs.length);
  const byCell = new Map(runs.map((r) => [r.tags.cellId, r]));
  const seen = new Set<string>();
  for (const panel of panels) {
    expect(panel.lines.map((l) => l.metric).sort()).toEqual(['train loss', 'val accuracy']);
    const ids = new Set(panel.lines.map((l) => l.cellId));
    expect(ids.size).toBe(1);
    const [id] = ids;
    expect(seen.has(id), `cell ${id} in two panels`).toBe(false);
    seen.add(id);
    const run = byCell.get(id);
    expect(run, `panel of unknown cell ${id}`).toBeDefined();
    for (const line of panel.lines) expect(line.points, `${id} ${line.metric}`).toBe(run!.epochs.length);
  }
  expect([...seen].sort()).toEqual([...byCell.keys()].sort());
}

let input: ReportInput;
let tmp: string;
let store: LocalStore;
const FAILED = 'dreambooth-p0.5-finetune-s0';

beforeAll(async () => {
  ({ input } = await exampleReport({ seeds: [0], samplesPerCell: 1, sweepId: 'curves-sweep', failures: { [FAILED]: 'BadInput: made to fail' } }));
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-curves-'));
  store = createLocalStore(path.join(tmp, 'store'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('training curves (small multiples)', () => {
  it('fixture runs: one panel per cell, rows per series and mode, each line one point per epoch', async () => {
    // The RandAugment arm too (source `original` and p = 0, like an only-original cell: a row of its own).
    const runs = [
      ...runsOf(input),
      ...runsOf(input)
        .filter((r) => r.tags.arm === 'only-original' && r.tags.p === 0)
        .map((r): ExportRun => ({ ...r, tags: { ...r.tags, arm: 'randaugment', cellId: `randaugment-${r.tags.mode}-s0` } })),
    ];
    // The fixture covers what could be confused: modes with different epochs, the RandAugment and only-original arms.
    expect(new Set(runs.map((r) => r.epochs.length)).size).toBeGreaterThan(1);
    expect(runs.some((r) => r.tags.arm === 'only-original')).toBe(true);
    expect(runs.filter((r) => r.tags.arm === 'randaugment')).toHaveLength(3);
    const groups = curveGroups(runs);
    expect(groups.reduce((n, g) => n + g.runs.length, 0)).toBe(runs.length);
    for (const g of groups) expect(new Set(g.runs.map((r) => `${r.tags.p}/${r.tags.seed}`)).size).toBe(g.runs.length);

    const svg = await renderSvg(curvesSpec(input.sweepId, runs, 1));
    const panels = panelsOf(svg);
    expectOnePanelPerRun(panels, runs);
    // A row title per (series, mode), and the failed cell said.
    expect((svg.match(/class="mark-group role-scope concat_\d+_cell"/g) ?? []).length).toBe(groups.length);
    expect(svg).toContain('Vanilla SD — scratch');
    expect(svg).toContain('RandAugment (originals) — frozen');
    expect(svg).toContain('1 failed cell not drawn');
  });

  it('writeCurves: from a sweep record and each cell metrics.json in the store to curves.svg/.png/.vl.json', async () => {
    const epochs = input.config.train.epochs as Record<string, number>;
    const cells: CellOutcome[] = [];
    for (const outcome of input.cells) {
      if (outcome.status !== 'done' || !outcome.train) {
        cells.push(outcome);
        continue;
      }
      const metricsKey = `steps/train/${outcome.cell.id}/metrics.json`;
      const n = epochs[outcome.cell.mode];
      await store.putJson(metricsKey, {
        epochs: Array.from({ length: n }, (_, e) => ({ epoch: e + 1, loss: 2 - e * 0.1, trainAcc: 0.1 * e, valAcc: 0.05 * e, lr: 0.01 })),
        bestEpoch: n,
        bestValAcc: 0.05 * (n - 1),
      });
      cells.push({ ...outcome, train: { ...outcome.train, metricsKey } });
    }
    await saveSweepRecord(store, { ...input, cells, evaluationContext: { test: { key: 'manifests/test.json', sha256: '0'.repeat(64) }, arch: { width: 16, stem: 'cifar', imageSize: 32, numClasses: input.classes.length } } });
    const out = path.join(tmp, 'out');
    const written = await writeCurves(store, input.sweepId, out);
    expect(written.map((f) => path.basename(f)).sort()).toEqual(Object.values(CURVES_FILES).sort());
    const svg = await readFile(path.join(out, CURVES_FILES.svg), 'utf8');
    const done = cells.filter((c) => c.status === 'done');
    const panels = panelsOf(svg);
    expect(panels).toHaveLength(done.length);
    for (const panel of panels) for (const line of panel.lines) expect(line.points).toBe(epochs[done.find((c) => c.cell.id === line.cellId)!.cell.mode]);
    expect(panels.some((p) => p.lines.some((l) => l.cellId === FAILED))).toBe(false);
    expect(svg).toContain('1 failed cell not drawn');
    const png = await readFile(path.join(out, CURVES_FILES.png));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  });
});
