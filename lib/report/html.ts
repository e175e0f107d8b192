/**
 * index.html of a report: one self-contained page (inline CSS, no scripts, no network) that links the
 * figure files lying next to it, so it renders when opened from a local folder.
 */
import { stableStringify } from '../hash.js';
import { compareText, fidOverSeeds, MODE_LABELS, seriesLabel, sourceLabel, type ReportData, type SummaryRow } from './data.js';
import type { Findings } from './findings.js';
import { FINDINGS_CSS, renderFindingsHtml } from './findings-html.js';
import { baselinesHtml, type ReportBaselines } from './baselines.js';
import type { ModelsHeader } from './models.js';
import { renderModelsHtml } from './models-html.js';
import { renderPromptsHtml } from './prompts-html.js';
import type { StoredPrompts } from '../steps/prompts.js';
import type { FidRow, ReportInput } from './types.js';

export function escapeHtml(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export function formatPercent(value: number | null | undefined, digits = 1): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(digits)}%` : '—';
}

function formatNumber(value: number | null | undefined, digits = 2): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '—';
}

/** 850 ms, 12.3 s, 4 min 05 s, 2 h 07 min. */
export function formatDuration(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const totalS = Math.round(s);
  if (totalS < 3600) return `${Math.floor(totalS / 60)} min ${String(totalS % 60).padStart(2, '0')} s`;
  const totalMin = Math.floor(totalS / 60);
  return `${Math.floor(totalMin / 60)} h ${String(totalMin % 60).padStart(2, '0')} min`;
}

function formatP(p: number): string {
  return String(Math.round(p * 1e4) / 1e4);
}

function wallBetween(startedAt: string, finishedAt: string): number | null {
  const a = Date.parse(startedAt);
  const b = Date.parse(finishedAt);
  return Number.isFinite(a) && Number.isFinite(b) && b >= a ? b - a : null;
}

function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; color: #222; background: #fff; margin: 0; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-top: 10px; border-top: 2px solid #e4e4e4; }
h3 { font-size: 16px; margin: 22px 0 8px; }
p { margin: 6px 0 10px; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: 10px 12px; overflow-x: auto; max-height: 480px; }
.lead { font-size: 15px; color: #333; max-width: 980px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 22px; margin: 12px 0; padding: 10px 14px; background: #f4f7fb; border: 1px solid #dbe4f0; border-radius: 6px; font-size: 14px; }
.facts b { color: #444; font-weight: 600; }
.alert { background: #fff3f0; border: 1px solid #f1b5a8; border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.note { background: #fffbea; border: 1px solid #eedc8a; border-radius: 6px; padding: 8px 14px; margin: 12px 0; font-size: 14px; }
nav { font-size: 14px; margin: 10px 0 0; }
nav a { margin-right: 14px; }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figure img.acc { width: 820px; }
figure img.samples { image-rendering: pixelated; }
figcaption { font-size: 13px; color: #555; margin-top: 4px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 14px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; }
td.l, th.l { text-align: left; }
tr.overall td { border-top: 2px solid #999; font-weight: 600; }
td.best { background: #eaf6ea; font-weight: 700; }
td.failed, tr.failed td { background: #fdecea; }
.kid { display: block; font-size: 11px; color: #666; font-weight: normal; }
.small { font-size: 12px; color: #666; }
details { margin: 6px 0 16px; }
summary { cursor: pointer; color: #1a5fb4; font-size: 14px; }
a { color: #1a5fb4; }
${FINDINGS_CSS}`;

export interface HtmlContext {
  input: ReportInput;
  data: ReportData;
  findings: Findings;
  /** File names of each figure per mode. */
  figures: Array<{ mode: string; accuracy: string; accuracyPng: string; accuracySpec: string; perClass: string; perClassPng: string; perClassSpec: string }>;
  samples: { file: string; problems: string[]; perCellMax: number };
  /** Every file of the report (for the file list), index.html excluded. */
  files: string[];
  /** The models used, with store keys and sha256s (absent: none resolved, e.g. a preview). */
  models?: ModelsHeader;
  /** The LLM's prompts (`generator.prompts.kind: "llm"`), read from the store by the report step. */
  prompts?: StoredPrompts;
  /** Baseline arms (§6.3 zero-shot CLIP), read from the store (absent: the sweep had none). */
  baselines?: ReportBaselines;
}

