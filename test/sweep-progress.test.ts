/** What `synthmix status` / `watch` and the demo's ticker draw from one frame of a sweep (pure). */
import { describe, expect, it } from 'vitest';
import { bar, formatProgress, generateCounts, renderProgress, snapshotJson, withCellPages, type PendingActivity, type SweepSnapshot } from '../cli/sweep-progress.js';
import { ProgressTicker } from '../cli/ticker.js';
import type { GenerateProgress, SweepProgress } from '../workflows/sweep.js';

const progress: SweepProgress = {
  stage: 'experiments',
  stageStartedAt: 1_000_000,
  cells: { total: 10, done: 3, failed: 1, running: ['vanilla-p0.5-scratch-s0', 'original-p0-frozen-s0'] },
  stages: [
    { stage: 'curate', wallMs: 2_600, activityMs: 0, activities: 1, computed: 1 },
    { stage: 'generate', wallMs: 61_800, activityMs: 118_900, activities: 50, computed: 50 },
  ],
};

const snapshot = (p: Partial<SweepSnapshot> & { progress: SweepProgress }): SweepSnapshot => ({ id: 's', status: 'RUNNING', activities: [], cells: new Map(), ...p });

describe('experiments', () => {
  it('draws finished stages, the cell bar with an ETA from the stage so far, and each running cell at its epoch', () => {
    const cells = new Map<string, PendingActivity>([['vanilla-p0.5-scratch-s0', { activity: 'train', stage: 'train', step: 7, total: 12 }]]);
    // 4 of 10 cells finished in 40 s: 6 more take about 60 s.
    const lines = renderProgress(snapshot({ progress, cells }), 1_040_000);
    expect(lines[0]).toMatch(/^ {2}curate +done +3 s/);
    expect(lines[1]).toMatch(/generate +done +62 s +\(50 activities, 50 computed\)/);
    expect(lines[2]).toContain('4/10 cells, 1 failed, 40 s, ETA 60 s');
    expect(lines[2]).toContain(bar(0.4));
    expect(lines[3]).toMatch(/vanilla-p0\.5-scratch-s0 +train epoch 7\/12 \[#######\.\.\.\.\.]/);
    expect(lines[4]).toMatch(/original-p0-frozen-s0 +starting$/);
  });

  it('a large sweep: the running cell pages add the cells they finished and name those in flight', () => {
    const paged: SweepProgress = { ...progress, cells: { total: 1200, done: 500, failed: 0, running: [], runningPages: ['s/cells/page-1', 's/cells/page-2'] } };
    const merged = withCellPages(paged, [
      { items: 500, done: 40, failed: 2, running: ['c-540', 'c-541'] },
      { items: 200, done: 10, failed: 0, running: ['c-1010'] },
    ]);
    expect(merged.cells).toMatchObject({ total: 1200, done: 548, failed: 2, running: ['c-540', 'c-541', 'c-1010'] });
    expect(withCellPages(paged, [])).toBe(paged);
  });

  it('a one-line form for logs and the demo ticker', () => {
    expect(formatProgress(snapshot({ progress }), 1_040_000)).toBe(`experiments  ${bar(0.4)} 4/10 cells (1 failed)  running: vanilla-p0.5-scratch-s0, original-p0-frozen-s0`);
  });
});

describe('pretrain and fid: the sweep’s own activities in flight', () => {
  const pretrain: SweepProgress = { ...progress, stage: 'pretrain', stages: [], cells: { ...progress.cells, done: 0, failed: 0, running: [] } };
  const activities: PendingActivity[] = [
    { activity: 'pretrainGenerator', stage: 'train', step: 120, total: 400 },
    { activity: 'train', stage: 'train', step: 1, total: 3 },
  ];

  it('shows the generator pretrain in steps and the classifier pretrain in epochs', () => {
    const lines = renderProgress(snapshot({ progress: pretrain, activities }), 1_005_000);
    expect(lines[0]).toBe('  pretrain      running      5 s');
    expect(lines[1]).toMatch(/^ {4}pretrainGenerator +pretrainGenerator train 120\/400 \[####\.{8}]$/);
    expect(lines[2]).toMatch(/^ {4}train +train epoch 1\/3 \[####\.{8}]$/);
    expect(formatProgress(snapshot({ progress: pretrain, activities }), 1_005_000)).toBe('pretrain     pretrainGenerator train 120/400; train epoch 1/3');
    expect(formatProgress(snapshot({ progress: pretrain }), 1_005_000)).toBe('pretrain     starting');
  });

  it('shows fid’s engine step and the loop around it (fetching images, storing features)', () => {
    const fid = snapshot({ progress: { ...pretrain, stage: 'fid' }, activities: [{ activity: 'fid', stage: 'extract', step: 300, total: 1200, loop: { phase: 'fetch-images', done: 4, total: 8 } }] });
    expect(renderProgress(fid, 1_005_000)[1]).toMatch(/fid +fid extract 300\/1200, fetch-images 4\/8 \[###\.{9}]$/);
    expect(formatProgress(fid, 1_005_000)).toBe('fid          fid extract 300/1200, fetch-images 4/8');
  });
});

describe('generate: images and fine-tunes from the sweep, its running pages and a sample of their classes', () => {
  const g: GenerateProgress = {
    perClass: 10,
    sources: [
      { source: 'vanilla', seed: 0, classes: 4, finetunes: false, classesDone: 0, runningPages: ['s/generate/s0/vanilla/page-0'] },
      { source: 'dreambooth', seed: 0, classes: 6, finetunes: true, classesDone: 2, runningPages: ['s/generate/s0/dreambooth/page-1'] },
    ],
  };

  it('counts whole classes, the images a generate attempt stored (also a resumed one), and fine-tunes done once a class generates', () => {
    const counts = generateCounts(g, [
      // vanilla: one class done in its page, two generating: a fresh attempt at 3 of 10, a resumed one at 2 of the 4 still missing.
      { pages: [{ items: 4, done: 1, failed: 0, running: ['a', 'b'] }], classes: [{ activity: 'generate', stage: 'generate', step: 3, total: 10 }, { activity: 'generate', stage: 'generate', step: 2, total: 4 }] },
      // dreambooth: 2 classes in returned pages, 1 more in the running page; one class fine-tuning, one generating, one not yet described.
      { pages: [{ items: 4, done: 1, failed: 0, running: ['c', 'd', 'e'] }], classes: [{ activity: 'finetune', stage: 'finetune', step: 5, total: 50 }, { activity: 'generate' }, undefined] },
    ]);
    expect(counts.classes).toEqual({ done: 4, total: 10, running: 5 });
    // 1 class + 3 + (10 - (4 - 2)) = 8 vanilla images; 3 classes dreambooth.
    expect(counts.images).toEqual({ done: 10 + 3 + 8 + 30, total: 100 });
    expect(counts.finetunes).toEqual({ done: 3 + 1, total: 6 });
  });

  it('draws images with a rate and an ETA from the stage so far, fine-tunes and classes', () => {
    const counts = generateCounts(g, [
      { pages: [{ items: 4, done: 2, failed: 0, running: [] }], classes: [] },
      { pages: [], classes: [] },
    ]);
    // 40 of 100 images in 20 s: 2 images/s, 30 s left.
    const s = snapshot({ progress: { ...progress, stage: 'generate', stages: [], generate: g }, generate: counts });
    const lines = renderProgress(s, 1_020_000);
    expect(lines[0]).toBe(`  generate      ${bar(0.4)} 40/100 images, 20 s, 2.00 images/s, ETA 30 s`);
    expect(lines[1]).toBe('                2/6 fine-tunes, 4/10 classes done, 0 running');
    expect(formatProgress(s, 1_020_000)).toBe(`generate     ${bar(0.4)} 40/100 images, 2/6 fine-tunes, 4/10 classes, ETA 30 s`);
    // No image yet: no rate, no ETA.
    const fresh: GenerateProgress = { ...g, sources: g.sources.map((source) => ({ ...source, classesDone: 0 })) };
    const none = snapshot({ progress: { ...progress, stage: 'generate', stages: [], generate: fresh }, generate: generateCounts(fresh, []) });
    expect(renderProgress(none, 1_020_000)[0]).toBe(`  generate      ${bar(0)} 0/100 images, 20 s`);
  });

  it('status --json carries the counts and each running cell with its activity', () => {
    const cells = new Map<string, PendingActivity>([['vanilla-p0.5-scratch-s0', { activity: 'train', stage: 'train', step: 7, total: 12 }]]);
    const json = JSON.parse(JSON.stringify(snapshotJson(snapshot({ progress, cells, generate: generateCounts(g, []) })))) as Record<string, unknown>;
    expect(json).toMatchObject({ id: 's', status: 'RUNNING', stage: 'experiments', generate: { images: { done: 20, total: 100 } } });
    expect(json.cells).toMatchObject({ total: 10, done: 3, failed: 1, running: [{ id: 'vanilla-p0.5-scratch-s0', activity: 'train', step: 7 }, { id: 'original-p0-frozen-s0' }] });
    expect(snapshotJson({ id: 'x', status: 'FAILED', activities: [], cells: new Map() })).toEqual({ id: 'x', status: 'FAILED' });
  });
});

describe('the ticker', () => {
  const frame = (done: number) => snapshot({ progress: { ...progress, cells: { ...progress.cells, done, running: [] } } });

  it('in a log: a line only when it changed, at most every 10 s, the same line again after 5 min', () => {
    const out: string[] = [];
    const ticker = new ProgressTicker({ tty: false, write: (t) => out.push(t) });
    for (let t = 0; t < 60_000; t += 2_000) ticker.draw(frame(3), t); // 30 frames, one change: the first
    ticker.draw(frame(4), 62_000);
    ticker.draw(frame(5), 64_000); // changed, but 2 s after the last line: waits
    ticker.draw(frame(5), 72_000);
    ticker.draw(frame(5), 74_000);
    ticker.draw(frame(5), 72_000 + 300_000);
    expect(out.map((l) => l.match(/(\d+)\/10 cells/)?.[1])).toEqual(['4', '5', '6', '6']);
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r') && !l.includes('\x1b'))).toBe(true);
  });

  it('on a terminal: the full picture, redrawn in place', () => {
    const out: string[] = [];
    const ticker = new ProgressTicker({ tty: true, write: (t) => out.push(t) });
    ticker.draw(frame(3), 1_040_000);
    ticker.draw(frame(3), 1_042_000);
    const lines = renderProgress(frame(3), 1_040_000);
    expect(out[0]).toBe(`${lines.join('\n')}\n`);
    expect(out[1].startsWith(`\x1b[${lines.length}F\x1b[0J`)).toBe(true);
  });
});
