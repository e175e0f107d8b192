/**
 * Large workflow values as store references (lib/store/values.ts) and the report step's request
 * (lib/report/request.ts): lists in pages come back whole and in order, a reference pins the bytes
 * it was taken of, and lean cell outcomes resolve to the full ones from the stored evaluations, a stored sample grid to the grid.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createValueActivities } from '../activities/values.js';
import { loadConfig } from '../lib/config/load.js';
import { BadInputError, CorruptObjectError } from '../lib/errors.js';
import { leanOutcome } from '../lib/report/lean-outcome.js';
import { resolveReportRequest, type ReportRequest } from '../lib/report/request.js';
import type { CellOutcome } from '../lib/report/types.js';
import { createLocalStore, getValue, putValue, readList, type LocalStore } from '../lib/store/index.js';

let tmp: string;
let store: LocalStore;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-values-'));
  store = createLocalStore(path.join(tmp, 'store'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('stored values', () => {
  it('a list in pages reads back whole and in order; a plain list passes through', async () => {
    const { storePage } = createValueActivities({ store, config: loadConfig({ env: {}, overrides: {} }) });
    const pages = [await storePage({ prefix: 'values/t', items: [1, 2] }), await storePage({ prefix: 'values/t', items: [3] }), await storePage({ prefix: 'values/t', items: [4, 5] })];
    expect(await readList<number>(store, { pages })).toEqual([1, 2, 3, 4, 5]);
    expect(await readList(store, [7, 8])).toEqual([7, 8]);
    // Content-addressed: the same page twice is one object.
    expect(await storePage({ prefix: 'values/t', items: [1, 2] })).toEqual(pages[0]);
    await expect(storePage({ prefix: '../outside', items: [] })).rejects.toBeInstanceOf(BadInputError);
  });

  it('a reference pins its bytes: the key rewritten with other bytes is a CorruptObjectError naming it', async () => {
    const ref = await putValue(store, 'values/pin', { a: 1 });
    expect(await getValue(store, ref)).toEqual({ a: 1 });
    await store.put(ref.key, JSON.stringify({ a: 2 }));
    const error = await getValue(store, ref).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptObjectError);
    expect((error as Error).message).toContain(ref.key);
  });
});

describe('the report request', () => {
  it('lean outcomes in stored pages resolve to the full outcomes, per-class results read from each stored evaluation', async () => {
    const classes = Array.from({ length: 300 }, (_, i) => `c${i}`);
    const full: CellOutcome[] = [];
    for (let i = 0; i < 5; i += 1) {
      const perClass = Object.fromEntries(classes.map((c, j) => [c, ((i + 1) * (j + 3)) % 17 / 17]));
      const evaluationKey = `steps/evaluate/x${i}/evaluation.json`;
      await store.putJson(evaluationKey, { overallAccuracy: 0.5, perClass: Object.fromEntries(Object.entries(perClass).map(([c, accuracy]) => [c, { accuracy, correct: 0, total: 0 }])) });
      full.push({
        cell: { id: `cell-${i}`, arm: 'only-original', source: 'original', p: 0, mode: 'scratch', seed: i },
        status: 'done',
        evaluation: { overallAccuracy: 0.5, perClass, evaluationKey },
        wallMs: 10,
        computed: true,
      });
    }
    full.push({ cell: { id: 'cell-failed', arm: 'only-original', source: 'original', p: 0, mode: 'scratch', seed: 9 }, status: 'failed', error: 'bad input' });
    const lean = full.map(leanOutcome);
    expect(JSON.stringify(lean).length).toBeLessThan(JSON.stringify(full).length / 10);
    const pages = [await putValue(store, 'values/cells', lean.slice(0, 4)), await putValue(store, 'values/cells', lean.slice(4))];
    const samples = { classes: ['c0'], columns: ['original'], images: { original: { c0: ['k0'] } } };
    const request = { sweepId: 's', cells: { pages }, samples: await putValue(store, 'values/grid', samples) } as unknown as ReportRequest;
    const resolved = await resolveReportRequest(store, request);
    expect(resolved.cells).toEqual(full);
    expect(resolved.samples).toEqual(samples);
    // A small caller still passes the outcomes themselves.
    expect((await resolveReportRequest(store, { ...request, cells: full })).cells).toEqual(full);
    await expect(resolveReportRequest(store, { ...request, cells: { nope: 1 } } as unknown as ReportRequest)).rejects.toThrow(/cells must be/);
  });
});
