/** What `synthmix status` / `watch` draw from the sweep's progress query and its cells' heartbeats. */
import { expect, it } from 'vitest';
import { bar, formatProgress, renderProgress } from '../cli/sweep-progress.js';
import type { SweepProgress } from '../workflows/sweep.js';

const progress: SweepProgress = {
  stage: 'experiments',
  stageStartedAt: 1_000_000,
  cells: { total: 10, done: 3, failed: 1, running: ['vanilla-p0.5-scratch-s0', 'original-p0-frozen-s0'] },
  stages: [
    { stage: 'curate', wallMs: 2_600, activityMs: 0, activities: 1, computed: 1 },
    { stage: 'generate', wallMs: 61_800, activityMs: 118_900, activities: 50, computed: 50 },
  ],
};

it('draws finished stages, the cell bar with an ETA from the stage so far, and each running cell at its epoch', () => {
  const cells = new Map([['vanilla-p0.5-scratch-s0', { activity: 'train', stage: 'train', step: 7, total: 12 }]]);
  // 4 of 10 cells finished in 40 s: 6 more take about 60 s.
  const lines = renderProgress(progress, cells, 1_040_000);
  expect(lines[0]).toMatch(/^ {2}curate +done +3 s/);
  expect(lines[1]).toMatch(/generate +done +62 s +\(50 activities, 50 computed\)/);
  expect(lines[2]).toContain('4/10 cells, 1 failed, 40 s, ETA 60 s');
  expect(lines[2]).toContain(bar(0.4));
  expect(lines[3]).toMatch(/vanilla-p0\.5-scratch-s0 +train epoch 7\/12 \[#######\.\.\.\.\.]/);
  expect(lines[4]).toMatch(/original-p0-frozen-s0 +starting$/);
});

it('a one-line form for logs and the demo ticker', () => {
  expect(formatProgress(progress)).toBe(`experiments  ${bar(0.4)} 4/10 cells (1 failed)  running: vanilla-p0.5-scratch-s0, original-p0-frozen-s0`);
  expect(renderProgress({ ...progress, stage: 'fid', stages: [] }, new Map(), 1_005_000)).toEqual(['  fid           running      5 s']);
});
