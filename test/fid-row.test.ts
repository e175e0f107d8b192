/**
 * The real engine's `fid-table` rows through the activity's path: `parseEngineSummary` (zod) and
 * `fidRowOf`, with and without the bootstrap. The numbers themselves are checked against scipy in
 * engine/tests/test_fid_bootstrap.py; here: every field arrives, named and grouped, none invented.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../lib/config/load.js';
import { parseEngineSummary } from '../lib/engine/results.js';
import { encodeNpyFloat32 } from '../lib/npy.js';
import { createRng } from '../lib/random.js';
import { fidRowOf } from '../lib/report/fid-row.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-fid-row-'));
  const rng = createRng('fid-row');
  const matrix = (rows: number, cols: number, shift: number) => ({ rows, cols, data: Float32Array.from({ length: rows * cols }, () => rng.range(-1, 1) + shift) });
  await writeFile(path.join(tmp, 'orig.npy'), encodeNpyFloat32(matrix(40, 6, 0)));
  await writeFile(path.join(tmp, 'synth.npy'), encodeNpyFloat32(matrix(40, 6, 0.3)));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The engine's `result` summary for one comparison of the two sets (KID subsets of 10). */
async function engineSummary(name: string, bootstrap: unknown): Promise<unknown> {
  const groups = path.join(tmp, `${name}.json`);
  await writeFile(groups, JSON.stringify({
    groups: { 'original/cat': { features: ['orig.npy'] }, 'vanilla/cat': { features: ['synth.npy'] } },
    comparisons: [{ name: 'vanilla/cat', reference: 'original/cat', candidate: 'vanilla/cat' }],
    kid: { subsets: 5, subsetSize: 10, seed: 0 },
    bootstrap,
    extractor: { id: 'test-extractor', weightsSha256: 'ab'.repeat(32) },
  }));
  const spec = path.join(tmp, `${name}-spec.json`);
  await writeFile(spec, JSON.stringify({ workDir: path.join(tmp, `work-${name}`), resumeFrom: null, params: { device: 'cpu' }, inputs: { groups } }));
  const run = spawnSync(loadConfig().engine.python, ['-m', 'synthmix_engine', 'fid-table', '--spec', spec], { cwd: path.join(projectRoot, 'engine'), encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  const result = run.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { event: string; summary?: unknown }).find((e) => e.event === 'result');
  return result?.summary;
}

describe('fid-table rows', () => {
  it('carry the KID interval and, when asked, the FID bootstrap interval', async () => {
    const [row] = parseEngineSummary('fid-table', await engineSummary('boot', { resamples: 30, seed: 1, level: 0.9 })).rows.map(fidRowOf);
    expect(row).toMatchObject({ source: 'vanilla', className: 'cat', n1: 40, n2: 40, kidSubsetSize: 10, kidSubsetCapped: false });
    expect(row.kidInterval?.level).toBe(0.95);
    expect(row.kidInterval && row.kidInterval.low < row.kidMean && row.kidMean < row.kidInterval.high).toBe(true);
    expect(row.fidInterval).toMatchObject({ level: 0.9, resamples: 30 });
    const over = row.fidInterval as NonNullable<typeof row.fidInterval>;
    expect(over.low).toBeGreaterThanOrEqual(0);
    expect(over.low).toBeLessThanOrEqual(over.high);
    // Resampling duplicates images: the resampled FIDs sit above the point value (the bias the basic interval removes).
    expect(over.bias).toBeGreaterThan(0);

    const [plain] = parseEngineSummary('fid-table', await engineSummary('plain', false)).rows.map(fidRowOf);
    expect(plain.fidInterval).toBeUndefined();
    expect({ ...plain, kidInterval: undefined }).toEqual({ ...row, kidInterval: undefined, fidInterval: undefined });
  }, 180_000);
});
