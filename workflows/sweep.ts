/**
 * The whole experiment of the paper, top to bottom (DESIGN §1):
 *
 *   curate ─► base models ─► per source, in parallel: (finetune per class) ─► generate per class
 *          ─► fid  ║  fan-out: one `experiment` child per cell (bounded) ─► join ─► report
 *
 * `sweep` below is that list of stages, one line each; the steps follow it in the same order.
 * Workflows orchestrate; activities compute (and memoize, so a re-run recomputes nothing). Every
 * activity reports `{ computed, wallMs }`, which each stage sums into `result.stages`.
 */
import { ApplicationFailure, ChildWorkflowFailure, continueAsNew, defineQuery, executeChild, setHandler } from '@temporalio/workflow';
import type { ManifestRef } from '../lib/data/manifest.js';
import type { StepTiming } from '../lib/memo.js';
import type { CellOutcome, FidRow, ReportOutput, StageTiming } from '../lib/report/types.js';
import type { ClassifierArch } from '../lib/steps/classifier.js';
import type { CurateResult } from '../lib/steps/curate.js';
import {
  classifierArch,
  needsPriorDomain,
  pretrainClassifierInput,
  pretrainClassifierSplit,
  pretrainGeneratorInput,
  priorCurateInput,
  targetCurateInput,
} from '../lib/sweep/base-model-inputs.js';
import type { Cell, Source, SweepConfig } from '../lib/sweep/config.js';
import { enumerateCells, unknownClassPromptsProblem } from '../lib/sweep/config.js';
import { experimentInput } from '../lib/sweep/experiment-input.js';
import type { Queues } from '../lib/temporal/queues.js';
import type { FidInput } from '../activities/fid.js';
import { proxyCpuActivities, proxyGpuActivities } from './proxies.js';
import { experiment } from './experiment.js';
import { fanOutBounded } from './fan-out.js';
import { classImages, classImagesInput } from './class-images.js';
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

/** What a stage's step returns: one activity's result, or several activities' timings. */
type Timed = StepTiming | { timings: StepTiming[] };