function pointTable(data: ReportData, mode: string, className: string): string {
  const rows = data.summary.filter((r) => r.mode === mode && r.className === className);
  const byKey = new Map<string, SummaryRow>(rows.map((r) => [`${r.series}|${r.p}`, r]));
  const series = data.series.filter((s) => rows.some((r) => r.series === s));
  const ps = data.pValues.filter((p) => rows.some((r) => r.p === p));
  const multi = rows.some((r) => r.n >= 2);
  const head = `<tr><th class="l">series</th>${ps.map((p) => `<th>p = ${escapeHtml(formatP(p))}</th>`).join('')}</tr>`;
  const body = series
    .map((s) => {
      const cells = ps.map((p) => {
        const r = byKey.get(`${s}|${p}`);
        if (!r) return '<td></td>';
        const interval = r.ciLow !== null && r.ciHigh !== null ? [r.ciLow, r.ciHigh] : r.testCiLow !== null && r.testCiHigh !== null ? [r.testCiLow, r.testCiHigh] : null;
        const value = r.mean === null ? 'failed' : `${formatPercent(r.mean)}${interval ? ` <span class="small">[${formatPercent(interval[0])}, ${formatPercent(interval[1])}]</span>` : ''}`;
        const n = multi || r.failed > 0 ? ` <span class="small">n=${r.n}${r.failed > 0 ? `, ${r.failed} failed` : ''}</span>` : '';
        return `<td${r.failed > 0 ? ' class="failed"' : ''}>${value}${n}</td>`;
      });
      return `<tr><td class="l">${escapeHtml(seriesLabel(s))}</td>${cells.join('')}</tr>`;
    })
    .join('\n');
  const note = multi
    ? '<p class="small">Mean over seeds with its 95% t interval; n = finished seeds (a point with n=1 shows its test-set interval instead).</p>'
    : '<p class="small">One finished cell per point: [low, high] is the 95% interval from the test set alone (Wilson), not including variation between training runs.</p>';
  return `<table>\n${head}\n${body}\n</table>\n${note}`;
}

