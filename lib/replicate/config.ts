/**
 * Configuration of the Replicate backend (generation through predictions, DreamBooth-style
 * fine-tunes through trainings). Secrets are not part of it: the API token is read from
 * `process.env.REPLICATE_API_TOKEN` at the point of use only.
 */
import { z } from 'zod';
import { BadInputError } from '../errors.js';

export const DEFAULT_REPLICATE_BASE_URL = 'https://api.replicate.com/v1';

const modelRef = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be "owner/name"');
const versionId = z.string().trim().regex(/^[A-Za-z0-9]{8,128}$/, 'must be a version id (letters and digits)');

export const replicateHttpSchema = z
  .object({
    /** Retries of one HTTP request on 429 / 5xx / connection errors, after the first try. */
    maxRetries: z.number().int().min(0).max(20).default(6),
    /** Exponential backoff base (no Retry-After): base·2^n + jitter, capped at maxDelayMs. */
    baseDelayMs: z.number().int().min(0).max(60_000).default(500),
    maxDelayMs: z.number().int().min(0).max(600_000).default(30_000),
    /** A Retry-After longer than this is not waited for in-process: the error goes to Temporal (retryable). */
    maxRetryAfterMs: z.number().int().min(0).max(3_600_000).default(120_000),
  })
  .strict();

export const replicateConfigSchema = z
  .object({
    baseUrl: z.string().url('must be a URL').default(DEFAULT_REPLICATE_BASE_URL),
    /** The text-to-image model, `owner/name` (Stable Diffusion in the paper). */
    model: modelRef.default('stability-ai/stable-diffusion'),
    /**
     * The model version id. Unset: the model's latest version through
     * `POST /v1/models/{owner}/{name}/predictions` (official models only).
     */
    version: versionId.optional(),
    /** Predictions in flight at once, per generate call. */
    maxConcurrency: z.number().int().min(1).max(64).default(4),
    /** Side of the stored (curated-size) PNG: outputs are converted to RGB and resized to this. */
    imageSize: z.number().int().min(1).max(4096).default(32),
    /** How outputs are fitted to the square: as curated images are (center-crop by default). */
    resize: z.enum(['center-crop', 'letterbox']).default('center-crop'),
    /** Generation size asked of the model (SD v1 native: 512). */
    width: z.number().int().min(64).max(2048).multipleOf(8).default(512),
    height: z.number().int().min(64).max(2048).multipleOf(8).default(512),
    numInferenceSteps: z.number().int().min(1).max(500).default(50),
    guidanceScale: z.number().min(0).max(50).default(7.5),
    /** Re-tries of one image with a new seed after the safety filter blocked it. */
    maxSafetyRetries: z.number().int().min(0).max(20).default(3),
    /** Poll interval of a prediction's status. */
    pollIntervalMs: z.number().int().min(1).max(60_000).default(1000),
    /** Poll interval of a training's status (trainings take minutes). */
    trainingPollIntervalMs: z.number().int().min(1).max(600_000).default(10_000),
    /**
     * Sync mode: ask the API to hold the create request up to this many seconds (`Prefer: wait=n`)
     * so short predictions need no polling. 0 = off (create returns at once, then poll).
     */
    preferWaitSeconds: z.number().int().min(0).max(60).default(0),
    /** When our caller aborts (activity cancellation), cancel the predictions/training in flight. */
    cancelOnAbort: z.boolean().default(true),
    /** Model inputs added to every prediction (e.g. a scheduler); the core inputs win on a clash. */
    extraInput: z.record(z.string(), z.unknown()).default({}),
    http: replicateHttpSchema.default(replicateHttpSchema.parse({})),
  })
  .strict();

export type ReplicateConfig = z.infer<typeof replicateConfigSchema>;
export type ReplicateConfigInput = z.input<typeof replicateConfigSchema>;
export type ReplicateHttpPolicy = z.infer<typeof replicateHttpSchema>;

/** Validate a config (fills defaults). Throws a BadInputError naming every offending field. */
export function parseReplicateConfig(input: ReplicateConfigInput | undefined): ReplicateConfig {
  const parsed = replicateConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `replicate.${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new BadInputError(`invalid Replicate configuration: ${issues.join('; ')}`);
  }
  return parsed.data;
}
