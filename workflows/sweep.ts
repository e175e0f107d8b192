/**
 * The whole experiment of the paper, top to bottom:
 *
 *   curate ─► base models ─► per source, in parallel: (finetune per class) ─► generate per class
 *          ─► fid  ║  fan-out: one `experiment` child per cell (bounded) ─► join ─► report
 *
 * Workflows orchestrate; activities compute (and memoize, so a re-run recomputes nothing).
 */
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  continueAsNew,
  defineQuery,
  executeChild,
  setHandler,
} from '@temporalio/workflow';
import type { ManifestRef } from '../lib/data/manifest.js';
import type { Cell, Source, SweepConfig } from '../lib/sweep/config.js';
import { enumerateCells } from '../lib/sweep/config.js';
import type { CellOutcome, FidRow, ReportOutput, StageTiming } from '../lib/report/types.js';
import type { ClassifierArch } from '../activities/classifier.js';
import type { Queues } from './queues.js';
import { cpuActivities, gpuActivities } from './proxies.js';
import { experiment, type ExperimentInput } from './experiment.js';
import { fanOutBounded } from './fan-out.js';
import { classImages, classImagesInput } from './class-images.js';
import { pretrainGeneratorInput, priorCurateInput } from '../lib/sweep/base-model-inputs.js';
import { generateSourceWithReplicate } from './replicate-source.js';

export const CODE_VERSION = 'synthmix-0.1.0';

export interface SweepInput {
  sweepId: string;
  config: SweepConfig;
  queues: Queues;
  /** Shorter in fault tests so a killed worker's activity is retried quickly. */
  heartbeatTimeout?: string;
  /** State carried over `continueAsNew` (large sweeps). */
  carried?: CarriedState;
}

/** Everything the cells need from the data stages, computed once per sweep. */
export interface SweepData {
  classes: string[];
  original: ManifestRef;
  test: ManifestRef;
  pretrainedKey: string;
  synthetic: Partial<Record<Source, ManifestRef>>;
  syntheticPerClass: Partial<Record<Source, ManifestRef[]>>;
  fid: FidRow[];
  arch: ClassifierArch;
}

interface CarriedState {
  data: SweepData;
  outcomes: CellOutcome[];
  stages: StageTiming[];
  startedAt: string;
}

export interface SweepProgress {
  stage: string;
  /** When the current stage began (ms since the epoch, workflow time). */
  stageStartedAt: number;
  cells: { total: number; done: number; failed: number; running: string[] };
  stages: StageTiming[];
}

export interface SweepResult {
  sweepId: string;
  report: ReportOutput;
  cells: { total: number; done: number; failed: number; computed: number };
  stages: StageTiming[];
}

export const progressQuery = defineQuery<SweepProgress>('progress');