/** The smallest interval holding every seed's (one seed: its own); undefined when any seed has none. */
function envelope<T extends { low: number; high: number; level: number }>(intervals: Array<T | undefined>): { low: number; high: number; level: number } | undefined {
  if (intervals.length === 0 || intervals.some((i) => i === undefined)) return undefined;
  const all = intervals as T[];
  return { low: Math.min(...all.map((i) => i.low)), high: Math.max(...all.map((i) => i.high)), level: all[0].level };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fidTable(data: ReportData, extractorId: string): string {
  const rows = data.fid.filter((r) => r.extractorId === extractorId);
  const sources = data.fidSources.filter((s) => rows.some((r) => r.source === s));
  const classNames = [...new Set(rows.map((r) => r.className))];
  const order = (c: string): number => (c === 'overall' ? 1e9 : data.classes.indexOf(c) >= 0 ? data.classes.indexOf(c) : 1e8);
  classNames.sort((a, b) => order(a) - order(b) || compareText(a, b));
  // Several generation seeds: each table cell is their mean FID, the seeds' range and mean KID below it.
  const byKey = new Map<string, { fid: number; rows: FidRow[] }>();
  for (const s of sources) for (const c of classNames) {
    const over = fidOverSeeds(data, s, c, extractorId);
    if (over) byKey.set(`${s}|${c}`, over);
  }
  const head = `<tr><th class="l">class</th>${sources.map((s) => `<th>${escapeHtml(sourceLabel(s))}</th>`).join('')}</tr>`;
  const body = classNames
    .map((c) => {
      const values = sources.map((s) => byKey.get(`${s}|${c}`)?.fid).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const best = values.length > 1 ? Math.min(...values) : undefined;
      const cells = sources.map((s) => {
        const r = byKey.get(`${s}|${c}`);
        if (!r) return '<td>—</td>';
        const kidMean = r.rows.reduce((sum, row) => sum + row.kidMean, 0) / r.rows.length;
        const kidStd = r.rows.reduce((sum, row) => sum + row.kidStd, 0) / r.rows.length;
        const fids = r.rows.map((row) => row.fid);
        const range = r.rows.length > 1 ? `<span class="kid">${r.rows.length} seeds: ${formatNumber(Math.min(...fids), 1)}–${formatNumber(Math.max(...fids), 1)}</span>` : '';
        const fidOver = envelope(r.rows.map((row) => row.fidInterval));
        const overImages = fidOver ? `<span class="kid">${Math.round(fidOver.level * 100)}% [${formatNumber(fidOver.low, 1)}, ${formatNumber(fidOver.high, 1)}]${r.rows.length > 1 ? ' (all seeds)' : ''}</span>` : '';
        const kidOver = envelope(r.rows.map((row) => row.kidInterval));
        const kid = kidOver
          ? `<span class="kid">KID ${formatNumber(kidMean * 1000, 2)} [${formatNumber(kidOver.low * 1000, 2)}, ${formatNumber(kidOver.high * 1000, 2)}] ×10⁻³</span>`
          : `<span class="kid">KID ${formatNumber(kidMean * 1000, 2)} ± ${formatNumber(kidStd * 1000, 2)} ×10⁻³</span>`;
        return `<td${best !== undefined && r.fid === best ? ' class="best"' : ''}>${formatNumber(r.fid, 1)}${range}${overImages}${kid}</td>`;
      });
      return `<tr${c === 'overall' ? ' class="overall"' : ''}><td class="l">${escapeHtml(c === 'overall' ? 'OVERALL' : c)}</td>${cells.join('')}</tr>`;
    })
    .join('\n');
  const sha = [...new Set(rows.map((r) => r.weightsSha256))].filter(Boolean);
  const n = [...new Set(rows.map((r) => `${r.n1}/${r.n2}`))];
  const eps = rows.filter((r) => r.epsilonUsed > 0);
  const capped = rows.filter((r) => r.kidSubsetCapped === true);
  const cappedSizes = [...new Set(capped.map((r) => r.kidSubsetSize).filter((v): v is number => typeof v === 'number'))].sort((a, b) => a - b);
  const kidNote = capped.length > 0
    ? ` KID subset size: the configured size did not fit ${capped.length} row(s) (fewer images per side than a subset), so it was capped to half the smaller set (${cappedSizes.join(', ')} images) — otherwise every subset would be the whole set and the ± would be 0.`
    : '';
  // The basic bootstrap subtracts the point value's upward bias: where that bias exceeds the spread, the interval lies below the FID.
  const below = rows.filter((r) => r.fidInterval !== undefined && r.fidInterval.high < r.fid);
  const belowNote = below.length > 0
    ? ` In ${below.length} row(s) the FID interval lies below the FID itself: from ${[...new Set(below.map((r) => r.n1))].sort((a, b) => a - b).join(', ')} images a side the point value is biased upward (by about ${formatNumber(median(below.map((r) => r.fidInterval?.bias ?? 0)), 1)}, the bootstrap's median estimate) more than it varies; the interval is for the FID of the two image distributions. Sources compared at the same number of images share much of that bias.`
    : '';
  return [
    `<p class="small">Feature extractor <code>${escapeHtml(extractorId)}</code>${sha.length ? `, weights sha256 ${sha.map((s) => `<code>${escapeHtml(s.slice(0, 16))}…</code>`).join(', ')}` : ''}; images per side (original/synthetic): ${escapeHtml(n.join(', '))}.${eps.length ? ` ${eps.length} row(s) needed a diagonal ε added to the covariances (see fid.csv).` : ''}${escapeHtml(kidNote)}${escapeHtml(belowNote)}</p>`,
    `<table>\n${head}\n${body}\n</table>`,
  ].join('\n');
}

export function renderHtml(ctx: HtmlContext): string {
  const { input, data, figures, samples } = ctx;
  const config = input.config;
  const wall = wallBetween(input.startedAt, input.finishedAt);
  const done = data.rows.filter((r) => r.status === 'done').length;
  const sources = (config?.sources ?? data.series.filter((s) => s !== 'original' && s !== 'randaugment')).map(sourceLabel);
  const modeText = data.modes.map((m) => `<b>${escapeHtml(m)}</b> (${escapeHtml((MODE_LABELS as Record<string, string>)[m] ?? m)}${typeof config?.train?.epochs?.[m as keyof typeof config.train.epochs] === 'number' ? `, ${config.train.epochs[m as keyof typeof config.train.epochs]} epochs` : ''})`);
  const perClass = config?.dataset?.perClass;
  const valFraction = config?.mix?.valFraction;
  const out: string[] = [];

  out.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>synthmix report — ${escapeHtml(input.sweepId)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<h1>synthmix report: ${escapeHtml(input.sweepId)}</h1>`,
  );

  out.push(
    `<p class="lead">This sweep reproduces the experiment of <i>Dataset Augmentation using Diffusion Models</i>: a ResNet-18 classifier over ${data.classes.length} classes is trained on a mix of original images and images generated by ${escapeHtml(list(sources))}. ` +
      `For each proportion p ∈ {${escapeHtml(data.pValues.map(formatP).join(', '))}} of synthetic images, d<sub>total</sub> = p·d<sub>synthetic</sub> + (1−p)·d<sub>original</sub>` +
      `${typeof perClass === 'number' ? ` with ${perClass} images per class` : ''}${typeof valFraction === 'number' ? `, ${Math.round(valFraction * 100)}% of it held out for validation` : ''}. ` +
      `The <b>Only original</b> line trains on the (1−p) originals alone (a smaller set), to tell whether the synthetic images help. ` +
      `Init modes: ${modeText.join('; ')}. ` +
      `Seeds: ${escapeHtml(data.seeds.join(', '))}${data.seeds.length > 1 ? ' (points are means with 95% t confidence intervals; small circles are the seeds)' : ' (one seed: each point’s interval comes from its test set alone, Wilson / bootstrap over test images)'}; ` +
      `seed scope <b>${data.seedScope}</b>: ${data.seedScope === 'all' ? 'each seed fine-tuned, generated, mixed and trained on its own' : 'the seeds varied the mix and the training only; fine-tuning and generation used the first seed'} (base models shared). ` +
      `Accuracy is measured on a held-out test set${typeof config?.dataset?.testPerClass === 'number' ? ` of ${config.dataset.testPerClass} images per class` : ''}.</p>`,
  );

  out.push(
    '<div class="facts">',
    `<span><b>sweep</b> ${escapeHtml(input.sweepId)}</span>`,
    `<span><b>config</b> ${escapeHtml(config?.name ?? '—')}</span>`,
    `<span><b>started</b> ${escapeHtml(input.startedAt)}</span>`,
    `<span><b>finished</b> ${escapeHtml(input.finishedAt)}</span>`,
    `<span><b>wall time</b> ${escapeHtml(formatDuration(wall))}</span>`,
    `<span><b>cells</b> ${done} done, ${data.failed.length} failed</span>`,
    `<span><b>code</b> <code>${escapeHtml(input.codeVersion)}</code></span>`,
    '</div>',
  );
  // The models head the page: a stand-in or incomparable FID must be read before any number.
  if (ctx.models) out.push(renderModelsHtml(ctx.models));
  if (data.failed.length > 0) {
    out.push(`<div class="alert"><b>${data.failed.length} cell${data.failed.length === 1 ? '' : 's'} failed</b>: they are marked × on the bottom edge of the figures, shown as “failed” in the tables, and listed with their reasons under <a href="#failed">Failed cells</a>.</div>`);
  }
  if (data.warnings.length > 0 || samples.problems.length > 0) {
    out.push(`<div class="note"><b>Notes on the input</b><ul>${[...data.warnings, ...samples.problems.map((p) => `sample image ${p}`)].map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>`);
  }
  out.push(
    `<nav>${ctx.models ? '<a href="#models">Models</a>' : ''}<a href="#findings">Findings</a><a href="#accuracy">Accuracy vs p</a>${ctx.baselines?.clipZeroShot ? '<a href="#baselines">Baselines</a>' : ''}<a href="#per-class">Per-class accuracy</a><a href="#fid">FID</a>${ctx.prompts ? '<a href="#prompts">Prompts</a>' : ''}<a href="#samples">Samples</a><a href="#failed">Failed cells</a><a href="#run">Run</a>` +
      `${input.history?.length ? '<a href="#history">Re-evaluations</a>' : ''}<a href="#files">Files</a></nav>`,
  );

  out.push(renderFindingsHtml(ctx.findings));

  // Figures 3–5.
  out.push('<h2 id="accuracy">Test accuracy vs p (paper Figs 3–5)</h2>', `<p>One panel per init mode; each line is a source of synthetic images, the dashed black line trains on the originals only${ctx.baselines?.clipZeroShot ? `; the dashed gold line is the ${escapeHtml(ctx.baselines.clipZeroShot.label)} baseline (no training, <a href="#baselines">per class below</a>)` : ''}.</p>`);
  for (const fig of figures) {
    out.push(
      `<h3 id="accuracy-${escapeHtml(fig.mode)}">${escapeHtml(fig.mode)} — ${escapeHtml((MODE_LABELS as Record<string, string>)[fig.mode] ?? fig.mode)}</h3>`,
      `<figure><img class="acc" src="${escapeHtml(fig.accuracy)}" alt="test accuracy vs p, ${escapeHtml(fig.mode)}">`,
      `<figcaption>${escapeHtml(fig.accuracy)} · <a href="${escapeHtml(fig.accuracyPng)}">PNG</a> · <a href="${escapeHtml(fig.accuracy)}">SVG</a> · <a href="${escapeHtml(fig.accuracySpec)}">vega-lite spec with data</a></figcaption></figure>`,
      `<details><summary>numbers (${escapeHtml(fig.mode)})</summary>${pointTable(data, fig.mode, 'overall')}</details>`,
    );
  }

  if (ctx.baselines) out.push(baselinesHtml(ctx.baselines));

  // Figure 6.
  out.push('<h2 id="per-class">Per-class test accuracy vs p (paper Fig 6)</h2>', '<p>Which classes the synthetic images help or hurt most, per init mode.</p>');
  for (const fig of figures) {
    out.push(
      `<h3>${escapeHtml(fig.mode)}</h3>`,
      `<figure><img src="${escapeHtml(fig.perClass)}" alt="per-class accuracy vs p, ${escapeHtml(fig.mode)}">`,
      `<figcaption>${escapeHtml(fig.perClass)} · <a href="${escapeHtml(fig.perClassPng)}">PNG</a> · <a href="${escapeHtml(fig.perClass)}">SVG</a> · <a href="${escapeHtml(fig.perClassSpec)}">vega-lite spec with data</a> · every point in <a href="summary.csv">summary.csv</a></figcaption></figure>`,
    );
  }

  // Table 1.
  out.push('<h2 id="fid">FID between the original and each synthetic set (paper Table 1)</h2>');
  if (data.fid.length === 0) out.push('<p>No FID rows in this sweep.</p>');
  else {
    out.push(
      '<p>Fréchet distance per class and overall (lower is closer to the originals; the best source per row is highlighted). Below each value: with several generation seeds, their range (the value is their mean); ' +
        'the 95% interval over images — a basic bootstrap of the images of both sides, for the FID of the two image distributions (several seeds: the span of their intervals); ' +
        'and KID ×10⁻³ with its 95% interval over images from its subsets (rows without one show mean ± std over subsets). All numbers: <a href="fid.csv">fid.csv</a>, <a href="fid.json">fid.json</a>.</p>',
    );
    for (const extractor of data.extractors) out.push(fidTable(data, extractor));
  }

  if (ctx.prompts) out.push(renderPromptsHtml(ctx.prompts, data.classes));

  // Figure 7.
  out.push(
    '<h2 id="samples">Sample images (paper Fig 7)</h2>',
    `<p>Rows are classes; columns are the original images and each synthetic source (up to ${samples.perCellMax} per cell, upscaled with nearest-neighbour).</p>`,
    `<figure><img class="samples" src="${escapeHtml(samples.file)}" alt="sample images per class and source"><figcaption>${escapeHtml(samples.file)}</figcaption></figure>`,
  );
  if (samples.problems.length > 0) out.push(`<p class="small">Not drawn (grey ×): ${samples.problems.map(escapeHtml).join('; ')}</p>`);

  // Failed cells.
  out.push('<h2 id="failed">Failed cells</h2>');
  if (data.failed.length === 0) out.push('<p>None: every cell finished.</p>');
  else {
    out.push(
      '<table>',
      '<tr><th class="l">cell</th><th class="l">mode</th><th class="l">series</th><th>p</th><th>seed</th><th class="l">reason</th></tr>',
      ...data.failed.map(
        (f) =>
          `<tr class="failed"><td class="l"><code>${escapeHtml(f.cellId)}</code></td><td class="l">${escapeHtml(f.mode)}</td><td class="l">${escapeHtml(seriesLabel(f.series))}</td><td>${escapeHtml(formatP(f.p))}</td><td>${f.seed}</td><td class="l">${escapeHtml(f.error)}</td></tr>`,
      ),
      '</table>',
    );
  }

  // Run metadata.
  out.push('<h2 id="run">Run</h2>', '<table>');
  const meta: Array<[string, string]> = [
    ['sweep id', `<code>${escapeHtml(input.sweepId)}</code>`],
    ['code version', `<code>${escapeHtml(input.codeVersion)}</code>`],
    ['started', escapeHtml(input.startedAt)],
    ['finished', escapeHtml(input.finishedAt)],
    ['wall time', escapeHtml(formatDuration(wall))],
    ['seeds', escapeHtml(data.seeds.join(', '))],
    ['classes', escapeHtml(data.classes.join(', '))],
  ];
  for (const [name, value] of Object.entries(input.backends ?? {}).sort(([a], [b]) => compareText(a, b))) meta.push([`backend: ${escapeHtml(name)}`, `<code>${escapeHtml(value)}</code>`]);
  for (const env of data.environments) meta.push(['computed on', `${escapeHtml(env.description)} — ${env.cells} cell${env.cells === 1 ? '' : 's'}`]);
  out.push(...meta.map(([k, v]) => `<tr><th class="l">${k}</th><td class="l">${v}</td></tr>`), '</table>');
  out.push(
    '<p class="small">The same config and seed give the same numbers on the same hardware and library build. ' +
      'Another CPU instruction set, torch/BLAS build or GPU moves float results in the last digits, and a trained accuracy by a test image or two: compare reports knowingly.</p>',
  );

  out.push('<h3>Time per stage</h3>');
  if (input.stages.length === 0) out.push('<p>No stage timings recorded.</p>');
  else {
    const totalActivity = input.stages.reduce((s, t) => s + (Number.isFinite(t.activityMs) ? t.activityMs : 0), 0);
    out.push(
      '<table>',
      '<tr><th class="l">stage</th><th>wall time</th><th>activity time</th><th>activities</th><th>computed</th><th>reused (memoized)</th></tr>',
      ...input.stages.map(
        (s) =>
          `<tr><td class="l">${escapeHtml(s.stage)}</td><td>${escapeHtml(formatDuration(s.wallMs))}</td><td>${escapeHtml(formatDuration(s.activityMs))}</td><td>${s.activities}</td><td>${s.computed}</td><td>${Math.max(0, s.activities - s.computed)}</td></tr>`,
      ),
      `<tr class="overall"><td class="l">total</td><td>${escapeHtml(formatDuration(wall))}</td><td>${escapeHtml(formatDuration(totalActivity))}</td><td>${input.stages.reduce((s, t) => s + t.activities, 0)}</td><td>${input.stages.reduce((s, t) => s + t.computed, 0)}</td><td></td></tr>`,
      '</table>',
      '<p class="small">Activity time is the sum of the stage’s activity durations (GPU time for the gpu-queue stages); stages overlap, so wall times do not add up to the total.</p>',
    );
  }
  out.push('<h3>Sweep configuration</h3>', `<pre>${escapeHtml(stableStringify(config ?? {}, 2))}</pre>`);

  // Nightly re-evaluation history.
  if (input.history && input.history.length > 0) {
    out.push('<h2 id="history">Re-evaluations (nightly schedule)</h2>', '<p>Stored models of this sweep evaluated again, possibly on a new test set. All numbers: <a href="history.csv">history.csv</a>.</p>');
    const original = new Map(data.rows.filter((r) => r.overallAccuracy !== null).map((r) => [r.cellId, r.overallAccuracy as number]));
    out.push('<table>', '<tr><th class="l">at</th><th class="l">test manifest</th><th>cells</th><th>mean accuracy</th><th>mean change vs sweep</th></tr>');
    for (const entry of input.history) {
      const accs = entry.cells.map((c) => c.overallAccuracy).filter((v) => Number.isFinite(v));
      const mean = accs.length ? accs.reduce((s, v) => s + v, 0) / accs.length : null;
      const deltas = entry.cells.filter((c) => original.has(c.cellId)).map((c) => c.overallAccuracy - (original.get(c.cellId) as number));
      const delta = deltas.length ? deltas.reduce((s, v) => s + v, 0) / deltas.length : null;
      out.push(
        `<tr><td class="l">${escapeHtml(entry.at)}</td><td class="l"><code>${escapeHtml(entry.testManifestKey)}</code></td><td>${entry.cells.length}</td><td>${formatPercent(mean)}</td><td>${delta === null ? '—' : `${delta >= 0 ? '+' : ''}${(delta * 100).toFixed(1)} pt`}</td></tr>`,
      );
    }
    out.push('</table>');
    const cellIds = [...new Set(input.history.flatMap((e) => e.cells.map((c) => c.cellId)))].sort(compareText);
    const lookup = input.history.map((e) => new Map(e.cells.map((c) => [c.cellId, c.overallAccuracy])));
    out.push(
      '<details><summary>per cell</summary><table>',
      `<tr><th class="l">cell</th><th>sweep</th>${input.history.map((e) => `<th>${escapeHtml(e.at)}</th>`).join('')}</tr>`,
      ...cellIds.map((id) => `<tr><td class="l"><code>${escapeHtml(id)}</code></td><td>${formatPercent(original.get(id))}</td>${lookup.map((m) => `<td>${formatPercent(m.get(id))}</td>`).join('')}</tr>`),
      '</table></details>',
    );
  }

  // Files.
  out.push(
    '<h2 id="files">Files</h2>',
    '<p>Every number in this report is in <a href="results.csv">results.csv</a> (one row per cell) and <a href="summary.csv">summary.csv</a> (one row per plotted point); <a href="results.json">results.json</a> holds all of it with the configuration.</p>',
    `<ul>${ctx.files.map((f) => `<li><a href="${escapeHtml(f)}">${escapeHtml(f)}</a></li>`).join('')}</ul>`,
    '</main>',
    '</body>',
    '</html>',
    '',
  );
  return out.join('\n');
}