export async function sweep(input: SweepInput): Promise<SweepResult> {
  const { config, queues } = input;
  const cpu = proxyCpuActivities(queues);
  const gpu = proxyGpuActivities(queues, input.heartbeatTimeout);
  const seed = config.seeds[0];
  const cells = enumerateCells(config);
  const outcomes = new Map<string, CellOutcome>((input.carried?.outcomes ?? []).map((o) => [o.cell.id, o]));
  const stages: StageTiming[] = [...(input.carried?.stages ?? [])];
  const running = new Set<string>();
  let current = { stage: input.carried ? 'experiments' : 'curate', startedAt: Date.now() };
  const enter = (name: string) => (current = { stage: name, startedAt: Date.now() });
  const startedAt = input.carried?.startedAt ?? new Date().toISOString();

  setHandler(progressQuery, () => ({
    stage: current.stage,
    stageStartedAt: current.startedAt,
    cells: {
      total: cells.length,
      done: [...outcomes.values()].filter((o) => o.status === 'done').length,
      failed: [...outcomes.values()].filter((o) => o.status === 'failed').length,
      running: [...running],
    },
    stages,
  }));

  /** Run one stage: its wall time, and the sum of its activities' own `{ computed, wallMs }`. */
  async function stage<T extends Timed>(name: string, step: () => Promise<T>): Promise<T> {
    enter(name);
    const began = Date.now();
    const value = await step();
    const timed: Timed = value;
    const parts = 'timings' in timed ? timed.timings : [timed];
    stages.push({
      stage: name,
      wallMs: Date.now() - began,
      activityMs: parts.reduce((sum, p) => sum + p.wallMs, 0),
      activities: parts.length,
      computed: parts.filter((p) => p.computed).length,
    });
    return value;
  }

  // ── the graph ─────────────────────────────────────────────────────────────────────────────
  let data = input.carried?.data;
  if (!data) {
    const curated = await stage('curate', () => cpu.curateDataset(targetCurateInput(config)));
    // The classes are known from here on: a prompt for a class the dataset lacks fails before any other work.
    const promptsProblem = unknownClassPromptsProblem(config, curated.classes);
    if (promptsProblem) throw ApplicationFailure.nonRetryable(promptsProblem, 'BadInput');
    const prior = needsPriorDomain(config) ? await stage('curate-prior', () => cpu.curateDataset(priorCurateInput(config))) : undefined;
    const arch = classifierArch(config, curated.classes.length);
    const base = await stage('pretrain', () => baseModels(prior, curated.classes, arch));
    const generated = await stage('generate', () => generateSources(curated, base.generatorPrefix));
    const fid = await stage('fid', () => gpu.fid(fidInput(curated, generated.syntheticPerClass, base.classifierKey, arch)));
    data = { classes: curated.classes, original: curated.trainManifest, test: curated.testManifest, pretrainedKey: base.classifierKey, ...generated, fid: fid.rows, arch };
  }
  const cellOutcomes = (await stage('experiments', () => runExperiments(data))).outcomes;
  enter('report'); // not a timed stage: the report shows the stages' timings
  const report = await writeReport(data, cellOutcomes);
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

  // ── the steps, in the order of the graph ──────────────────────────────────────────────────

  /** Base models: given in the config (no activity), or pretrained on the prior domain (plays ImageNet / SD). */
  async function baseModels(prior: CurateResult | undefined, classes: string[], arch: ClassifierArch) {
    const timings: StepTiming[] = [];
    const timed = <T extends StepTiming>(result: T): T => {
      timings.push(result);
      return result;
    };
    const [classifierKey, generatorPrefix] = await Promise.all([
      config.train.pretrainedKey || pretrainClassifier(prior!, arch).then((r) => timed(r).weightsKey),
      // Replicate generates remotely: no local base model.
      config.generator.modelPrefix || config.generator.backend === 'replicate'
        ? (config.generator.modelPrefix ?? '')
        : gpu.pretrainGenerator(pretrainGeneratorInput(config, prior!.trainManifest)).then((r) => timed(r).prefix),
    ]);
    return { classifierKey, generatorPrefix, timings };
  }

  /**
   * The stand-in for ImageNet weights: a classifier of the prior domain's own classes (as an ImageNet
   * model keeps ImageNet's), whatever the target's classes are; finetune / frozen replace its head.
   */
  async function pretrainClassifier(prior: CurateResult, arch: ClassifierArch) {
    const split = await cpu.mix(pretrainClassifierSplit(config, prior.trainManifest));
    return gpu.train(pretrainClassifierInput(config, split, prior.classes, { ...arch, numClasses: prior.classes.length }));
  }

  /** Per source, in parallel: (finetune per class) → generate per class; then one manifest per source. */
  async function generateSources(curated: CurateResult, baseModelPrefix: string) {
    const generated = await Promise.all(config.sources.map((source) => generateSource(source, curated, baseModelPrefix)));
    const syntheticPerClass: Partial<Record<Source, ManifestRef[]>> = {};
    const synthetic: Partial<Record<Source, ManifestRef>> = {};
    for (const [i, source] of config.sources.entries()) {
      syntheticPerClass[source] = generated[i].manifests;
      synthetic[source] = await cpu.mergeManifests({ refs: generated[i].manifests, key: `${source}-${seed}` });
    }
    return { synthetic, syntheticPerClass, timings: generated.flatMap((g) => g.parts) };
  }

  async function generateSource(source: Source, curated: CurateResult, baseModelPrefix: string) {
    const { classes, trainManifest: original } = curated;
    const heartbeat = input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {};
    if (config.generator.backend === 'replicate') {
      return generateSourceWithReplicate({ config, queues, source, classes, original, seed, ...heartbeat });
    }
    // Fan-out per class, one child workflow each: (finetune) → generate.
    const perClass = await Promise.all(
      classes.map((className) =>
        executeChild(classImages, {
          args: [classImagesInput(config, { queues, source, className, original, baseModelPrefix, seed, ...heartbeat })],
          workflowId: `${input.sweepId}/generate/${source}/${className}`,
          taskQueue: queues.cpu,
        }),
      ),
    );
    return { manifests: perClass.map((c) => c.manifest), parts: perClass.flatMap((c) => c.parts) };
  }

  function fidInput(curated: CurateResult, synthetic: Partial<Record<Source, ManifestRef[]>>, pretrainedKey: string, arch: ClassifierArch): FidInput {
    return {
      original: curated.trainManifest,
      synthetic: synthetic as Record<string, ManifestRef[]>,
      extractor:
        config.fid.extractor === 'inception-v3-fid'
          ? // The config schema requires the key with this extractor.
            { id: 'inception-v3-fid', weightsKey: config.fid.inceptionWeightsKey as string, options: {} }
          : // The base classifier's features; its class count (prior domain or ImageNet) is read from its head.
            { id: 'synthmix-builtin-v1', weightsKey: pretrainedKey, options: { width: arch.width, stem: arch.stem, imageSize: arch.imageSize } },
      kid: { subsets: config.fid.kidSubsets, subsetSize: config.fid.kidSubsetSize, seed },
    };
  }

  /** Fan-out: one child workflow per cell, at most `concurrency` at once; `continueAsNew` when the history is long. */
  async function runExperiments(sweepData: SweepData) {
    if ((await fanOutBounded(cells, config.concurrency, { outcomes, running }, (cell) => runCell(cell, sweepData))) === 'continue-as-new') {
      // History is getting long: carry what is done into a fresh run of this workflow.
      await continueAsNew<typeof sweep>({ ...input, carried: { data: sweepData, outcomes: [...outcomes.values()], stages, startedAt } });
    }
    const joined = cells.map((cell) => outcomes.get(cell.id) as CellOutcome);
    return { outcomes: joined, timings: joined.map((o) => ({ wallMs: o.wallMs ?? 0, computed: o.computed ?? false })) };
  }

  async function runCell(cell: Cell, sweepData: SweepData): Promise<CellOutcome> {
    const args = experimentInput(config, cell, sweepData, { queues, ...(input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {}) });
    try {
      return await executeChild(experiment, { args: [args], workflowId: `${input.sweepId}/${cell.id}`, taskQueue: queues.cpu });
    } catch (error) {
      // A permanent failure fails its cell only; the report shows it with the reason.
      if (error instanceof ChildWorkflowFailure) return { cell, status: 'failed', error: rootMessage(error) };
      throw error;
    }
  }

  /** Join: the sample grid (Fig 7) and the report. */
  async function writeReport(sweepData: SweepData, cellOutcomes: CellOutcome[]): Promise<ReportOutput> {
    const samples = await cpu.sampleGrid({ original: sweepData.original, synthetic: sweepData.syntheticPerClass as Record<string, ManifestRef[]>, perCell: 4, seed });
    return cpu.report({
      sweepId: input.sweepId,
      config,
      classes: sweepData.classes,
      cells: cellOutcomes,
      fid: sweepData.fid,
      samples,
      stages,
      codeVersion: CODE_VERSION,
      backends: { generator: config.generator.backend, classifier: 'resnet18 (PyTorch engine)', fid: config.fid.extractor, store: 'artifact store' },
      startedAt,
      finishedAt: new Date().toISOString(),
      // Stored with the report (sweep record): what a nightly re-evaluation needs.
      evaluationContext: { test: sweepData.test, arch: sweepData.arch },
    });
  }
}

function rootMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
