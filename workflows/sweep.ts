// One module over 400 lines: the sweep's graph reads top to bottom in one place (docs/CONVENTIONS.md).
/**
 * The whole experiment of the paper, top to bottom (DESIGN §1):
 *
 *   curate ─► (LLM prompts) ─► base models ─► per generation seed × source, in parallel: (finetune per class) ─► generate
 *          per class ─► join ─► fid per seed  ║  fan-out: one `experiment` child per cell (bounded) ─► join ─► report
 *          └─► baselines (§6.3 zero-shot CLIP, when configured), beside base models … fid ─┘
 *
 * Generation seeds (`generationSeeds`): every seed at `seedScope: "all"` (each seed fine-tunes,
 * generates and has its own FID; a cell mixes in its own seed's images), the first at `"training"`.
 *
 * `sweep` below is that list of stages, one line each; the steps follow it in the same order.
 * Workflows orchestrate; activities compute (and memoize, so a re-run recomputes nothing). Every
 * activity reports `{ computed, wallMs }`, which each stage sums into `result.stages`.
 */
import { ApplicationFailure, continueAsNew, defineQuery, executeChild, setHandler } from '@temporalio/workflow';
import type { ManifestRef } from '../lib/data/manifest.js';
import type { StepTiming } from '../lib/memo.js';
import type { LeanCellOutcome } from '../lib/report/lean-outcome.js';
import type { BaseModelKeys, FidRow, ReportOutput, StageTiming } from '../lib/report/types.js';
import type { StoredList, StoredValue } from '../lib/store/values.js';
import type { ClassifierArch } from '../lib/steps/classifier.js';
import type { SyntheticSets } from '../lib/sweep/experiment-input.js';
import type { CurateResult } from '../lib/steps/curate.js';
import {
  classifierArch,
  needsPriorDomain,
  pretrainClassifierInput,
  pretrainClassifierSplit,
  pretrainGeneratorInput,
  pretrainsClassifier,
  pretrainsGenerator,
  priorCurateInput,
  targetCurateInput,
} from '../lib/sweep/base-model-inputs.js';
import { enumerateCells, generationSeeds, unknownClassPromptsProblem, type Source } from '../lib/sweep/cells.js';
import type { SweepConfig } from '../lib/sweep/config.js';
import { clipZeroShotInput } from '../lib/sweep/baselines.js';
import { isFineTuned, shortClasses, type ShortClasses } from '../lib/sweep/instances.js';
import { llmPromptsInput } from '../lib/sweep/prompts-input.js';
import type { Queues } from '../lib/temporal/queues.js';
import type { FidInput } from '../activities/fid.js';
import { proxyCpuActivities, proxyGpuActivities, proxyLlmActivities } from './proxies.js';
import { cellPagesPrefix, cellTally, experimentPage, runCell, type CellContext } from './experiment.js';
import { addTallies, fanOutBounded, fanOutPaged, joinPages, pagesOf, type PageResult, type Tally } from './fan-out.js';
import { classImagesPage } from './class-images.js';
import { leanOutcome } from '../lib/report/lean-outcome.js';
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
  /** The base generator's store prefix ('' for a remote model): named in the report's header. */
  generatorPrefix: string;
  /** The base models uploaded from the ones synthmix ships rather than trained (the report's header says so). */
  shipped?: BaseModelKeys['shipped'];
  /** Per generation seed, per source: its synthetic images (all classes). */
  synthetic: SyntheticSets;
  /** Per generation seed, per source: its per-class manifests in class order, as stored pages (they grow with the classes). */
  syntheticPerClass: PerClassSets;
  /** Every generation seed's FID rows, each tagged with its seed. */
  fid: FidRow[];
  /** `generator.prompts.kind: "llm"`: the stored prompts (lib/steps/prompts.ts StoredPrompts), shown in the report. */
  llmPrompts?: StoredValue;
  arch: ClassifierArch;
  /** Per fine-tuned source that lacks classes (fewer than k curated images): why its cells at p > 0 fail. */
  blocked?: Partial<Record<Source, string>>;
  /** The §6.3 zero-shot CLIP baseline's stored evaluation (absent: not configured); the report draws it. */
  clipZeroShot?: { evaluationKey: string; modelPrefix: string };
}

