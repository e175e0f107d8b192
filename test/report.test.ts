import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadReport, createReportActivities } from '../activities/report.js';
import { loadConfig } from '../lib/config/load.js';
import { BadInputError, NotFoundError } from '../lib/errors.js';
import { sha256Hex } from '../lib/hash.js';
import { buildReportData } from '../lib/report/data.js';
import { computeFindings } from '../lib/report/findings.js';
import { renderHtml } from '../lib/report/html.js';
import { exampleReport } from '../lib/report/example.js';
import { accuracySpec } from '../lib/report/figures.js';
import { parseCsv } from '../lib/report/render.js';
import { composeSampleGrid } from '../lib/report/samples.js';
import { studentTQuantile, summarize } from '../lib/report/stats.js';
import type { ReportInput, ReportOutput } from '../lib/report/types.js';
import { createLocalStore, type LocalStore } from '../lib/store/index.js';

const FAILED_CELL = 'dreambooth-p0.5-finetune-s1';
const FAILED_REASON = 'BadInput: train manifest for class "ship" has 0 images <generate output missing> & retried';
const SERIES = ['Vanilla SD', 'DreamBooth', 'Textual inversion', 'Only original'];
const MODES = ['scratch', 'finetune', 'frozen'];

let tmp: string;
let store: LocalStore;
let input: ReportInput;
let images: Map<string, Buffer>;
let output: ReportOutput;
const config = loadConfig({ env: {} });

async function storedText(key: string): Promise<string> {
  return (await store.get(key)).toString('utf8');
}

/** A strict-enough well-formedness check: balanced tags, quoted attributes, known entities. */
function assertWellFormedXml(text: string, what: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>/g;
  let last = 0;
  for (let m = tag.exec(text); m; m = tag.exec(text)) {
    const between = text.slice(last, m.index);
    if (between.includes('<')) throw new Error(`${what}: malformed markup near ${JSON.stringify(text.slice(last, last + 80))}`);
    for (const entity of between.match(/&[^;\s]*;?/g) ?? []) {
      if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);$/.test(entity)) throw new Error(`${what}: bad entity ${entity}`);
    }
    last = tag.lastIndex;
    if (!m[2]) continue;
    if (m[1]) {
      const open = stack.pop();
      if (open !== m[2]) throw new Error(`${what}: </${m[2]}> closes <${open}>`);
    } else if (!m[4]) stack.push(m[2]);
  }
  if (text.slice(last).includes('<')) throw new Error(`${what}: malformed markup at the end`);
  if (stack.length > 0) throw new Error(`${what}: unclosed <${stack.join('>, <')}>`);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-report-'));
  store = createLocalStore(path.join(tmp, 'store'));
  ({ input, images } = await exampleReport({ seeds: [0, 1], failures: { [FAILED_CELL]: FAILED_REASON }, history: true }));
  // The sample images as real PNGs in the store, under the keys the input names.
  for (const [key, bytes] of images) {
    const info = await store.putContentAddressed('images', bytes, '.png');
    expect(info.key).toBe(key);
  }
  output = await createReportActivities({ store, config }).report(input);
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('the report input', () => {
  it('is realistic: 10 classes, 3 sources, 5 p, 3 modes, only-original cells, 2 seeds, a failed cell, FID rows', () => {
    expect(input.classes).toHaveLength(10);
    expect(input.config.sources).toEqual(['vanilla', 'dreambooth', 'textual']);
    expect(input.config.mix.p).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(input.config.train.modes).toEqual(MODES);
    expect(input.config.seeds).toEqual([0, 1]);
    // 2 seeds × 3 modes × (5 p × 3 sources + only-original at the 4 p below 1).
    expect(input.cells).toHaveLength(2 * 3 * (5 * 3 + 4));
    expect(input.cells.filter((c) => c.cell.arm === 'only-original')).toHaveLength(24);
    expect(input.cells.filter((c) => c.status === 'failed').map((c) => c.cell.id)).toEqual([FAILED_CELL]);
    expect(input.fid).toHaveLength(3 * 11);
  });
});

