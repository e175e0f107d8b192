/**
 * cpu queue: the generator steps of the graph on Replicate (`generator.backend: "replicate"`) —
 * DreamBooth-style fine-tunes through trainings, and generation through predictions, on the
 * `replicate` npm client (lib/replicate/). They produce what the engine activities of
 * activities/generator.ts produce: a trained model ref for `replicateGenerate`, and a synthetic
 * manifest in the curated format (RGB PNGs at the sweep's imageSize, content-addressed under
 * `images/`, prompt / seed / steps / guidance / model id per item).
 *
 * Why the cpu queue: these activities wait on a remote API (and resize small PNGs); they use no
 * local GPU, and on the gpu queue a training polled for half an hour would hold a GPU slot idle.
 *
 * Paid once: the id of every prediction / training is heartbeated and written under the step's
 * prefix in the store (`predictions/<i>.json`, `training.json`) as soon as Replicate returns it; a
 * retried attempt (any worker) or a re-run of the sweep GETs those instead of creating new ones.
 * Delivered images are recorded one by one (`records/<i>.json`), so a retry skips them. A worker
 * shutdown leaves what is running on Replicate for the retry; a cancelled sweep cancels it there.
 * The token comes only from REPLICATE_API_TOKEN (checked before any request) and is never logged.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ActivityDeps } from '../lib/deps.js';
import { secrets } from '../lib/config/load.js';
import type { EndpointPolicy } from '../lib/config/endpoints.js';
import { makeManifest, readManifest, writeManifest, type ManifestItem, type ManifestRef } from '../lib/data/manifest.js';
import { pulseIntervalMs } from '../lib/engine/runner.js';
import { memoize, type StepTiming } from '../lib/memo.js';
import { displayName, fillTemplate } from '../lib/prompts/templates.js';
import {
  connectReplicate,
  generateWithReplicate,
  ReplicateError,
  trainWithReplicate,
  zipStore,
  type ReplicateConfigInput,
  type ReplicateGenerateHeartbeat,
  type ReplicateLogEvent,
} from '../lib/replicate/index.js';
import type { ArtifactStore } from '../lib/store/types.js';
import type { Source } from '../lib/sweep/cells.js';
import type { SweepConfig } from '../lib/sweep/config.js';
import type { GeneratedImageRecord, GenerateResult, SamplingRequest } from '../lib/steps/generator.js';
import { syntheticItem } from './generator.js';

/** The sweep's `generator.replicate` block, resolved (defaults filled). */
export type ReplicateSweepConfig = NonNullable<SweepConfig['generator']['replicate']>;

/** The rare word DreamBooth binds the class's instances to (as the engine's DreamBooth). */
export const DREAMBOOTH_TOKEN = 'sks';

/** What a generation samples: the configured model, or the version a training produced. */
export interface ReplicateTarget {
  /** `owner/name`. */
  model: string;
  /** Unset: the model's latest version (official models only). */
  version?: string;
  /** DreamBooth: prompts name the class as `<token> <class>`. */
  token?: string;
}

export interface ReplicateFinetuneInput {
  className: string;
  /** The k instance images of this class. */
  instances: ManifestRef;
  steps: number;
  lr: number;
  seed: number;
  priorPreservation?: { weight: number; numClassImages: number };
  trainTextEncoder?: boolean;
  replicate: ReplicateSweepConfig;
}

/** A trained version (of `replicate.destination`): what `replicateGenerate` samples for DreamBooth. */
export interface ReplicateModelRef extends StepTiming {
  model: string;
  version: string;
  token: string;
  /** `owner/model:version`. */
  id: string;
  trainingId: string;
}

export interface ReplicateGenerateInput extends SamplingRequest {
  source: Source;
  className: string;
  target: ReplicateTarget;
  resize: 'center-crop' | 'letterbox';
  replicate: ReplicateSweepConfig;
}

export interface ReplicateGenerateResult extends GenerateResult {
  /** Images the safety filter blocked on every allowed seed (listed in `<step>/blocked.json`). */
  blocked: number;
}

interface ImageRecord extends GeneratedImageRecord {
  predictionId: string;
  attempt: number;
}

interface TrainingHeartbeat {
  trainingId?: string;
  status?: string;
}

