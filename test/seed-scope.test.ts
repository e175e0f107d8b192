/**
 * Seeds through every stage (issue 17, point 1), on the real sweep: Temporal dev server, workers,
 * engine processes, the tiny demo world. One source (vanilla: no fine-tune), one p, one mode, two
 * seeds, trimmed epochs: what is asserted is which images each seed generated and mixed in, never a
 * trained number.
 *  - `seedScope: "all"`: each seed generates its own images (different sha256s per class), each
 *    cell mixes in its own seed's set, and FID has rows per seed;
 *  - `seedScope: "training"`: one generation (the first seed's: the same images as `all`'s seed 0,
 *    from the memo) that both seeds' cells mix in.
 * Then `synthmix export` (issue 17, point 4) of the finished sweep, read back with the real
 * libraries in the engine venv: TensorBoard's EventAccumulator and MLflow's client, against each
 * cell's metrics.json as the engine wrote it; and the CSV files.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolPaths } from '../infra/tools.js';
import { exportSweep } from '../lib/report/export.js';
import { parseCsv } from '../lib/report/data.js';
import { readSweepRecord } from '../lib/report/record.js';
import { metricsKeyOf } from '../lib/report/export-runs.js';
import { tensorboardRunPath } from '../lib/report/export-tensorboard.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { sweep } from '../workflows/index.js';
import type { SweepResult } from '../workflows/sweep.js';
import { classImagesWorkflowId, type ClassImagesResult } from '../workflows/class-images.js';
import type { ExperimentInput } from '../lib/sweep/experiment-input.js';
import { enumerateCells } from '../lib/sweep/cells.js';
import { resolveSweepConfig, type SweepConfig } from '../lib/sweep/config.js';
import { readManifest, type ManifestRef } from '../lib/data/manifest.js';
import type { FidRow } from '../lib/report/types.js';
import { startTestWorld, type TestWorld } from './support/world.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startTestWorld({ name: 'seeds', workers: ['cpu', 'gpu'], overrides: () => ({ engine: { threads: 1 }, workers: { gpuConcurrency: 2 } }) });
}, 300_000);
afterAll(() => world?.stop());

const SEEDS = [0, 1];

function configOf(seedScope: 'all' | 'training'): SweepConfig {
  return resolveSweepConfig('tiny', {
    name: `seeds-${seedScope}`,
    seeds: SEEDS,
    seedScope,
    sources: ['vanilla'],
    // As small as the graph allows: the images only need to exist, not to be good.
    dataset: { perClass: 8, testPerClass: 4 },
    // The base models are the preset's own (seed 0, the first seed), which ship with synthmix: uploaded, not pretrained.
    generator: { steps: 2 },
    mix: { p: [0.5], onlyOriginal: false },
    train: { modes: ['scratch'], epochs: { scratch: 3, finetune: 1, frozen: 1 } },
    fid: { kidSubsets: 2, kidSubsetSize: 8 },
  });
}

async function runSweep(seedScope: 'all' | 'training'): Promise<{ config: SweepConfig; result: SweepResult }> {
  const config = configOf(seedScope);
  const sweepId = `seeds-${seedScope}`;
  const result = await world.client.workflow.execute(sweep, { taskQueue: world.config.queues.cpu, workflowId: sweepId, args: [{ sweepId, config, queues: world.config.queues }] });
  expect(result.cells).toMatchObject({ total: SEEDS.length, done: SEEDS.length, failed: 0 });
  console.log(`${sweepId}: ${result.stages.map((s) => `${s.stage} ${(s.wallMs / 1000).toFixed(1)} s (${s.computed} computed)`).join(', ')}`);
  return { config, result };
}

/** The generation child of one class and seed, if the sweep started one. */
async function classImages(sweepId: string, className: string, seed: number): Promise<ClassImagesResult | undefined> {
  const handle = world.client.workflow.getHandle(classImagesWorkflowId(sweepId, 'vanilla', className, seed));
  const started = await handle.describe().then(() => true, () => false);
  return started ? handle.result() : undefined;
}

/** The synthetic manifest a cell's mix step was given (its child workflow's input, from history). */
async function cellSynthetic(sweepId: string, cellId: string): Promise<ManifestRef> {
  const history = await world.client.workflow.getHandle(`${sweepId}/${cellId}`).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const input = defaultPayloadConverter.fromPayload<ExperimentInput>(payload as Parameters<typeof defaultPayloadConverter.fromPayload>[0]);
  expect(input.synthetic, cellId).toBeDefined();
  return input.synthetic as ManifestRef;
}

async function imageShas(ref: ManifestRef): Promise<string[]> {
  return (await readManifest(world.store, ref)).items.map((item) => item.sha256).sort();
}

async function reportJson<T>(result: SweepResult, name: string): Promise<T> {
  return world.store.getJson<T>(result.report.files.find((key) => key.endsWith(`/${name}`)) as string);
}