export async function sweep(input: SweepInput): Promise<SweepResult> {
  const { config, queues } = input;
  const cpu = cpuActivities(queues);
  const gpu = gpuActivities(queues, input.heartbeatTimeout);
  const cells = enumerateCells(config);
  const outcomes = new Map<string, CellOutcome>((input.carried?.outcomes ?? []).map((o) => [o.cell.id, o]));
  const stages: StageTiming[] = [...(input.carried?.stages ?? [])];
  const running = new Set<string>();
  let stage = input.carried ? 'experiments' : 'curate';
  let stageStartedAt = Date.now();
  const enter = (name: string) => {
    stage = name;
    stageStartedAt = Date.now();
  };
  const startedAt = input.carried?.startedAt ?? new Date().toISOString();

  setHandler(progressQuery, () => ({
    stage,
    stageStartedAt,
    cells: {
      total: cells.length,
      done: [...outcomes.values()].filter((o) => o.status === 'done').length,
      failed: [...outcomes.values()].filter((o) => o.status === 'failed').length,
      running: [...running],
    },
    stages,
  }));

  /** Time a stage: wall time, and the sum of its activities' own times. */
  async function timed<T>(name: string, run: () => Promise<T>, measure: (value: T) => Array<{ wallMs: number; computed: boolean }>): Promise<T> {
    enter(name);
    const began = Date.now();
    const value = await run();
    const parts = measure(value);
    stages.push({
      stage: name,
      wallMs: Date.now() - began,
      activityMs: parts.reduce((sum, p) => sum + p.wallMs, 0),
      activities: parts.length,
      computed: parts.filter((p) => p.computed).length,
    });
    return value;
  }

  const data = input.carried?.data ?? (await prepareData());

  // ── fan-out: one child workflow per cell, at most `concurrency` at once ─────────────────────
  enter('experiments');
  const began = Date.now();
  if ((await fanOutBounded(cells, config.concurrency, { outcomes, running }, runCell)) === 'continue-as-new') {
    // History is getting long: carry what is done into a fresh run of this workflow.
    await continueAsNew<typeof sweep>({ ...input, carried: { data, outcomes: [...outcomes.values()], stages, startedAt } });
  }
  const cellOutcomes = cells.map((cell) => outcomes.get(cell.id) as CellOutcome);
  stages.push({
    stage: 'experiments',
    wallMs: Date.now() - began,
    activityMs: cellOutcomes.reduce((sum, o) => sum + (o.wallMs ?? 0), 0),
    activities: cellOutcomes.length,
    computed: cellOutcomes.filter((o) => o.computed).length,
  });

  // ── join: the report ───────────────────────────────────────────────────────────────────────
  enter('report');
  const samples = await cpu.sampleGrid({ original: data.original, synthetic: data.syntheticPerClass as Record<string, ManifestRef[]>, perCell: 4, seed: config.seeds[0] });
  const report = await cpu.report({
    sweepId: input.sweepId,
    config,
    classes: data.classes,
    cells: cellOutcomes,
    fid: data.fid,
    samples,
    stages,
    codeVersion: CODE_VERSION,
    backends: { generator: config.generator.backend, classifier: 'resnet18 (PyTorch engine)', fid: config.fid.extractor, store: 'artifact store' },
    startedAt,
    finishedAt: new Date().toISOString(),
    // Stored with the report (sweep record): what a nightly re-evaluation needs.
    evaluationContext: { test: data.test, arch: data.arch },
  });
  enter('done');
  return {
    sweepId: input.sweepId,
    report,
    cells: {
      total: cells.length,
      done: cellOutcomes.filter((o) => o.status === 'done').length,
      failed: cellOutcomes.filter((o) => o.status === 'failed').length,
      computed: cellOutcomes.filter((o) => o.computed).length,
    },
    stages,
  };

  async function runCell(cell: Cell): Promise<CellOutcome> {
    const child: ExperimentInput = {
      queues,
      cell,
      classes: data.classes,
      original: data.original,
      ...(cell.arm === 'mixed' ? { synthetic: data.synthetic[cell.source as Source] } : {}),
      test: data.test,
      pretrainedKey: data.pretrainedKey,
      arch: data.arch,
      train: config.train,
      mix: { valFraction: config.mix.valFraction, realValidation: config.mix.realValidation },
      ...(input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {}),
    };
    try {
      return await executeChild(experiment, { args: [child], workflowId: `${input.sweepId}/${cell.id}`, taskQueue: queues.cpu });
    } catch (error) {
      // A permanent failure fails its cell only; the report shows it with the reason.
      if (error instanceof ChildWorkflowFailure) return { cell, status: 'failed', error: rootMessage(error) };
      throw error;
    }
  }

  async function prepareData(): Promise<SweepData> {
    const seed = config.seeds[0];
    const ds = config.dataset;
    const curated = await timed(
      'curate',
      () =>
        cpu.curateDataset({
          source: ds.source,
          ...(ds.testSource ? { testSource: ds.testSource } : {}),
          demoPreset: ds.demoPreset,
          perClass: ds.perClass,
          testPerClass: ds.testPerClass,
          seed,
          imageSize: ds.imageSize,
          resize: ds.resize,
          tooFew: ds.tooFew,
        }),
      (r) => [{ wallMs: 0, computed: !r.reused }],
    );
    const classes = curated.classes;
    const arch: ClassifierArch = { width: config.train.width, stem: config.train.stem, imageSize: ds.imageSize, numClasses: classes.length };

    // Base models: given in the config, or pretrained on the prior domain (plays ImageNet / SD).
    const needPrior = !config.train.pretrainedKey || (config.generator.backend === 'builtin' && !config.generator.modelPrefix);
    const prior = needPrior
      ? await timed('curate-prior', () => cpu.curateDataset(priorCurateInput(config)), (r) => [{ wallMs: 0, computed: !r.reused }])
      : undefined;
    // A base model given in the config costs no activity.
    const given = { key: '', prefix: '', wallMs: 0, computed: false, given: true };
    const [classifierBase, generatorBase] = await timed(
      'pretrain',
      () =>
        Promise.all([
          config.train.pretrainedKey ? Promise.resolve({ ...given, key: config.train.pretrainedKey }) : pretrainClassifier(prior!.trainManifest, classes, arch, seed),
          // Replicate generates remotely: no local base model.
          config.generator.modelPrefix || config.generator.backend === 'replicate'
            ? Promise.resolve({ ...given, prefix: config.generator.modelPrefix ?? '' })
            : gpu.pretrainGenerator(pretrainGeneratorInput(config, prior!.trainManifest)),
        ]),
      (models) => models.filter((m) => !('given' in m)),
    );
    const pretrainedKey = classifierBase.key;
    const baseModelPrefix = generatorBase.prefix;

    // Per source, in parallel: (finetune per class) → generate per class → one manifest.
    const generated = await timed(
      'generate',
      () => Promise.all(config.sources.map((source) => generateSource(source, classes, curated.trainManifest, baseModelPrefix, seed))),
      (perSource) => perSource.flatMap((s) => s.parts),
    );
    const syntheticPerClass: Partial<Record<Source, ManifestRef[]>> = {};
    const synthetic: Partial<Record<Source, ManifestRef>> = {};
    for (const [i, source] of config.sources.entries()) {
      syntheticPerClass[source] = generated[i].manifests;
      synthetic[source] = await cpu.mergeManifests({ refs: generated[i].manifests, key: `${source}-${seed}` });
    }

    const fid = await timed(
      'fid',
      () =>
        gpu.fid({
          original: curated.trainManifest,
          synthetic: syntheticPerClass as Record<string, ManifestRef[]>,
          extractor:
            config.fid.extractor === 'inception-v3-fid'
              ? { id: 'inception-v3-fid', weightsKey: requireKey(config.fid.inceptionWeightsKey, 'fid.inceptionWeightsKey'), options: {} }
              : { id: 'synthmix-builtin-v1', weightsKey: pretrainedKey, options: { width: arch.width, stem: arch.stem, numClasses: classes.length, imageSize: arch.imageSize } },
          kid: { subsets: config.fid.kidSubsets, subsetSize: config.fid.kidSubsetSize, seed },
        }),
      (r) => [{ wallMs: r.wallMs, computed: r.computed }],
    );
    return { classes, original: curated.trainManifest, test: curated.testManifest, pretrainedKey, synthetic, syntheticPerClass, fid: fid.rows, arch };
  }

  async function pretrainClassifier(prior: ManifestRef, classes: string[], arch: ClassifierArch, seed: number): Promise<{ key: string; wallMs: number; computed: boolean }> {
    const split = await cpu.mix({ original: prior, p: 0, arm: 'only-original', seed, valFraction: 0.15 });
    const trained = await gpu.train({
      train: split.train,
      val: split.val,
      classes,
      mode: 'scratch',
      arch,
      epochs: config.train.pretrainEpochs,
      batchSize: config.train.batchSize,
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 5e-4,
      seed,
      checkpointEvery: 1,
    });
    return { key: trained.weightsKey, wallMs: trained.wallMs, computed: trained.computed };
  }

  async function generateSource(source: Source, classes: string[], original: ManifestRef, baseModelPrefix: string, seed: number) {
    if (config.generator.backend === 'replicate') {
      return generateSourceWithReplicate({ config, queues, source, classes, original, seed, ...(input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {}) });
    }
    // Fan-out per class, one child workflow each: (finetune) → generate.
    const perClass = await Promise.all(
      classes.map((className) =>
        executeChild(classImages, {
          args: [
            classImagesInput(config, { queues, source, className, original, baseModelPrefix, seed, ...(input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {}) }),
          ],
          workflowId: `${input.sweepId}/generate/${source}/${className}`,
          taskQueue: queues.cpu,
        }),
      ),
    );
    return { manifests: perClass.map((c) => c.manifest), parts: perClass.flatMap((c) => c.parts) };
  }
}

function requireKey(value: string | undefined, field: string): string {
  if (!value) throw ApplicationFailure.nonRetryable(`sweep config: ${field} is required for this extractor`, 'BadInput');
  return value;
}

function rootMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