/** The lib's client settings from the sweep's block (operational fields only: no memo key). */
function clientConfig(replicate: ReplicateSweepConfig, sampling: { imageSize: number; resize: 'center-crop' | 'letterbox'; steps: number; guidance: number } | undefined, cancelOnAbort: boolean): ReplicateConfigInput {
  const { trainer: _trainer, destination: _destination, trainerInput: _trainerInput, ...client } = replicate;
  return {
    ...client,
    ...(sampling ? { imageSize: sampling.imageSize, resize: sampling.resize, numInferenceSteps: sampling.steps, guidanceScale: sampling.guidance } : {}),
    // Decided here, not by the lib: only a real cancel request cancels work on Replicate.
    cancelOnAbort,
  };
}

/** A clear, non-retryable failure before any request when the token is not in the environment. */
function requireToken(what: string): void {
  if (!secrets.replicateToken()) {
    throw new ReplicateError(`${what}: no Replicate API token: set REPLICATE_API_TOKEN in the environment of the cpu worker (nothing was sent to Replicate)`, {
      code: 'MissingToken',
      nonRetryable: true,
    });
  }
}

function modelIdOf(target: { model: string; version?: string }): string {
  return target.version ? `${target.model}:${target.version}` : target.model;
}

function logEvent(event: ReplicateLogEvent): void {
  // Per-image events are many; the rest (retries, safety blocks, re-creations, cancels) are news.
  if (event.kind === 'image-stored' || event.kind === 'prediction-created') return;
  Context.current().log.info(`replicate ${event.kind}`, { ...event });
}

/** The heartbeat pulse: beat at once and on a timer, whatever the API is doing (429 backoff...). */
function startPulse<T>(details: () => T): { beat: () => void; stop: () => void } {
  const context = Context.current();
  const beat = () => context.heartbeat(details());
  beat();
  const timer = setInterval(beat, pulseIntervalMs(context.info.heartbeatTimeoutMs));
  return { beat, stop: () => clearInterval(timer) };
}

/** Ids this process cannot keep: best-effort cancel on Replicate (only for a real cancel request). */
async function cancelOnReplicate(replicate: ReplicateSweepConfig, endpoints: EndpointPolicy, kind: 'prediction' | 'training', ids: string[]): Promise<void> {
  if (ids.length === 0 || !replicate.cancelOnAbort || !Context.current().cancellationDetails?.cancelRequested) return;
  const api = connectReplicate({ baseUrl: replicate.baseUrl, endpoints, http: { ...replicate.http, maxRetries: Math.min(2, replicate.http.maxRetries) } });
  await Promise.all(ids.map((id) => (kind === 'prediction' ? api.cancelPrediction(id) : api.cancelTraining(id)).catch(() => undefined)));
}

async function readJsonIfExists<T>(store: ArtifactStore, key: string): Promise<T | undefined> {
  return (await store.exists(key)) ? store.getJson<T>(key) : undefined;
}

