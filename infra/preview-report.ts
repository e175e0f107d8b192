/**
 * Render a report to a local folder without running a sweep, to look at it (and at its Findings):
 *   npx tsx infra/preview-report.ts --out DIR [--seeds 0,1,2]            the example fixture (lib/report/example.ts)
 *   npx tsx infra/preview-report.ts --out DIR --store STORE_DIR --sweep ID  a finished sweep in a local store
 * Writes every report file plus findings.svg / findings.png (the Findings section as a picture).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fetchTestResults } from '../lib/report/evaluations.js';
import { exampleReport } from '../lib/report/example.js';
import { svgToPng } from '../lib/report/figures.js';
import { computeFindings } from '../lib/report/findings.js';
import { renderFindingsSvg } from '../lib/report/findings-svg.js';
import { readSweepRecord } from '../lib/report/record.js';
import { buildReportData, renderReport, sampleKeys } from '../lib/report/render.js';
import type { TestResults } from '../lib/report/evaluations.js';
import type { ReportInput } from '../lib/report/types.js';
import { createLocalStore } from '../lib/store/index.js';

const { values } = parseArgs({ options: { out: { type: 'string' }, seeds: { type: 'string' }, store: { type: 'string' }, sweep: { type: 'string' } } });
if (!values.out) {
  process.stderr.write('usage: npx tsx infra/preview-report.ts --out DIR [--seeds 0,1,2 | --store STORE_DIR --sweep ID]\n');
  process.exit(2);
}

let input: ReportInput;
let images = new Map<string, Buffer>();
let tests: TestResults | undefined;
if (values.store) {
  if (!values.sweep) throw new Error('--store needs --sweep ID');
  const store = createLocalStore(path.resolve(values.store));
  input = (await readSweepRecord(store, values.sweep)).report;
  for (const key of sampleKeys(input)) if (await store.exists(key)) images.set(key, await store.get(key));
  tests = await fetchTestResults(store, input);
} else {
  const seeds = (values.seeds ?? '0,1,2').split(',').map((s) => Number(s.trim()));
  const example = await exampleReport({ seeds, history: false });
  input = example.input;
  images = example.images;
}

const out = path.resolve(values.out);
await mkdir(out, { recursive: true });
for (const file of await renderReport(input, { images }, tests)) await writeFile(path.join(out, file.name), file.bytes);
const data = buildReportData(input, tests);
const svg = renderFindingsSvg(computeFindings(data, data.tests), `Findings — ${input.sweepId}${values.store ? "" : " (the example fixture: made-up numbers, not a real sweep)"}`);
await writeFile(path.join(out, 'findings.svg'), svg);
await writeFile(path.join(out, 'findings.png'), svgToPng(svg, 1.5));
process.stdout.write(`report written to ${out}/index.html (Findings picture: findings.png)\n`);
