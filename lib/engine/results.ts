/**
 * What the Python engine returns, checked at the boundary: the `summary` of each command's result
 * event (engine/synthmix_engine/commands/*.py) and the JSON files activities read back. Fields the
 * activities do not use are allowed through unchecked; a missing or mistyped one they use is an
 * EngineResultError naming the command and the field, never a silent NaN.
 */
import { z } from 'zod';
import { SynthmixError } from '../errors.js';

/** A malformed engine result: an engine bug, so permanent (retrying returns the same). */
export class EngineResultError extends SynthmixError {
  constructor(command: string, what: string, issues: string) {
    super(`engine command ${command}: malformed ${what}: ${issues}`, 'EnginePermanentError', true);
  }
}

const count = z.number().int().min(0);

/**
 * Where an engine computed (runtime.environment): what decides whether another run repeats its
 * numbers exactly — the same config and seed give the same numbers only on the same of these.
 */
export const engineEnvironmentSchema = z.object({
  cpu: z.string(),
  /** The instruction-set extensions present that select float kernels (avx2, avx512f, ...). */
  isa: z.array(z.string()),
  /** The kernel level torch dispatched to (DEFAULT, AVX2, AVX512). */
  torchCpuCapability: z.string(),
  torch: z.string(),
  blas: z.string().nullable(),
  python: z.string(),
  threads: count,
  gpu: z.string().nullable(),
  cuda: z.string().nullable(),
});
export type EngineEnvironment = z.infer<typeof engineEnvironmentSchema>;

export const engineSummaries = {
  info: z.object({
    engineVersion: z.string(),
    python: z.string(),
    torch: z.string(),
    device: z.string(),
    deviceName: z.string(),
    threads: count,
    diffusers: z.string().nullable(),
    environment: engineEnvironmentSchema,
  }),
  'dummy-train': z.object({ steps: count, total: count, resumedFrom: count }),
  'train-classifier': z.object({
    bestValAcc: z.number().nullable(),
    bestEpoch: count,
    epochs: count,
    trainImages: count,
    valImages: count,
    imagesPerSec: z.number().nullable(),
    resumedFromEpoch: count.optional(),
    environment: engineEnvironmentSchema,
  }),
  'pretrain-generator': z.object({ modelId: z.union([z.string(), z.number()]).transform(String) }),
  'finetune-generator': z.object({ adapterId: z.union([z.string(), z.number()]).transform(String), resumedFrom: count.nullish() }),
  'clip-zero-shot': z.object({
    overallAccuracy: z.number().nullable(),
    perClass: z.record(z.string(), z.number().nullable()),
    testImages: count,
    prompts: count,
    environment: engineEnvironmentSchema,
  }),
  'fid-table': z.object({
    rows: z.array(
      z.object({
        name: z.string().regex(/^[^/]+\/[^/]+$/, 'must be "<source>/<class>"'),
        fid: z.number(),
        kidMean: z.number().nullable(),
        kidStd: z.number().nullable(),
        /** The subset size KID used; capped (to half the smaller set) when the requested one did not fit. */
        kidSubsetSize: count.nullish(),
        kidSubsetCapped: z.boolean().nullish(),
        n1: count,
        n2: count,
        epsilonUsed: z.number().nullish(),
        extractorId: z.string(),
        weightsSha256: z.string(),
        /** KID's interval over images from its subsets (null without KID; absent from older engines). */
        kidLow: z.number().nullish(),
        kidHigh: z.number().nullish(),
        kidLevel: z.number().gt(0).lt(1).nullish(),
        /** The FID's basic bootstrap interval over images and the point value's estimated bias (null without a bootstrap). */
        fidLow: z.number().min(0).nullish(),
        fidHigh: z.number().min(0).nullish(),
        fidBias: z.number().nullish(),
        fidLevel: z.number().gt(0).lt(1).nullish(),
        fidResamples: count.nullish(),
      }),
    ),
  }),
} as const;

export type EngineCommand = keyof typeof engineSummaries;
export type EngineSummary<C extends EngineCommand> = z.output<(typeof engineSummaries)[C]>;

/**
 * `evaluation.json`, written by `evaluate-classifier`. The activity reads the accuracies; the report
 * reads the counts and, from files written since they were added, the class index of every test
 * image's label and prediction (manifest order), to bootstrap over test images and pair two cells
 * image by image.
 */
export const evaluationFileSchema = z.object({
  overallAccuracy: z.number(),
  perClass: z.record(z.string(), z.object({ accuracy: z.number(), correct: count.optional(), total: count.optional() })),
  classes: z.array(z.string()).optional(),
  labels: z.array(count).optional(),
  predictions: z.array(count).optional(),
});
export type EvaluationFile = z.output<typeof evaluationFileSchema>;

/**
 * `metrics.json`, written by `train-classifier`: one record per epoch (train loss and accuracy over
 * the epoch, validation accuracy after it, the epoch's learning rate). `synthmix export` reads it.
 */
export const trainMetricsFileSchema = z.object({
  epochs: z.array(z.object({ epoch: z.number().int().min(1), loss: z.number(), trainAcc: z.number(), valAcc: z.number(), lr: z.number() })),
  bestEpoch: z.number().int().min(0),
  bestValAcc: z.number().nullable(),
});
export type TrainMetricsFile = z.output<typeof trainMetricsFileSchema>;

/** Parse what `command` returned with `schema`; `what` names it in the error (`result summary`, a file name). */
export function parseEngineOutput<S extends z.ZodType>(command: string, what: string, schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`).join('; ');
  throw new EngineResultError(command, what, issues);
}

/** The summary of a command's result event, checked. */
export function parseEngineSummary<C extends EngineCommand>(command: C, summary: unknown): EngineSummary<C> {
  return parseEngineOutput(command, 'result summary', engineSummaries[command], summary) as EngineSummary<C>;
}