/** One generation seed's per-class manifests, per source. */
type PerClassSets = Array<{ seed: number; sources: Partial<Record<Source, StoredList>> }>;

/** What a sweep carries over `continueAsNew`: small whatever its size (large values are store references). */
interface CarriedState {
  data: SweepData;
  /** A sweep of one page of cells: the lean outcomes so far (≤ CELLS_PER_PAGE). */
  outcomes: LeanCellOutcome[];
  /** A larger sweep: the finished pages of cells. */
  pages?: Array<[string, PageResult]>;
  stages: StageTiming[];
  startedAt: string;
}

export interface SweepProgress {
  stage: string;
  /** When the current stage began (ms since the epoch, workflow time). */
  stageStartedAt: number;
  /** `running`: cells the sweep runs itself; `runningPages`: workflow ids of cell page children running (a large sweep). */
  cells: { total: number; done: number; failed: number; running: string[]; runningPages?: string[] };
  stages: StageTiming[];
  /** The generate stage on a local backend, once it began (a Replicate source is not listed). */
  generate?: GenerateProgress;
}

/** What the sweep knows of its generate stage; `synthmix status` asks the running pages for the rest. */
export interface GenerateProgress {
  /** Images per class (`dataset.perClass`). */
  perClass: number;
  /** One entry per generation seed and source (`seedScope: "all"`: each seed generates its own). */
  sources: Array<{
    source: Source;
    seed: number;
    classes: number;
    /** DreamBooth / textual inversion: each class fine-tunes before it generates. */
    finetunes: boolean;
    /** Classes of the pages that returned. */
    classesDone: number;
    /** Workflow ids of the page children running now (`pageProgressQuery` answers for each). */
    runningPages: string[];
  }>;
}

export interface SweepResult {
  sweepId: string;
  report: ReportOutput;
  cells: { total: number; done: number; failed: number; computed: number };
  stages: StageTiming[];
}

export const progressQuery = defineQuery<SweepProgress>('progress');

/**
 * Cells in one page: up to this many the sweep runs its cells itself (the progress query names each
 * running cell); more go through page children (workflows/fan-out.ts), each storing its outcomes.
 */
export const CELLS_PER_PAGE = 500;
/** Classes of one source in one generation page child. */
export const CLASSES_PER_PAGE = 500;
/** Per-class generation children at once per source (the gpu worker's slots bound the real work). */
const GENERATION_CHILDREN_AT_ONCE = 200;

/** What a stage's step returns: one activity's result, several activities' timings, or a fan-out's tally. */
type Timed = StepTiming | { timings: StepTiming[] } | { tally: Tally };