describe('report activity', () => {
  it('writes every file under reports/<sweepId>/ and returns their keys', async () => {
    const prefix = `reports/${input.sweepId}`;
    expect(output.prefix).toBe(prefix);
    expect(output.htmlKey).toBe(`${prefix}/index.html`);
    const expected = [
      'index.html', 'samples.png', 'results.csv', 'results.json', 'summary.csv', 'fid.csv', 'fid.json', 'history.csv', 'findings.json',
      ...MODES.flatMap((m) => [`accuracy-${m}.svg`, `accuracy-${m}.png`, `accuracy-${m}.vl.json`, `per-class-${m}.svg`, `per-class-${m}.png`, `per-class-${m}.vl.json`]),
    ].map((name) => `${prefix}/${name}`);
    expect([...output.files].sort()).toEqual([...expected].sort());
    const listed = (await store.list(`${prefix}/`)).map((o) => o.key);
    expect(listed.sort()).toEqual([...expected].sort());
    for (const key of output.files) expect((await store.stat(key))?.size).toBeGreaterThan(0);
    // The PNGs are real PNGs.
    for (const key of output.files.filter((k) => k.endsWith('.png'))) {
      const meta = await sharp(await store.get(key)).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBeGreaterThan(300);
    }
  });

  it('results.csv and results.json hold exactly the input numbers', async () => {
    const csv = parseCsv(await storedText(`${output.prefix}/results.csv`));
    const [header, ...rows] = csv;
    const col = (name: string): number => {
      const i = header.indexOf(name);
      expect(i, `column ${name}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(rows).toHaveLength(input.cells.length);
    const json = JSON.parse(await storedText(`${output.prefix}/results.json`)) as { cells: Array<Record<string, unknown>>; config: unknown; fid: unknown[] };
    expect(json.cells).toHaveLength(input.cells.length);
    expect(json.config).toEqual(input.config);
    const num = (text: string): number | null => (text === '' ? null : Number(text));
    for (const outcome of input.cells) {
      const row = rows.find((r) => r[col('cellId')] === outcome.cell.id);
      const jrow = json.cells.find((r) => r.cellId === outcome.cell.id);
      expect(row, outcome.cell.id).toBeDefined();
      expect(jrow, outcome.cell.id).toBeDefined();
      if (!row || !jrow) continue;
      expect(row[col('arm')]).toBe(outcome.cell.arm);
      expect(row[col('source')]).toBe(outcome.cell.source);
      expect(num(row[col('p')])).toBe(outcome.cell.p);
      expect(row[col('mode')]).toBe(outcome.cell.mode);
      expect(num(row[col('seed')])).toBe(outcome.cell.seed);
      expect(row[col('status')]).toBe(outcome.status);
      expect(jrow.p).toBe(outcome.cell.p);
      expect(jrow.seed).toBe(outcome.cell.seed);
      expect(jrow.status).toBe(outcome.status);
      expect(num(row[col('overallAccuracy')])).toBe(outcome.evaluation?.overallAccuracy ?? null);
      expect(jrow.overallAccuracy).toBe(outcome.evaluation?.overallAccuracy ?? null);
      for (const cls of input.classes) {
        expect(num(row[col(`acc:${cls}`)])).toBe(outcome.evaluation?.perClass[cls] ?? null);
        expect((jrow.perClass as Record<string, number | null>)[cls]).toBe(outcome.evaluation?.perClass[cls] ?? null);
      }
      expect(num(row[col('bestValAcc')])).toBe(outcome.train?.bestValAcc ?? null);
      expect(num(row[col('bestEpoch')])).toBe(outcome.train?.bestEpoch ?? null);
      expect(num(row[col('epochs')])).toBe(outcome.train?.epochs ?? null);
      expect(num(row[col('trainImages')])).toBe(outcome.train?.trainImages ?? null);
      expect(num(row[col('valImages')])).toBe(outcome.train?.valImages ?? null);
      expect(num(row[col('wallMs')])).toBe(outcome.wallMs ?? null);
      expect(jrow.bestValAcc).toBe(outcome.train?.bestValAcc ?? null);
      expect(jrow.epochs).toBe(outcome.train?.epochs ?? null);
    }
    // FID: every row, every number.
    const fid = parseCsv(await storedText(`${output.prefix}/fid.csv`));
    expect(fid.length - 1).toBe(input.fid.length);
    const fidJson = JSON.parse(await storedText(`${output.prefix}/fid.json`)) as { rows: unknown[]; extractors: string[] };
    expect(fidJson.extractors).toEqual([input.config.fid.extractor]);
    for (const r of input.fid) {
      const line = fid.find((f) => f[0] === r.source && f[1] === r.className);
      const kid = r.kidInterval as NonNullable<typeof r.kidInterval>;
      const over = r.fidInterval as NonNullable<typeof r.fidInterval>;
      expect(line).toEqual([
        r.source, r.className, String(r.fid), String(r.kidMean), String(r.kidStd), String(r.n1), String(r.n2), String(r.epsilonUsed), r.extractorId, r.weightsSha256, String(r.kidSubsetSize), String(r.kidSubsetCapped), r.seed === undefined ? '' : String(r.seed),
        String(kid.low), String(kid.high), String(kid.level), String(over.low), String(over.high), String(over.bias), String(over.level), String(over.resamples),
      ]);
      expect(fidJson.rows).toContainEqual(r);
    }
    // History: every re-evaluated number.
    const history = parseCsv(await storedText(`${output.prefix}/history.csv`));
    expect(history.length - 1).toBe((input.history ?? []).reduce((s, e) => s + e.cells.length, 0));
    const h = input.history?.[1].cells[3];
    expect(history).toContainEqual([input.history?.[1].at, input.history?.[1].testManifestKey, h?.cellId, String(h?.overallAccuracy)]);
  });

  it('summary.csv: every plotted point is the mean and 95% t interval over seeds', async () => {
    const [header, ...rows] = parseCsv(await storedText(`${output.prefix}/summary.csv`));
    const get = (r: string[], name: string): string => r[header.indexOf(name)];
    const point = rows.find((r) => get(r, 'mode') === 'scratch' && get(r, 'series') === 'vanilla' && get(r, 'p') === '0.25' && get(r, 'className') === 'overall');
    expect(point).toBeDefined();
    const values = [0, 1].map((seed) => input.cells.find((c) => c.cell.id === `vanilla-p0.25-scratch-s${seed}`)?.evaluation?.overallAccuracy as number);
    const mean = (values[0] + values[1]) / 2;
    const half = (12.706204736174707 * Math.abs(values[0] - values[1])) / 2; // t(0.975, 1) · sd/√2, sd = |a−b|/√2
    expect(Number(get(point as string[], 'n'))).toBe(2);
    expect(Number(get(point as string[], 'mean'))).toBeCloseTo(mean, 12);
    expect(Number(get(point as string[], 'ciHigh')) - mean).toBeCloseTo(half, 10);
    expect(mean - Number(get(point as string[], 'ciLow'))).toBeCloseTo(half, 10);
    // The failed seed's point: n = 1, failed = 1, no interval, the other seed's value as the mean.
    const partial = rows.find((r) => get(r, 'mode') === 'finetune' && get(r, 'series') === 'dreambooth' && get(r, 'p') === '0.5' && get(r, 'className') === 'overall') as string[];
    expect(get(partial, 'n')).toBe('1');
    expect(get(partial, 'failed')).toBe('1');
    expect(get(partial, 'ciLow')).toBe('');
    expect(Number(get(partial, 'mean'))).toBe(input.cells.find((c) => c.cell.id === 'dreambooth-p0.5-finetune-s0')?.evaluation?.overallAccuracy);
    expect(get(partial, 'cellIds')).toContain(FAILED_CELL);
  });

  it('says where the numbers were computed: each engine environment with its cell count', async () => {
    const html = await storedText(output.htmlKey);
    const done = input.cells.filter((c) => c.status === 'done').length;
    expect(html).toMatch(new RegExp(`computed on</th><td class="l">AMD EPYC; ISA: sse4_2 avx avx2 fma; torch kernels: AVX2; torch 2\\.13\\.0\\+cpu, BLAS mkl, 1 thread\\(s\\); CPU only — ${done} cells`));
    expect(html).toContain('same numbers on the same hardware and library build');
    // Outcomes recorded before environments were are counted, not guessed.
    const older = { ...input, cells: input.cells.map((c) => (c.train ? { ...c, train: { ...c.train, environment: undefined } } : c)) };
    expect(buildReportData(older).environments).toEqual([{ description: 'not recorded (trained before environments were recorded)', cells: done }]);
  });

  it('lists the failed cell with its reason in the HTML, the CSV and the figure data', async () => {
    const html = await storedText(output.htmlKey);
    const escaped = FAILED_REASON.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    expect(html).toContain(FAILED_CELL);
    expect(html).toContain(escaped);
    expect(html).toContain('1 cell failed');
    const [header, ...rows] = parseCsv(await storedText(`${output.prefix}/results.csv`));
    const row = rows.find((r) => r[0] === FAILED_CELL) as string[];
    expect(row[header.indexOf('status')]).toBe('failed');
    expect(row[header.indexOf('error')]).toBe(FAILED_REASON);
    expect(row[header.indexOf('overallAccuracy')]).toBe('');
    const spec = JSON.parse(await storedText(`${output.prefix}/accuracy-finetune.vl.json`)) as { data: { values: Array<Record<string, unknown>> } };
    const marked = spec.data.values.filter((v) => (v.failed as number) > 0);
    expect(marked).toHaveLength(1);
    expect(marked[0]).toMatchObject({ series: 'dreambooth', p: 0.5, n: 1, failed: 1 });
    expect(String(marked[0].cells)).toContain(FAILED_CELL);
    expect(await storedText(`${output.prefix}/accuracy-finetune.svg`)).toContain('1 failed cell');
    // Modes without failures say nothing about them.
    expect(await storedText(`${output.prefix}/accuracy-scratch.svg`)).not.toContain('failed cell');
  });

  it('the HTML is self-contained: inline CSS, no scripts, every linked file is in the report', async () => {
    const html = await storedText(output.htmlKey);
    assertWellFormedXml(html.replace(/<!DOCTYPE html>/, '').replace(/<(meta|br|img)\b([^>]*?)\/?>/g, '<$1$2/>'), 'index.html');
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link |https?:\/\/(?!vega)/);
    const names = new Set(output.files.map((k) => k.slice(output.prefix.length + 1)));
    const refs = [...html.matchAll(/(?:src|href)="([^"#][^"]*)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(names.has(ref), ref).toBe(true);
    for (const m of MODES) expect(html).toContain(`src="accuracy-${m}.svg"`);
    expect(html).toContain('src="samples.png"');
    // Header, FID table with extractor, run metadata, stage times, history.
    expect(html).toContain(`synthmix report: ${input.sweepId}`);
    expect(html).toContain(input.config.fid.extractor);
    expect(html).toContain('87.2');
    // The demo's KID subsets (30) fit its 60 images per class: no row capped, no note (the note: 'FID table' below).
    expect(input.fid.some((r) => r.kidSubsetCapped)).toBe(false);
    expect(html).not.toContain('capped to half the smaller set');
    // Each FID with its interval over images, each KID with its interval from the subsets.
    const cat = input.fid.find((r) => r.source === 'vanilla' && r.className === input.classes[0]) as (typeof input.fid)[number];
    expect(html).toContain(`95% [${cat.fidInterval?.low.toFixed(1)}, ${cat.fidInterval?.high.toFixed(1)}]`);
    expect(html).toContain(`KID ${(cat.kidMean * 1000).toFixed(2)} [${((cat.kidInterval?.low ?? NaN) * 1000).toFixed(2)}, ${((cat.kidInterval?.high ?? NaN) * 1000).toFixed(2)}] ×10⁻³`);
    // Findings first, with their JSON linked.
    expect(html.indexOf('id="findings"')).toBeLessThan(html.indexOf('id="accuracy"'));
    expect(html).toContain('href="findings.json"');
    expect(html).toContain(input.codeVersion);
    expect(html).toContain(input.startedAt);
    expect(html).toContain('1 h 12 min'); // 09:00:00 → 10:12:34
    expect(html).toContain('Time per stage');
    expect(html).toContain('Re-evaluations');
    expect(html).toContain(input.history?.[0].testManifestKey);
  });

  it('SVGs parse as XML and name every series (and every class in the per-class figures)', async () => {
    for (const key of output.files.filter((k) => k.endsWith('.svg'))) {
      const svg = await storedText(key);
      assertWellFormedXml(svg, key);
      expect(() => new Resvg(svg)).not.toThrow();
      for (const name of SERIES) expect(svg, `${key}: ${name}`).toContain(name);
      if (key.includes('per-class-')) for (const cls of input.classes) expect(svg).toContain(`>${cls}<`);
    }
  });

  it('same input ⇒ identical bytes', async () => {
    const other = createLocalStore(path.join(tmp, 'store-again'));
    for (const [, bytes] of images) await other.putContentAddressed('images', bytes, '.png');
    const again = await createReportActivities({ store: other, config }).report(structuredClone(input));
    expect(again.files).toEqual(output.files);
    for (const key of output.files) expect((await other.stat(key))?.sha256, key).toBe((await store.stat(key))?.sha256);
  });

  it('downloadReport copies the stored report to a local folder', async () => {
    const out = path.join(tmp, 'downloaded');
    const written = await downloadReport(store, input.sweepId, out);
    expect(written).toHaveLength(output.files.length);
    expect((await readdir(out)).sort()).toEqual(output.files.map((k) => k.slice(output.prefix.length + 1)).sort());
    for (const key of output.files) {
      const local = await readFile(path.join(out, key.slice(output.prefix.length + 1)));
      expect(sha256Hex(local)).toBe((await store.stat(key))?.sha256);
    }
    await expect(downloadReport(store, 'no-such-sweep', path.join(tmp, 'nothing'))).rejects.toThrow(NotFoundError);
    await expect(downloadReport(store, '../etc', path.join(tmp, 'nothing'))).rejects.toThrow(BadInputError);
  });

  it('rejects a bad sweep id and a malformed cell with errors naming them', async () => {
    const activity = createReportActivities({ store, config });
    await expect(activity.report({ ...input, sweepId: 'a/b' })).rejects.toThrow(/sweep id/);
    const broken = structuredClone(input);
    broken.cells[3] = { ...broken.cells[3], evaluation: undefined };
    await expect(activity.report(broken)).rejects.toThrow(new RegExp(`cells\\[3\\] \\(${broken.cells[3].cell.id}\\)`));
  });

  it('a second report of the same sweep replaces the first (no stale files)', async () => {
    // Runs last in this block: it replaces the report the tests above read.
    const other = store;
    expect(await other.exists(`${output.prefix}/accuracy-frozen.svg`)).toBe(true);
    const fewer = structuredClone(input);
    fewer.config.train.modes = ['scratch'];
    fewer.cells = fewer.cells.filter((c) => c.cell.mode === 'scratch');
    delete fewer.history;
    const second = await createReportActivities({ store: other, config }).report(fewer);
    const listed = (await other.list(`${second.prefix}/`)).map((o) => o.key).sort();
    expect(listed).toEqual([...second.files].sort());
    expect(listed.some((k) => k.includes('frozen') || k.endsWith('history.csv'))).toBe(false);
  });
});

describe('FID table', () => {
  const render = (fixture: ReportInput): string => {
    const data = buildReportData(fixture);
    return renderHtml({ input: fixture, data, findings: computeFindings(data, data.tests), figures: [], samples: { file: 'samples.png', problems: [], perCellMax: 1 }, files: [] });
  };

  it('says where the FID interval lies below the FID (bias beyond the spread) and where KID subsets were capped', () => {
    const rows = input.fid;
    const below = rows.filter((r) => r.fidInterval && r.fidInterval.high < r.fid);
    expect(below.length).toBeGreaterThan(0);
    expect(below.length).toBeLessThan(rows.length);
    const plain = render(input);
    expect(plain).toContain(`In ${below.length} row(s) the FID interval lies below the FID itself: from 60 images a side`);
    expect(plain).not.toContain('capped to half the smaller set');
    // The paper preset's 1000-image subsets on 700 images a class: capped, and the table says so.
    const capped = { ...input, fid: rows.map((r) => (r.className === 'overall' ? r : { ...r, kidSubsetSize: 350, kidSubsetCapped: true })) };
    expect(render(capped)).toContain(`the configured size did not fit ${rows.filter((r) => r.className !== 'overall').length} row(s)`);
    // Rows without intervals (computed before them): KID as mean ± std over subsets, no FID interval, no note.
    const old = { ...input, fid: rows.map(({ kidInterval: _k, fidInterval: _f, ...r }) => r) };
    const oldHtml = render(old);
    expect(oldHtml).toMatch(/KID [0-9.-]+ ± [0-9.]+ ×10⁻³/);
    expect(oldHtml).not.toContain('lies below the FID itself');
  });

  it('findings (c) name the class FIDs\' intervals over images', () => {
    const data = buildReportData(input);
    const c = computeFindings(data, data.tests).observations.find((o) => o.id === 'c');
    expect(c?.rows.length).toBeGreaterThan(0);
    for (const row of c?.rows ?? []) expect(row.caveats.join(' ')).toMatch(/each class's FID has its own 95% interval over images \(median width [0-9.]+/);
  });
});

describe('confidence intervals', () => {
  it('match a hand computation', () => {
    // Student t critical values (two-sided 95 %), from tables.
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062047, 6);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.3026527, 6);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764451, 6);
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.2621572, 6);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.0422725, 6);
    // 0.80, 0.84, 0.82: mean 0.82, sd 0.02, sem 0.02/√3, half-width 4.3026527 · 0.011547005 = 0.0496828.
    const s = summarize([0.8, 0.84, 0.82]);
    expect(s.n).toBe(3);
    expect(s.mean).toBeCloseTo(0.82, 12);
    expect(s.sd).toBeCloseTo(0.02, 12);
    expect(s.halfWidth).toBeCloseTo(0.0496828, 6);
    expect(s.ciLow).toBeCloseTo(0.7703172, 6);
    expect(s.ciHigh).toBeCloseTo(0.8696828, 6);
    // One seed: a plain value, no interval.
    expect(summarize([0.7])).toEqual({ n: 1, mean: 0.7, sd: null, sem: null, halfWidth: null, ciLow: null, ciHigh: null });
  });

  it('a single seed has no t interval; its error bars are the test-set interval (Wilson overall, bootstrap per class)', async () => {
    const single = (await exampleReport({ seeds: [3], history: false })).input;
    const data = buildReportData(single);
    expect(data.summary.every((r) => r.ciLow === null && r.n === 1)).toBe(true);
    // Every point has its test-set interval around it (counts inferred: the example has no evaluation files).
    expect(data.summary.every((r) => r.testCiLow !== null && r.testCiHigh !== null && r.testCiLow <= (r.mean as number) && (r.mean as number) <= r.testCiHigh)).toBe(true);
    const overall = data.summary.find((r) => r.className === 'overall') as (typeof data.summary)[number];
    const cell = data.rows.find((r) => r.cellId === overall.cellIds[0]);
    expect([overall.testCiLow, overall.testCiHigh]).toEqual([cell?.overallCiLow, cell?.overallCiHigh]);
    expect(cell?.testImages).toBe(single.config.dataset.testPerClass * single.classes.length);
    const spec = accuracySpec(data, 'scratch') as unknown as { layer: Array<{ encoding?: Record<string, unknown> }>; title: { subtitle: string[] } };
    expect(spec.layer.some((l) => l.encoding && 'y2' in l.encoding)).toBe(true);
    expect(spec.title.subtitle.join(' ')).toContain('single seed (3); error bars: 95% interval from the test set alone (Wilson)');
    const multi = accuracySpec(buildReportData(input), 'scratch') as unknown as { layer: Array<{ encoding?: Record<string, unknown> }> };
    expect(multi.layer.some((l) => l.encoding && 'y2' in l.encoding)).toBe(true);
  });
});

describe('sample grid', () => {
  it('upscales small images with nearest-neighbour and marks missing ones', async () => {
    const solid = async (r: number, g: number, b: number) =>
      sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g, b } } }).png().toBuffer();
    const imgs = new Map<string, Buffer>([
      ['a.png', await solid(250, 10, 10)],
      ['b.png', await solid(10, 250, 10)],
      ['c.png', Buffer.from('not an image')],
    ]);
    const grid = await composeSampleGrid(
      { classes: ['cat', 'dog'], columns: ['original', 'vanilla'], images: { original: { cat: ['a.png'], dog: ['b.png'] }, vanilla: { cat: ['c.png'], dog: ['gone.png'] } } },
      imgs,
      new Map([['gone.png', 'not in the store']]),
    );
    expect(grid.tile).toBe(96);
    expect(grid.problems).toHaveLength(2);
    expect(grid.problems.join('\n')).toContain('gone.png: not in the store');
    expect(grid.problems.join('\n')).toContain('c.png: not a readable image');
    expect(grid.drawn).toEqual({ original: { cat: 1, dog: 1 }, vanilla: { cat: 0, dog: 0 } });
    const { data, info } = await sharp(grid.png).raw().toBuffer({ resolveWithObject: true });
    let red = 0;
    let green = 0;
    for (let i = 0; i < data.length; i += info.channels) {
      if (data[i] === 250 && data[i + 1] === 10 && data[i + 2] === 10) red++;
      if (data[i] === 10 && data[i + 1] === 250 && data[i + 2] === 10) green++;
    }
    expect(red).toBe(96 * 96);
    expect(green).toBe(96 * 96);
  });
});
