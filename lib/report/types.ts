/**
 * What the report step receives from the sweep: small summaries and store keys only (workflow
 * payloads never carry images or weights).
 */
import type { Cell } from '../sweep/cells.js';
import type { SweepConfig } from '../sweep/config.js';
import type { ManifestRef } from '../data/manifest.js';
import type { ClassifierArch } from '../steps/classifier.js';
import type { EngineEnvironment } from '../engine/results.js';
import type { ShippedOrigin } from '../shipped-models.js';
import type { StoredValue } from '../store/values.js';

export interface CellEvaluation {
  overallAccuracy: number;
  /** class name → accuracy in [0, 1] */
  perClass: Record<string, number>;
  /** Store key of the full evaluation JSON (confusion matrix included). */
  evaluationKey: string;
}

export interface CellOutcome {
  cell: Cell;
  status: 'done' | 'failed';
  /** Why a failed cell failed (the non-retryable error's message). */
  error?: string;
  evaluation?: CellEvaluation;
  train?: {
    bestValAcc: number | null;
    bestEpoch: number;
    epochs: number;
    weightsKey: string;
    /** Store key of the training's per-epoch metrics (`metrics.json`; absent in outcomes recorded before: next to `weightsKey`). */
    metricsKey?: string;
    trainImages: number;
    valImages: number;
    /** Where the cell's classifier was trained (absent in outcomes recorded before it was). */
    environment?: EngineEnvironment;
  };
  /** Wall time of the cell's activities, and whether anything was recomputed. */
  wallMs?: number;
  computed?: boolean;
}

export interface FidRow {
  source: string;
  /** The generation seed of the synthetic images (absent in rows recorded before seeds reached generation). */
  seed?: number;
  /** A class name, or `overall`. */
  className: string;
  fid: number;
  kidMean: number;
  kidStd: number;
  /** Subset size KID used (absent in rows computed before it was recorded). */
  kidSubsetSize?: number | null;
  /** True when the configured subset size did not fit the smaller set and was capped to half of it. */
  kidSubsetCapped?: boolean;
  n1: number;
  n2: number;
  epsilonUsed: number;
  extractorId: string;
  weightsSha256: string;
  /** Interval of KID over images, from its subsets (engine fid/kid.py); absent in rows computed before it existed. */
  kidInterval?: { low: number; high: number; level: number };
  /**
   * Basic ("pivotal") bootstrap interval of the FID over images (engine fid/bootstrap.py): an interval
   * for the FID of the two image distributions. `bias` is the bootstrap's estimate of how far the point
   * value (from n1/n2 images) lies above it: where it exceeds the half-width, the interval lies below
   * `fid`. Absent when the sweep asked for none (`fid.bootstrapResamples: 0`) or before it existed.
   */
  fidInterval?: { low: number; high: number; bias: number; level: number; resamples: number };
}

/** Sample image keys for the grid (paper Fig 7): rows are classes, columns `original` + sources. */
export interface SampleGrid {
  classes: string[];
  columns: string[];
  /** column → class → store keys of PNG images */
  images: Record<string, Record<string, string[]>>;
}

export interface StageTiming {
  stage: string;
  wallMs: number;
  /** Sum of activity durations in this stage (GPU time for gpu-queue stages). */
  activityMs: number;
  activities: number;
  computed: number;
}

export interface ReportInput {
  sweepId: string;
  config: SweepConfig;
  classes: string[];
  cells: CellOutcome[];
  fid: FidRow[];
  samples: SampleGrid;
  stages: StageTiming[];
  codeVersion: string;
  backends: Record<string, string>;
  startedAt: string;
  finishedAt: string;
  /** Earlier re-evaluations (nightly schedule) appended to the sweep's history. */
  history?: Array<{ at: string; testManifestKey: string; cells: Array<{ cellId: string; overallAccuracy: number }> }>;
  /**
   * The base models the sweep used, by store key (absent in inputs recorded before): the report
   * reads their sha256s from the store when it is written (lib/report/models.ts).
   */
  baseModels?: BaseModelKeys;
  /** `generator.prompts.kind: "llm"`: the stored prompts (lib/steps/prompts.ts StoredPrompts), listed per class in the report. */
  llmPrompts?: StoredValue;
  /**
   * Baseline arms (absent: none): their stored evaluations, read when the report is written
   * (lib/report/baselines.ts) and drawn as reference lines in Figs 3–5.
   */
  baselines?: { clipZeroShot?: { evaluationKey: string; modelPrefix: string } };
  /** What a later re-evaluation needs (the sweep's test set, its classifiers' shape); when present the report step stores the sweep record (lib/report/record.ts). */
  evaluationContext?: { test: ManifestRef; arch: ClassifierArch };
}

export interface BaseModelKeys {
  /** Store prefix of the base generator folder: `generator.modelPrefix`, or the one pretrained here; '' for a remote (Replicate) model. */
  generatorPrefix: string;
  /** Store key of the classifier base's weights: `train.pretrainedKey`, or the prior-domain pretrain's `best.pt`. */
  classifierKey: string;
  /**
   * The pretrained ones that were not trained for this sweep's store but uploaded from the models
   * synthmix ships (engine/pretrained/, lib/shipped-models.ts), by role; absent: trained here.
   */
  shipped?: { generator?: ShippedOrigin; classifier?: ShippedOrigin };
}

export interface ReportOutput {
  /** Store prefix of the report: `<prefix>/index.html` and everything it links. */
  prefix: string;
  files: string[];
  htmlKey: string;
}