export function createReplicateActivities({ store, config }: ActivityDeps) {
  /** Where this worker lets its token go (its own config, not the sweep's). */
  const endpoints = config.endpoints;
  /** A DreamBooth-style fine-tune of one class on Replicate; returns the new version of `destination`. */
  async function replicateFinetune(input: ReplicateFinetuneInput): Promise<ReplicateModelRef> {
    const { replicate } = input;
    const name = displayName(input.className);
    const instancePrompt = fillTemplate('a photo of a {}', `${DREAMBOOTH_TOKEN} ${name}`);
    const classPrompt = fillTemplate('a photo of a {}', name);
    const key = {
      method: 'dreambooth',
      className: input.className,
      instances: input.instances,
      steps: input.steps,
      lr: input.lr,
      seed: input.seed,
      priorPreservation: input.priorPreservation ?? null,
      trainTextEncoder: input.trainTextEncoder ?? false,
      trainer: replicate.trainer ?? null,
      destination: replicate.destination ?? null,
      trainerInput: replicate.trainerInput,
      instancePrompt,
      classPrompt,
    };
    const context = Context.current();
    return memoize(store, 'replicate-finetune', key, async (prefix) => {
      const what = `finetune (replicate) class "${input.className}"`;
      requireToken(what);
      const { trainer, destination } = replicate;
      if (!trainer || !destination) {
        throw new ReplicateError(`${what}: generator.replicate.trainer and generator.replicate.destination are required for DreamBooth`, { code: 'BadRequest', nonRetryable: true });
      }
      const manifest = await readManifest(store, input.instances);
      const entries = [];
      for (const item of manifest.items) entries.push({ name: `instances/${item.sha256}.png`, bytes: await store.get(item.key) });
      const trainingKey = `${prefix}/training.json`;
      const previous = (context.info.heartbeatDetails as TrainingHeartbeat | undefined)?.trainingId ?? (await readJsonIfExists<TrainingHeartbeat>(store, trainingKey))?.trainingId;
      let state: TrainingHeartbeat = previous ? { trainingId: previous } : {};
      const pulse = startPulse(() => state);
      try {
        const trained = await trainWithReplicate(
          {
            trainerModel: trainer.model,
            trainerVersion: trainer.version,
            destination,
            input: {
              ...replicate.trainerInput,
              instance_data: zipStore(entries),
              instance_prompt: instancePrompt,
              class_prompt: classPrompt,
              max_train_steps: input.steps,
              learning_rate: input.lr,
              seed: input.seed,
              train_text_encoder: input.trainTextEncoder ?? false,
              with_prior_preservation: input.priorPreservation !== undefined,
              ...(input.priorPreservation ? { prior_loss_weight: input.priorPreservation.weight, num_class_images: input.priorPreservation.numClassImages } : {}),
            },
          },
          {
            config: clientConfig(replicate, undefined, false),
            endpoints,
            ...(previous ? { knownTrainingId: previous } : {}),
            signal: context.cancellationSignal,
            log: logEvent,
            onTrainingStarted: async (trainingId) => {
              state = { trainingId, status: 'starting' };
              pulse.beat();
              await store.putJson(trainingKey, { trainingId });
            },
            onProgress: (training) => {
              state = { trainingId: training.id, status: training.status };
            },
          },
        );
        return { model: trained.model, version: trained.version, token: DREAMBOOTH_TOKEN, id: trained.ref, trainingId: trained.trainingId };
      } catch (error) {
        if (context.cancellationSignal.aborted) {
          await cancelOnReplicate(replicate, endpoints, 'training', state.trainingId ? [state.trainingId] : []);
          throw new CancelledFailure(`${what} cancelled`);
        }
        // A failed training is final for this attempt; a later run of the sweep starts a new one.
        if (error instanceof ReplicateError && error.code === 'TrainingFailed') await store.delete(trainingKey).catch(() => undefined);
        throw error;
      } finally {
        pulse.stop();
      }
    });
  }

  /** `count` images of one class from a Replicate model, as a synthetic manifest in the curated format. */
  async function replicateGenerate(input: ReplicateGenerateInput): Promise<ReplicateGenerateResult> {
    const { replicate, target } = input;
    let generated = 0;
    // What decides the images (not the base URL, concurrency, poll intervals or HTTP policy).
    const { replicate: _operational, ...rest } = input;
    const key = {
      ...rest,
      target: { model: target.model, version: target.version ?? null, token: target.token ?? null },
      sampling: { width: replicate.width, height: replicate.height, maxSafetyRetries: replicate.maxSafetyRetries, extraInput: replicate.extraInput },
    };
    const context = Context.current();
    const memo = await memoize(store, 'replicate-generate', key, async (prefix) => {
      const what = `generate (replicate) ${input.source} class "${input.className}"`;
      requireToken(what);
      const recordKey = (i: number) => `${prefix}/records/${i}.json`;
      const predictionsKey = (i: number) => `${prefix}/predictions/${i}.json`;
      const indexOf = (key: string, dir: string) => Number(key.slice(`${prefix}/${dir}/`.length, -'.json'.length));

      const completed = new Set((await store.list(`${prefix}/records/`)).map((o) => indexOf(o.key, 'records')));
      // Predictions an earlier attempt started: from its heartbeats and from the store (the longer
      // history of an index is the later one).
      const predictions: Record<number, string[]> = {};
      const beaten = (context.info.heartbeatDetails as ReplicateGenerateHeartbeat | undefined)?.predictions ?? {};
      for (const [index, ids] of Object.entries(beaten)) if (Array.isArray(ids) && ids.length > 0) predictions[Number(index)] = [...ids];
      for (const object of await store.list(`${prefix}/predictions/`)) {
        const index = indexOf(object.key, 'predictions');
        const ids = await store.getJson<string[]>(object.key);
        if (ids.length > (predictions[index]?.length ?? 0)) predictions[index] = ids;
      }
      for (const index of Object.keys(predictions).map(Number)) {
        if (completed.has(index) || !Number.isInteger(index) || index < 0 || index >= input.count) delete predictions[index];
      }

      const heartbeat = (): ReplicateGenerateHeartbeat => ({ predictions, completed: [...completed] });
      const pulse = startPulse(heartbeat);
      const phrase = target.token ? `${target.token} ${displayName(input.className)}` : displayName(input.className);
      const modelId = modelIdOf(target);
      try {
        const result = await generateWithReplicate(
          {
            className: input.className,
            count: input.count,
            seed: input.seed,
            prompts: input.templates.map((template) => fillTemplate(template, phrase)),
            negativePrompt: input.negativePrompt,
            model: target.model,
            ...(target.version ? { version: target.version } : {}),
            // Content-addressed next to every other image of the store, as the engine's.
            storePrefix: 'images',
          },
          {
            config: clientConfig(replicate, { imageSize: input.imageSize, resize: input.resize, steps: input.steps, guidance: input.guidance }, false),
            endpoints,
            store,
            completed,
            knownPredictions: { ...predictions },
            signal: context.cancellationSignal,
            log: logEvent,
            onPredictionStarted: async (index, predictionId, info) => {
              predictions[index] = [...info.previous, predictionId];
              pulse.beat();
              await store.putJson(predictionsKey(index), predictions[index]);
            },
            onImage: async (index, _bytes, meta) => {
              const record: ImageRecord = {
                index,
                key: meta.key as string,
                sha256: meta.sha256,
                prompt: meta.prompt,
                negativePrompt: input.negativePrompt,
                seed: meta.seed,
                steps: input.steps,
                guidance: input.guidance,
                modelId,
                predictionId: meta.predictionId,
                attempt: meta.attempt,
                width: meta.imageSize,
                height: meta.imageSize,
              };
              await store.putJson(recordKey(index), record);
              completed.add(index);
              delete predictions[index];
              generated += 1;
            },
          },
        );
        if (result.blocked.length > 0) {
          await store.putJson(`${prefix}/blocked.json`, result.blocked);
          context.log.warn(`${what}: ${result.blocked.length} image(s) blocked by the safety filter on every seed`, {
            blocked: result.blocked.map((b) => ({ index: b.index, predictionIds: b.predictionIds })),
          });
        }
      } catch (error) {
        if (context.cancellationSignal.aborted) {
          await cancelOnReplicate(replicate, endpoints, 'prediction', Object.values(predictions).map((ids) => ids[ids.length - 1]));
          throw new CancelledFailure(`${what} cancelled`);
        }
        // A prediction that failed for good is final for this attempt; a later run of the sweep
        // starts that image again rather than reading the same failure back.
        if (error instanceof ReplicateError && error.nonRetryable && error.predictionId) {
          const id = error.predictionId;
          const index = Object.keys(predictions).map(Number).find((i) => predictions[i].includes(id));
          if (index !== undefined) await store.delete(predictionsKey(index)).catch(() => undefined);
        }
        throw error;
      } finally {
        pulse.stop();
      }

      const items: ManifestItem[] = [];
      let blocked = 0;
      for (let i = 0; i < input.count; i += 1) {
        if (!completed.has(i)) {
          blocked += 1;
          continue;
        }
        const record = await store.getJson<ImageRecord>(recordKey(i));
        items.push(syntheticItem(input.className, input.source, record, { backend: 'replicate', predictionId: record.predictionId, attempt: record.attempt }));
      }
      const manifest = await writeManifest(store, `${prefix}/manifest.json`, makeManifest('synthetic', input.imageSize, [input.className], items));
      return { manifest, count: items.length, generated, blocked };
    }, { references: (r) => [r.manifest] });
    return { ...memo, generated };
  }

  return { replicateFinetune, replicateGenerate };
}

export type ReplicateActivities = ReturnType<typeof createReplicateActivities>;