describe('seed scope', () => {
  let classes: string[] = [];
  /** seed → class → the sha256s of that class's images at `all`. */
  const generatedAll = new Map<number, Map<string, string[]>>();

  it('"all": each seed generates its own images, its cells mix them in, and FID is per seed', async () => {
    const { config, result } = await runSweep('all');
    classes = (await reportJson<{ classes: string[] }>(result, 'results.json')).classes;
    expect(classes.length).toBeGreaterThan(1);

    for (const seed of SEEDS) {
      const byClass = new Map<string, string[]>();
      for (const className of classes) {
        const child = await classImages('seeds-all', className, seed);
        expect(child, `${className} seed ${seed}`).toBeDefined();
        expect(child?.count).toBe(config.dataset.perClass);
        byClass.set(className, await imageShas((child as ClassImagesResult).manifest));
      }
      generatedAll.set(seed, byClass);
    }
    for (const className of classes) {
      const [a, b] = SEEDS.map((seed) => generatedAll.get(seed)?.get(className) as string[]);
      // Different seeds: not one image in common.
      expect(a.filter((sha) => b.includes(sha)), className).toEqual([]);
    }

    // Each seed's cell mixes in exactly the images its own seed generated.
    const cells = enumerateCells(config);
    for (const cell of cells) {
      const mixedIn = await imageShas(await cellSynthetic('seeds-all', cell.id));
      const own = classes.flatMap((className) => generatedAll.get(cell.seed)?.get(className) ?? []).sort();
      expect(mixedIn, cell.id).toEqual(own);
    }

    const fid = (await reportJson<{ rows: FidRow[] }>(result, 'fid.json')).rows;
    expect([...new Set(fid.map((r) => r.seed))].sort()).toEqual(SEEDS);
    for (const seed of SEEDS) expect(fid.filter((r) => r.seed === seed).map((r) => r.className).sort()).toEqual([...classes, 'overall'].sort());
    expect((await reportJson<{ seedScope: string }>(result, 'findings.json')).seedScope).toBe('all');
  }, 900_000);

  it('"training": one generation (the first seed\'s, shared with "all" through the memo) that every seed mixes in', async () => {
    const { config, result } = await runSweep('training');
    expect(generatedAll.size).toBe(SEEDS.length);
    for (const className of classes) {
      expect(await classImages('seeds-training', className, SEEDS[1]), className).toBeUndefined();
      const child = await classImages('seeds-training', className, SEEDS[0]);
      expect(await imageShas((child as ClassImagesResult).manifest), className).toEqual(generatedAll.get(SEEDS[0])?.get(className));
    }
    const first = classes.flatMap((className) => generatedAll.get(SEEDS[0])?.get(className) ?? []).sort();
    for (const cell of enumerateCells(config)) expect(await imageShas(await cellSynthetic('seeds-training', cell.id)), cell.id).toEqual(first);

    const generate = result.stages.find((s) => s.stage === 'generate');
    expect(generate?.computed, 'the first seed\'s images come from the memo').toBe(0);
    const fid = (await reportJson<{ rows: FidRow[] }>(result, 'fid.json')).rows;
    expect([...new Set(fid.map((r) => r.seed))]).toEqual([SEEDS[0]]);
    expect((await reportJson<{ seedScope: string }>(result, 'findings.json')).seedScope).toBe('training');
    const html = (await world.store.get(result.report.files.find((k) => k.endsWith('/index.html')) as string)).toString('utf8');
    expect(html).toContain('seed scope <b>training</b>');
  }, 900_000);

  it('export: TensorBoard event files and an MLflow store their own libraries read back, and CSV, hold every cell\'s curves and final metrics', async () => {
    const sweepId = 'seeds-all';
    const record = await readSweepRecord(world.store, sweepId);
    // The engine's own metrics.json per cell: what every format must hold.
    const cells = await Promise.all(record.report.cells.map(async (o) => ({
      cell: o.cell,
      accuracy: o.evaluation?.overallAccuracy as number,
      metrics: await world.store.getJson<{ epochs: Array<{ epoch: number; loss: number; trainAcc: number; valAcc: number; lr: number }> }>(metricsKeyOf(o.train as NonNullable<typeof o.train>)),
    })));
    expect(cells.length).toBe(SEEDS.length);
    for (const c of cells) expect(c.metrics.epochs.length).toBe(3);

    const out = mkdtempSync(path.join(os.tmpdir(), 'synthmix-export-'));
    const tb = await exportSweep(world.store, sweepId, 'tensorboard', path.join(out, 'tb'));
    const mlflow = await exportSweep(world.store, sweepId, 'mlflow', path.join(out, 'mlflow'));
    const csv = await exportSweep(world.store, sweepId, 'csv', path.join(out, 'csv'));
    expect([tb.runs, mlflow.runs, csv.runs]).toEqual([cells.length, cells.length, cells.length]);

    const read = spawnSync(toolPaths.enginePython, ['-c', ORACLE, path.join(out, 'tb'), path.join(out, 'mlflow', 'mlruns')], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: { ...process.env, MLFLOW_ALLOW_FILE_STORE: 'true', MLFLOW_TRACKING_URI: '' },
    });
    expect(read.status, read.stderr).toBe(0);
    const oracle = JSON.parse(read.stdout) as Oracle;

    const curves = [['train/loss', 'loss'], ['train/accuracy', 'trainAcc'], ['val/accuracy', 'valAcc'], ['lr', 'lr']] as const;
    for (const { cell, accuracy, metrics } of cells) {
      const run = `${cell.source}/p${cell.p}/${cell.mode}/s${cell.seed}`;
      expect(tensorboardRunPath({ tags: { ...cell, cellId: cell.id, sweepId }, epochs: [], final: {} })).toBe(run);
      // TensorBoard stores float32 scalars.
      const board = oracle.tensorboard[run];
      expect(board, run).toBeDefined();
      for (const [tag, field] of curves) expect(board[tag], `${run} ${tag}`).toEqual(metrics.epochs.map((e) => [e.epoch, Math.fround(e[field])]));
      expect(board['final/test/accuracy']).toEqual([[3, Math.fround(accuracy)]]);
      // MLflow keeps doubles as text: exact.
      const ml = oracle.mlflow.runs.find((r) => r.tags.cell === cell.id);
      expect(ml, cell.id).toBeDefined();
      expect(ml?.params).toEqual({ source: cell.source, p: String(cell.p), mode: cell.mode, seed: String(cell.seed), arm: cell.arm, cell: cell.id, sweep: sweepId });
      expect(ml?.status).toBe('FINISHED');
      for (const [key, field] of curves) expect(ml?.history[key], `${cell.id} ${key}`).toEqual(metrics.epochs.map((e) => [e.epoch, e[field]]));
      expect(ml?.history['final/test/accuracy']).toEqual([[3, accuracy]]);
    }
    expect(oracle.mlflow.experiment).toBe(sweepId);
    expect(oracle.mlflow.runs.length).toBe(cells.length);

    // CSV: long-format curves (one row per cell × epoch × metric) and one final row per cell.
    const [head, ...rows] = parseCsv(readFileSync(path.join(out, 'csv', 'curves.csv'), 'utf8'));
    expect(head).toEqual(['sweepId', 'cellId', 'arm', 'source', 'p', 'mode', 'seed', 'epoch', 'metric', 'value']);
    expect(rows.length).toBe(cells.length * 3 * curves.length);
    for (const { cell, metrics } of cells) {
      for (const [metric, field] of curves) {
        const values = rows.filter((r) => r[1] === cell.id && r[8] === metric).map((r) => [Number(r[7]), Number(r[9])]);
        expect(values, `${cell.id} ${metric}`).toEqual(metrics.epochs.map((e) => [e.epoch, e[field]]));
      }
    }
    const [finalHead, ...finals] = parseCsv(readFileSync(path.join(out, 'csv', 'final.csv'), 'utf8'));
    expect(finalHead.slice(0, 8)).toEqual(['sweepId', 'cellId', 'arm', 'source', 'p', 'mode', 'seed', 'test/accuracy']);
    expect(finals.map((r) => [r[1], Number(r[7])]).sort()).toEqual(cells.map((c) => [c.cell.id, c.accuracy]).sort());
  }, 300_000);
});