export async function sweep(input: SweepInput): Promise<SweepResult> {
  const { config, queues } = input;
  // Children and cpu steps go to queues.cpu, where every starter (`synthmix sweep`, the demo, the
  // schedules) starts the sweep itself, after checking that someone polls it. Not checked here:
  // `workflowInfo().taskQueue` is the worker's queue, which a replay of this history does not share.
  const cpu = proxyCpuActivities(queues);
  const gpu = proxyGpuActivities(queues, input.heartbeatTimeout);
  // The base models and the sample grid use the first seed, whatever the scope: the base models
  // play the paper's fixed pretrained weights, which every run shares.
  const seed = config.seeds[0];
  const cells = enumerateCells(config);
  const outcomes = new Map<string, LeanCellOutcome>((input.carried?.outcomes ?? []).map((o) => [o.cell.id, o]));
  const pageResults = new Map<string, PageResult>(input.carried?.pages ?? []);
  const stages: StageTiming[] = [...(input.carried?.stages ?? [])];
  const running = new Set<string>();
  const runningCellPages = new Set<string>();
  /** Per generation seed and source on a local backend: its classes and the generate pages finished / running (for the progress query). */
  const generating = new Map<string, { source: Source; seed: number; classes: number; outcomes: Map<string, PageResult>; running: Set<string> }>();
  let current = { stage: input.carried ? 'experiments' : 'curate', startedAt: Date.now() };
  const enter = (name: string) => (current = { stage: name, startedAt: Date.now() });
  const startedAt = input.carried?.startedAt ?? new Date().toISOString();

  setHandler(progressQuery, () => ({
    stage: current.stage,
    stageStartedAt: current.startedAt,
    cells: (() => {
      // A paged sweep knows its cells a page at a time.
      const pages = addTallies([...pageResults.values()].map((r) => r.tally));
      const failed = [...outcomes.values()].filter((o) => o.status === 'failed').length + pages.failed;
      const runningPages = [...runningCellPages].map((pageId) => `${input.sweepId}/cells/${pageId}`);
      return { total: cells.length, done: outcomes.size + pages.items - failed, failed, running: [...running], ...(runningPages.length ? { runningPages } : {}) };
    })(),
    stages,
    ...(generating.size > 0 ? { generate: generateProgress() } : {}),
  }));

  function generateProgress(): GenerateProgress {
    return {
      perClass: config.dataset.perClass,
      sources: [...generating.values()].map((g) => ({
        source: g.source,
        seed: g.seed,
        classes: g.classes,
        finetunes: g.source !== 'vanilla',
        classesDone: addTallies([...g.outcomes.values()].map((r) => r.tally)).items,
        runningPages: [...g.running].map((pageId) => generatePageWorkflowId(g.seed, g.source, pageId)),
      })),
    };
  }
  function generatePageWorkflowId(generationSeed: number, source: Source, pageId: string): string {
    return `${input.sweepId}/generate/s${generationSeed}/${source}/${pageId}`;
  }

  /** Run one stage: its wall time, and the sum of its activities' own `{ computed, wallMs }`. */
  async function stage<T extends Timed>(name: string, step: () => Promise<T>): Promise<T> {
    enter(name);
    return timedStep(name, step);
  }

  /** Run a step and record its timing as stage `name`, without making it the progress's current stage (a step beside others). */
  async function timedStep<T extends Timed>(name: string, step: () => Promise<T>): Promise<T> {
    const began = Date.now();
    const value = await step();
    const timed: Timed = value;
    const tally =
      'tally' in timed
        ? timed.tally
        : addTallies(('timings' in timed ? timed.timings : [timed]).map((p) => ({ items: 1, failed: 0, activities: 1, activityMs: p.wallMs, computed: p.computed ? 1 : 0 })));
    stages.push({ stage: name, wallMs: Date.now() - began, activityMs: tally.activityMs, activities: tally.activities, computed: tally.computed });
    return value;
  }

  // ── the graph ─────────────────────────────────────────────────────────────────────────────
  let data = input.carried?.data;
  if (!data) {
    const curated = await stage('curate', () => cpu.curateDataset(targetCurateInput(config)));
    // The classes are known from here on: a prompt for a class the dataset lacks fails before any other work.
    const promptsProblem = unknownClassPromptsProblem(config, curated.classes);
    if (promptsProblem) throw ApplicationFailure.nonRetryable(promptsProblem, 'BadInput');
    // §6.1: an LLM writes the prompts (once per config: memoized) before any other work needs them; absent with templates.
    const llmPrompts = await writeLlmPrompts(curated.classes);
    const prior = needsPriorDomain(config) ? await stage('curate-prior', () => cpu.curateDataset(priorCurateInput(config))) : undefined;
    // Counts are known from here on: a class with fewer than k images is fine-tuned by no source (lib/sweep/instances.ts).
    const short = shortClasses(config, curated.classes, curated.counts);
    const arch = classifierArch(config, curated.classes.length);
    // Baselines need only the test set: they run beside the stages up to fid (their failure surfaces after fid).
    const baselines = runBaselines(curated);
    const base = await stage('pretrain', () => baseModels(prior, curated.classes, arch));
    const generated = await stage('generate', () => generateSeeds(curated, base.generatorPrefix, short, llmPrompts));
    const fid = await stage('fid', () => fidPerSeed(curated, generated.syntheticPerClass, base.classifierKey, arch));
    const { synthetic, syntheticPerClass } = generated;
    const { clipZeroShot } = await baselines;
    data = {
      classes: curated.classes,
      original: curated.trainManifest,
      test: curated.testManifest,
      pretrainedKey: base.classifierKey,
      generatorPrefix: base.generatorPrefix,
      ...(base.shipped ? { shipped: base.shipped } : {}),
      synthetic,
      syntheticPerClass,
      fid: fid.rows,
      ...(llmPrompts ? { llmPrompts } : {}),
      arch,
      ...(short.classes.length > 0 ? { blocked: short.reasons } : {}),
      ...(clipZeroShot ? { clipZeroShot } : {}),
    };
  }
  const experiments = await stage('experiments', () => runExperiments(data));
  enter('report'); // not a timed stage: the report shows the stages' timings
  const report = await writeReport(data, experiments.outcomes);
  enter('done');
  const { tally } = experiments;
  return { sweepId: input.sweepId, report, cells: { total: cells.length, done: tally.items - tally.failed, failed: tally.failed, computed: tally.computed }, stages };

  // ── the steps, in the order of the graph ──────────────────────────────────────────────────

  /** The LLM's prompts for the classes (a stage only when the config asks an LLM): a stored reference. */
  async function writeLlmPrompts(classes: string[]): Promise<StoredValue | undefined> {
    const request = llmPromptsInput(config, classes);
    if (!request) return undefined;
    const written = await stage('prompts', () => proxyLlmActivities(queues).writeLlmPrompts(request));
    return written.prompts;
  }

  /**
   * The configured baselines (§6.3 zero-shot CLIP) on the test set, beside the stages up to fid: not the
   * progress's current stage, timed when it ends. None configured: nothing runs (no command in history).
   */
  function runBaselines(curated: CurateResult): Promise<{ clipZeroShot?: SweepData['clipZeroShot'] }> {
    const clip = clipZeroShotInput(config, curated.testManifest, curated.classes);
    if (!clip) return Promise.resolve({});
    const running = timedStep('clip-zero-shot', () => gpu.clipZeroShot(clip)).then((r) => ({ clipZeroShot: { evaluationKey: r.evaluationKey, modelPrefix: r.modelPrefix } }));
    running.catch(() => undefined); // awaited after fid: until then a failure is no unhandled rejection
    return running;
  }

  /** Base models: given in the config (no activity), or pretrained on the prior domain (plays ImageNet / SD). */
  async function baseModels(prior: CurateResult | undefined, classes: string[], arch: ClassifierArch) {
    const timings: StepTiming[] = [];
    const timed = <T extends StepTiming>(result: T): T => {
      timings.push(result);
      return result;
    };
    const shipped: NonNullable<BaseModelKeys['shipped']> = {};
    const [classifierKey, generatorPrefix] = await Promise.all([
      pretrainsClassifier(config)
        ? pretrainClassifier(prior!, arch).then((r) => {
            if (r.shipped) shipped.classifier = r.shipped;
            return timed(r).weightsKey;
          })
        : config.train.pretrainedKey!,
      // A given folder, or none (Replicate generates remotely).
      pretrainsGenerator(config)
        ? gpu.pretrainGenerator(pretrainGeneratorInput(config, prior!.trainManifest)).then((r) => {
            if (r.shipped) shipped.generator = r.shipped;
            return timed(r).prefix;
          })
        : (config.generator.modelPrefix ?? ''),
    ]);
    return { classifierKey, generatorPrefix, timings, ...(shipped.classifier || shipped.generator ? { shipped } : {}) };
  }

  /**
   * The stand-in for ImageNet weights: a classifier of the prior domain's own classes (as an ImageNet
   * model keeps ImageNet's), whatever the target's classes are; finetune / frozen replace its head.
   */
  async function pretrainClassifier(prior: CurateResult, arch: ClassifierArch) {
    const split = await cpu.mix(pretrainClassifierSplit(config, prior.trainManifest));
    return gpu.train(pretrainClassifierInput(config, split, prior.classes, { ...arch, numClasses: prior.classes.length }));
  }

  /**
   * Fan-out per generation seed (a handful: the config's seeds), each over the sources in parallel;
   * join: the seeds' synthetic sets, in seed order.
   */
  async function generateSeeds(curated: CurateResult, baseModelPrefix: string, short: ShortClasses, llmPrompts: StoredValue | undefined) {
    const perSeed = await Promise.all(generationSeeds(config).map((generationSeed) => generateSources(generationSeed, curated, baseModelPrefix, short, llmPrompts)));
    return {
      synthetic: perSeed.map((g): SyntheticSets[number] => ({ seed: g.seed, sources: g.synthetic })),
      syntheticPerClass: perSeed.map((g): PerClassSets[number] => ({ seed: g.seed, sources: g.syntheticPerClass })),
      tally: addTallies(perSeed.map((g) => g.tally)),
    };
  }

  /**
   * One generation seed, per source in parallel: (finetune per class) → generate per class; then one
   * manifest per source. A fine-tuned source skips the short classes (no fine-tune can learn them);
   * one left with no class at all has no manifest (its p = 0 cells draw none, the others are blocked).
   */
  async function generateSources(generationSeed: number, curated: CurateResult, baseModelPrefix: string, short: ShortClasses, llmPrompts: StoredValue | undefined) {
    const skipped = new Set(short.classes);
    const classesOf = (source: Source) => (isFineTuned(source) ? curated.classes.filter((name) => !skipped.has(name)) : curated.classes);
    const generated = await Promise.all(config.sources.map((source) => generateSource(source, generationSeed, classesOf(source), curated.trainManifest, baseModelPrefix, llmPrompts)));
    const syntheticPerClass: Partial<Record<Source, StoredList>> = {};
    const synthetic: Partial<Record<Source, ManifestRef>> = {};
    for (const [i, source] of config.sources.entries()) {
      syntheticPerClass[source] = generated[i].manifests;
      if (classesOf(source).length > 0) synthetic[source] = await cpu.mergeManifests({ refs: generated[i].manifests, key: `${source}-${generationSeed}` });
    }
    return { seed: generationSeed, synthetic, syntheticPerClass, tally: addTallies(generated.map((g) => g.tally)) };
  }

  async function generateSource(
    source: Source,
    generationSeed: number,
    classes: string[],
    original: ManifestRef,
    baseModelPrefix: string,
    llmPrompts: StoredValue | undefined,
  ): Promise<{ manifests: StoredList; tally: Tally }> {
    const heartbeat = input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {};
    if (config.generator.backend === 'replicate') {
      const remote = await generateSourceWithReplicate({ config, queues, source, classes, original, seed: generationSeed, ...heartbeat });
      const page = await cpu.storePage({ prefix: `values/generate-${source}`, items: remote.manifests });
      return { manifests: { pages: [page] }, tally: addTallies(remote.parts.map((p) => ({ items: 1, failed: 0, activities: 1, activityMs: p.wallMs, computed: p.computed ? 1 : 0 }))) };
    }
    // Fan-out per class, one child workflow each: (finetune) → generate; in page children (bounded, each storing its manifests).
    const pages = pagesOf(classes.map((id) => ({ id })), CLASSES_PER_PAGE, GENERATION_CHILDREN_AT_ONCE);
    const state = { source, seed: generationSeed, classes: classes.length, outcomes: new Map<string, PageResult>(), running: new Set<string>() };
    generating.set(`${generationSeed}/${source}`, state);
    const results = state.outcomes;
    const context = { sweepId: input.sweepId, config, queues, source, original, baseModelPrefix, seed: generationSeed, ...(llmPrompts ? { llmPrompts } : {}), ...heartbeat };
    const startPage = (page: (typeof pages)[number]) =>
      executeChild(classImagesPage, { args: [{ page, context }], workflowId: generatePageWorkflowId(generationSeed, source, page.id), taskQueue: queues.cpu });
    // The sweep's history grows by a few events per page: the generate stage never needs to hand over.
    await fanOutPaged(pages, GENERATION_CHILDREN_AT_ONCE, state, startPage, { mayContinueAsNew: false });
    const joined = joinPages(pages, results);
    return { manifests: joined.list, tally: joined.tally };
  }

  /** FID per generation seed (each its own images; the features cache shares the originals'); rows tagged with their seed. */
  async function fidPerSeed(curated: CurateResult, sets: PerClassSets, pretrainedKey: string, arch: ClassifierArch) {
    const results = await Promise.all(sets.map((set) => gpu.fid(fidInput(curated, set.sources, pretrainedKey, arch, set.seed))));
    return { rows: results.flatMap((result, i) => result.rows.map((row) => ({ ...row, seed: sets[i].seed }))), timings: results };
  }

  function fidInput(curated: CurateResult, synthetic: Partial<Record<Source, StoredList>>, pretrainedKey: string, arch: ClassifierArch, seed: number): FidInput {
    return {
      original: curated.trainManifest,
      synthetic: synthetic as Record<string, StoredList>,
      extractor:
        config.fid.extractor === 'inception-v3-fid'
          ? // The config schema requires the key with this extractor.
            { id: 'inception-v3-fid', weightsKey: config.fid.inceptionWeightsKey as string, options: {} }
          : // The base classifier's features; its class count (prior domain or ImageNet) is read from its head.
            { id: 'synthmix-builtin-v1', weightsKey: pretrainedKey, options: { width: arch.width, stem: arch.stem, imageSize: arch.imageSize } },
      kid: { subsets: config.fid.kidSubsets, subsetSize: config.fid.kidSubsetSize, seed },
      ...(config.fid.bootstrapResamples > 0 ? { bootstrap: { resamples: config.fid.bootstrapResamples, seed, level: 0.95 } } : {}),
    };
  }

  /**
   * Fan-out: one child workflow per cell, at most `concurrency` at once; `continueAsNew` when the
   * history is long. Up to CELLS_PER_PAGE cells the sweep runs them itself, else in page children.
   * Either way the join is the lean outcomes as stored pages (the report resolves them).
   */
  async function runExperiments(sweepData: SweepData): Promise<{ outcomes: StoredList; tally: Tally }> {
    // Only what the cells need travels to page children (not the FID table or the per-class manifests).
    const { classes, original, test, pretrainedKey, arch, synthetic, blocked } = sweepData;
    const data = { classes, original, test, pretrainedKey, arch, synthetic, ...(blocked ? { blocked } : {}) };
    const context: CellContext = { sweepId: input.sweepId, config, data, queues, ...(input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {}) };
    const handOver = () => continueAsNew<typeof sweep>({ ...input, carried: { data: sweepData, outcomes: [...outcomes.values()], pages: [...pageResults.entries()], stages, startedAt } });
    if (cells.length <= CELLS_PER_PAGE) {
      const ran = await fanOutBounded(cells, config.concurrency, { outcomes, running }, async (cell) => leanOutcome(await runCell(context, cell)));
      if (ran === 'continue-as-new') await handOver();
      const joined = cells.map((cell) => outcomes.get(cell.id) as LeanCellOutcome);
      const page = await cpu.storePage({ prefix: cellPagesPrefix(input.sweepId), items: joined });
      return { outcomes: { pages: [page] }, tally: addTallies(joined.map(cellTally)) };
    }
    const pages = pagesOf(cells, CELLS_PER_PAGE, config.concurrency);
    const startPage = (page: (typeof pages)[number]) =>
      executeChild(experimentPage, { args: [{ page, context }], workflowId: `${input.sweepId}/cells/${page.id}`, taskQueue: queues.cpu });
    // The progress query names the running pages; `synthmix status` asks each for its cells (pageProgressQuery).
    if ((await fanOutPaged(pages, config.concurrency, { outcomes: pageResults, running: runningCellPages }, startPage)) === 'continue-as-new') await handOver();
    const joined = joinPages(pages, pageResults);
    return { outcomes: joined.list, tally: joined.tally };
  }

  /** Join: the sample grid (Fig 7) and the report. */
  async function writeReport(sweepData: SweepData, cellOutcomes: StoredList): Promise<ReportOutput> {
    // The grid and the cells go by reference: with thousands of classes either passes a payload's 2 MB.
    // The grid shows the first generation seed's images (one grid, as the paper's Fig 7).
    const samples = await cpu.sampleGrid({ original: sweepData.original, synthetic: sweepData.syntheticPerClass[0].sources as Record<string, StoredList>, perCell: 4, seed });
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
      // Keys only: the report reads their sha256s from the store (lib/report/models.ts).
      baseModels: { generatorPrefix: sweepData.generatorPrefix, classifierKey: sweepData.pretrainedKey, ...(sweepData.shipped ? { shipped: sweepData.shipped } : {}) },
      // By reference: the report step reads the prompts and lists them per class.
      ...(sweepData.llmPrompts ? { llmPrompts: sweepData.llmPrompts } : {}),
      ...(sweepData.clipZeroShot ? { baselines: { clipZeroShot: sweepData.clipZeroShot } } : {}),
    });
  }
}
