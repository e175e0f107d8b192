/**
 * A class curated with fewer than k instance images (`dataset.tooFew: "all"`) fails only what
 * needs its fine-tune: found at curate (no fine-tune of it is started, no GPU time spent), the
 * other classes are fine-tuned and generated, vanilla and the p = 0 cells run, and the fine-tuned
 * source's cells at p > 0 fail with a reason naming the class, its count and k, in the report.
 *
 * A slice of the tiny preset on a real dev server, real workers and engines, and a real image
 * folder: 3 classes (gamma with 3 images: tooFew "all" splits them 2 train + 1 test; k = 3), vanilla + dreambooth, p 0 and
 * 0.5, scratch only, one epoch; the preset's shipped base models.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../workflows/index.js';
import { classImagesWorkflowId } from '../workflows/class-images.js';
import type { ModelsHeader } from '../lib/report/models.js';
import { enumerateCells } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { patternPng } from './support/tiny-models.js';
import { startTestWorld, type TestWorld } from './support/world.js';

let world: TestWorld;

beforeAll(async () => {
  world = await startTestWorld({ name: 'short-class', workers: ['cpu', 'gpu'], overrides: () => ({ engine: { threads: 1 } }) });
});

afterAll(() => world?.stop());

describe('a class with fewer than k instance images', () => {
  it('fails only the cells that need its fine-tune; everything else completes and the report says why', async () => {
    const root = path.join(world.tmp, 'dataset');
    for (const [c, [name, count]] of ([['alpha', 8], ['beta', 8], ['gamma', 3]] as const).entries()) {
      await mkdir(path.join(root, name), { recursive: true });
      for (let i = 0; i < count; i += 1) await writeFile(path.join(root, name, `${i}.png`), await patternPng(c, i));
    }
    const config = resolveSweepConfig('tiny', {
      name: 'short-class',
      dataset: { source: { kind: 'local', path: root }, perClass: 6, testPerClass: 2, tooFew: 'all' },
      sources: ['vanilla', 'dreambooth'],
      // As little work as the graph allows: what is tested is which steps run, not their numbers.
      // The base models are the preset's own, which ship with synthmix (engine/pretrained/): uploaded, not trained.
      generator: { steps: 2 },
      finetune: { dreambooth: { steps: 2, lr: 5e-4, priorWeight: 0, numClassImages: 0 }, textual: { steps: 2, lr: 5e-3 } },
      fid: { kidSubsets: 2, kidSubsetSize: 4 },
      mix: { p: [0, 0.5], onlyOriginal: false },
      train: { modes: ['scratch'], epochs: { scratch: 1, finetune: 1, frozen: 1 } },
    });
    const k = config.finetune.instancesPerClass;
    expect(k).toBe(3);
    const sweepId = 'short-class';
    const result = await world.client.workflow.execute(sweep, { taskQueue: world.config.queues.cpu, workflowId: sweepId, args: [{ sweepId, config, queues: world.config.queues }] });

    const cells = enumerateCells(config);
    const blocked = cells.filter((c) => c.source === 'dreambooth' && c.p > 0).map((c) => c.id);
    expect(blocked).toEqual(['dreambooth-p0.5-scratch-s0']);
    expect(result.cells).toMatchObject({ total: cells.length, done: cells.length - 1, failed: 1 });

    const reported = await world.store.getJson<{ cells: Array<{ cellId: string; status: string; error: string | null; overallAccuracy: number | null }>; models: ModelsHeader }>(
      result.report.files.find((key) => key.endsWith('/results.json')) as string,
    );
    // The base models were the shipped ones, and the report says so.
    const shippedFolder = (role: string) => reported.models.models.find((m) => m.role === role)?.shipped?.folder;
    expect(shippedFolder('generator')).toMatch(/^engine\/pretrained\/steps\/pretrain-generator\/[0-9a-f]{64}$/);
    expect(shippedFolder('classifier-base')).toMatch(/^engine\/pretrained\/steps\/train\/[0-9a-f]{64}$/);
    // Stage timings for the CI-time record (printed, never asserted).
    console.log(result.stages.map((st) => `  ${st.stage.padEnd(12)} ${(st.wallMs / 1000).toFixed(1)} s wall, ${(st.activityMs / 1000).toFixed(1)} s in ${st.activities} activities`).join('\n'));
    const failed = reported.cells.filter((c) => c.status === 'failed');
    expect(failed.map((c) => c.cellId)).toEqual(blocked);
    expect(failed[0].error).toContain('source dreambooth has no synthetic images of 1 class(es): "gamma" has 2 curated training image(s)');
    expect(failed[0].error).toContain(`k = ${k}`);
    expect(reported.cells.filter((c) => c.status === 'done').every((c) => typeof c.overallAccuracy === 'number')).toBe(true);
    const html = (await world.store.get(result.report.files.find((key) => key.endsWith('/index.html')) as string)).toString('utf8');
    expect(html).toContain('&quot;gamma&quot; has 2 curated training image(s)');

    // Decided up front: no fine-tune of gamma was started, and the blocked cell never ran; the
    // other classes were fine-tuned, and vanilla generated gamma too.
    const exists = (workflowId: string) => world.client.workflow.getHandle(workflowId).describe().then(() => true, () => false);
    expect(await exists(classImagesWorkflowId(sweepId, 'dreambooth', 'gamma', 0))).toBe(false);
    expect(await exists(classImagesWorkflowId(sweepId, 'dreambooth', 'alpha', 0))).toBe(true);
    expect(await exists(classImagesWorkflowId(sweepId, 'vanilla', 'gamma', 0))).toBe(true);
    expect(await exists(`${sweepId}/${blocked[0]}`)).toBe(false);
    expect(await exists(`${sweepId}/dreambooth-p0-scratch-s0`)).toBe(true);

    // FID: dreambooth has no gamma row; vanilla has one per class.
    const fid = await world.store.getJson<{ rows: Array<{ source: string; className: string }> }>(result.report.files.find((key) => key.endsWith('/fid.json')) as string);
    const rowsOf = (source: string) => fid.rows.filter((r) => r.source === source).map((r) => r.className).sort();
    expect(rowsOf('dreambooth')).toEqual(['alpha', 'beta', 'overall']);
    expect(rowsOf('vanilla')).toEqual(['alpha', 'beta', 'gamma', 'overall']);
  }, 900_000);
});