interface Oracle {
  /** run folder → tag → [step, value] pairs */
  tensorboard: Record<string, Record<string, Array<[number, number]>>>;
  mlflow: { experiment: string; runs: Array<{ status: string; params: Record<string, string>; tags: Record<string, string>; history: Record<string, Array<[number, number]>> }> };
}

/** Reads the exports back with TensorBoard's and MLflow's own readers (the engine venv). */
const ORACLE = String.raw`
import json, os, struct, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from mlflow.tracking import MlflowClient

tb_root, mlruns = sys.argv[1], sys.argv[2]


def check_framing(path):
    # TFRecord framing with TensorBoard's own masked CRC-32C (its Rust data server rejects bad ones).
    data, offset = open(path, "rb").read(), 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        (header_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        (body_crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
        assert header_crc == masked_crc32c(data[offset:offset + 8]), path
        assert body_crc == masked_crc32c(data[offset + 12:offset + 12 + length]), path
        offset += 16 + length


boards = {}
for folder, _, files in os.walk(tb_root):
    for name in files:
        check_framing(os.path.join(folder, name))
    if any("tfevents" in f for f in files):
        acc = EventAccumulator(folder, size_guidance={"scalars": 0})
        acc.Reload()
        boards[os.path.relpath(folder, tb_root)] = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}

client = MlflowClient(tracking_uri="file://" + os.path.abspath(mlruns))
experiments = [e for e in client.search_experiments() if e.experiment_id != "0"]
assert len(experiments) == 1, [e.name for e in experiments]
runs = []
for run in client.search_runs([experiments[0].experiment_id]):
    history = {key: [[m.step, m.value] for m in sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)] for key in run.data.metrics}
    runs.append({"status": run.info.status, "params": run.data.params, "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}, "history": history})
print(json.dumps({"tensorboard": boards, "mlflow": {"experiment": experiments[0].name, "runs": runs}}))
`;
