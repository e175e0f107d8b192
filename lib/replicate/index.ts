/**
 * The Replicate backend: generation through predictions and DreamBooth-style fine-tunes through
 * trainings, on the real `replicate` npm client. The API token comes only from
 * `process.env.REPLICATE_API_TOKEN` and never appears in errors, logs or results.
 */
export { generateWithReplicate, imageSeedFor, attemptSeed, isSafetyError, SAFETY_SEED_STRIDE } from './generate.js';
export type { GenerateRequest, GenerateDeps, GenerateResult, GeneratedImageMeta, BlockedImage, PredictionStartedInfo } from './generate.js';
export { trainWithReplicate, parseTrainedVersion, MAX_INLINE_ZIP_BYTES } from './train.js';
export type { TrainRequest, TrainDeps, TrainResult, TrainInput } from './train.js';
export { zipStore, looksLikeZip, type ZipEntry } from './zip.js';
export { ReplicateError, redact, type ReplicateErrorCode } from './errors.js';
export { replicateConfigSchema, replicateHttpSchema, parseReplicateConfig, DEFAULT_REPLICATE_BASE_URL } from './config.js';
export type { ReplicateConfig, ReplicateConfigInput, ReplicateHttpPolicy } from './config.js';
export { connectReplicate, type ReplicateApi, type PredictionObject, type TrainingObject } from './api.js';
export { readReplicateToken, parseRetryAfter, type FetchLike, type Sleep, type ReplicateLogEvent, type ReplicateLogger } from './http.js';

/** What a generate activity heartbeats so a retried attempt resumes without paying twice. */
export interface ReplicateGenerateHeartbeat {
  /** index → prediction ids of that index, latest last. */
  readonly predictions: Record<number, string[]>;
  /** Indices delivered and stored. */
  readonly completed: number[];
}
