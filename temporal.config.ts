/**
 * synthmix system configuration: where Temporal runs, which task queues, where artifacts live,
 * how the engine is started. Every field has a default that gives the embedded world (a local
 * dev server, a local directory store, built-in backends). Environment variables override
 * (see `envOverrides` in lib/config/load.ts); secrets are read from the environment only and
 * are never part of this object.
 */
import { z } from 'zod';
import { DEFAULT_SCHEDULE_TO_START_SECONDS } from './lib/temporal/queues.js';

const nonEmpty = z.string().trim().min(1, 'must not be empty');

export const temporalSchema = z
  .object({
    /** `embedded`: synthmix starts the dev server itself; `external`: connect to `address`. */
    mode: z.enum(['embedded', 'external']).default('embedded'),
    address: nonEmpty.regex(/^[^\s:]+:\d{1,5}$/, 'must look like host:port').default('127.0.0.1:7233'),
    namespace: nonEmpty.default('default'),
    /** TLS for Temporal Cloud or a secured cluster; the API key comes from TEMPORAL_API_KEY. */
    tls: z
      .object({
        enabled: z.boolean().default(false),
        serverName: z.string().optional(),
        clientCertPath: z.string().optional(),
        clientKeyPath: z.string().optional(),
        serverRootCACertPath: z.string().optional(),
      })
      .default({ enabled: false }),
    /** Web UI base, used to print links to workflows. */
    uiUrl: z.string().url('must be a URL').optional(),
  })
  .strict();

export const queuesSchema = z
  .object({
    cpu: nonEmpty.default('synthmix-cpu'),
    gpu: nonEmpty.default('synthmix-gpu'),
    /**
     * Seconds an activity may wait for a worker to start it. Then the queue's pollers decide: some
     * (a busy or scaling pool) → it waits again; none → it fails naming the queue (a misspelt name
     * or no worker). Default one hour, for a GPU pool that autoscales from zero (lib/temporal/queues.ts).
     */
    scheduleToStartSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(DEFAULT_SCHEDULE_TO_START_SECONDS),
  })
  .strict();

export const workersSchema = z
  .object({
    /** Concurrent activities on a cpu worker (curate, mix, report). */
    cpuConcurrency: z.number().int().min(1).max(256).default(2),
    /** Concurrent activities on a gpu worker without GPUs to pin (with GPUs: one per device). */
    gpuConcurrency: z.number().int().min(1).max(64).default(1),
    /**
     * The GPUs a gpu worker runs engines on, one engine per device, each seeing only its own
     * (CUDA_VISIBLE_DEVICES = an index or GPU-<uuid>). Unset: the worker's own
     * CUDA_VISIBLE_DEVICES, else every GPU `nvidia-smi -L` lists, else none; `[]`: no pinning.
     */
    gpuDevices: z.array(nonEmpty).max(64).optional(),
    /**
     * Workflow tasks a cpu worker runs at once (the SDK's default is 40). A task held longer than its
     * 10 s timeout in a starved worker is retried with a full-history replay, which starves it more:
     * on a small shared machine a sweep of thousands of children snowballed that way.
     */
    workflowTasks: z.number().int().min(1).max(200).default(10),
    /**
     * Seconds a worker waits on SIGTERM for running activities to finish before it cancels them (an
     * engine then gets `engine.killGraceSeconds` to checkpoint). The whole stop takes up to
     * `workerStopSeconds` (workers/create.ts): this + the kill grace + a margin for the upload.
     */
    shutdownGraceSeconds: z.number().min(0).max(3600).default(20),
    /**
     * host:port of the worker's Prometheus endpoint (`http://host:port/metrics`): the SDK's
     * `temporal_*` metrics and synthmix's `synthmix_*` (workers/telemetry.ts). Unset: no endpoint.
     * Each worker process needs its own port.
     */
    metricsAddress: nonEmpty.regex(/^[^\s]+:\d{1,5}$/, 'must look like host:port').optional(),
    /** `json`: the worker logs one JSON object per line, with sweepId, cellId, activity and attempt (lib/log.ts). */
    logFormat: z.enum(['text', 'json']).default('text'),
  })
  .strict();

/**
 * Temporal Worker Versioning (workers/deployment.ts): every worker joins the Worker Deployment
 * `name` as version `buildId`, and workflows are PINNED, so a running sweep keeps replaying on the
 * workflow code that started it while a new build takes the new sweeps.
 */
export const deploymentSchema = z
  .object({
    /** The Worker Deployment all synthmix workers (cpu and gpu) of one cluster+namespace belong to. */
    name: nonEmpty.regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, - or _').default('synthmix'),
    /**
     * This worker's build. Unset: derived from the workflow code it runs (`<package version>-<12 hex
     * of the bundle's sha256>`), so workers with the same workflow code share a build and any change
     * to it is a new one. Set it when the code identity comes from elsewhere (a release tag).
     */
    buildId: nonEmpty.regex(/^[A-Za-z0-9_.+-]{1,200}$/, 'must be letters, digits, ., -, _ or +').optional(),
    /** false: unversioned workers (a cluster without Worker Deployments); a running sweep then replays on whatever code the workers have. */
    versioning: z.boolean().default(true),
    /**
     * Whether a starting worker makes its build the current one (the build new sweeps start on):
     * `if-none` when the deployment has no current build yet (a first deployment), `always`, or
     * `never`. Unset: `if-none` (Temporal's flow: start a new build's workers, then an operator
     * runs `synthmix deployments set-current BUILD`), except in the embedded world of `synthmix demo`,
     * whose one process holds every worker there is: `always`.
     */
    promote: z.enum(['if-none', 'always', 'never']).optional(),
  })
  .strict();

export const storageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local'), dir: nonEmpty.default('.synthmix/store') }).strict(),
  z
    .object({
      kind: z.literal('s3'),
      bucket: nonEmpty.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
      prefix: z.string().default(''),
      /** Any S3-compatible endpoint (SeaweedFS, MinIO, ...); unset = AWS. */
      endpoint: z.string().url('must be a URL').optional(),
      /**
       * Unset: the AWS SDK's default chain (AWS_REGION, the AWS_PROFILE's region in ~/.aws/config);
       * with a custom endpoint and no region anywhere, us-east-1 (S3-compatible servers ignore it).
       */
      region: nonEmpty.optional(),
      /** Path-style URLs (endpoint/bucket/key). Unset: on exactly when `endpoint` is set. */
      forcePathStyle: z.boolean().optional(),
    })
    .strict(),
]);

export const engineSchema = z
  .object({
    /** Python of the engine venv (made by `npm run setup`). */
    python: nonEmpty.default('.synthmix/venv/bin/python'),
    /** Local cache of inputs fetched from the store, by sha256, shared by all activities of a worker. */
    cacheDir: nonEmpty.default('.synthmix/cache'),
    /** Scratch space for engine attempts. */
    workDir: nonEmpty.default('.synthmix/work'),
    /** Torch threads per engine process (0 = torch default). */
    threads: z.number().int().min(0).max(512).default(0),
    /**
     * Fork engine processes from one warm Python per worker that imported torch and diffusers
     * once (lib/engine/warm-engine.ts), instead of spawning each with seconds of imports.
     */
    warm: z.boolean().default(true),
    /**
     * How long an engine has, after SIGTERM (cancellation, preemption), to write its checkpoint and
     * exit before it is SIGKILLed. A Stable Diffusion fine-tune checkpoint (UNet/adapter weights and
     * optimizer state, GBs) takes tens of seconds on a network disk; 15 s lost it. A worker told to
     * stop waits for it: its stop budget (`workerStopSeconds`, workers/create.ts) is derived from
     * this and `workers.shutdownGraceSeconds`, never shorter than their sum.
     */
    killGraceSeconds: z.number().min(1).max(3600).default(120),
  })
  .strict();

/** The default endpoints that may receive a worker secret: Replicate's API and OpenAI's. */
export const DEFAULT_ALLOWED_ENDPOINTS = ['https://api.replicate.com/v1', 'https://api.openai.com/v1'];

export const endpointsSchema = z
  .object({
    /**
     * Where this worker may send a secret (the Replicate token, an LLM key): https URLs, each an
     * origin with an optional path prefix. A sweep config names an endpoint; only this list, set by
     * whoever runs the worker, decides whether the token goes there.
     */
    allowed: z
      .array(z.string().url('must be a URL').refine((url) => url.startsWith('https://'), 'must be an https URL'))
      .default(DEFAULT_ALLOWED_ENDPOINTS),
    /** Also allow http and https on this machine (127.0.0.0/8, ::1, localhost): for tests against local fakes. */
    allowLoopbackHttp: z.boolean().default(false),
  })
  .strict();

export const configSchema = z
  .object({
    /** Where synthmix keeps its own state: the dev server's SQLite file, logs. */
    stateDir: nonEmpty.default('.synthmix/state'),
    temporal: temporalSchema.default(temporalSchema.parse({})),
    queues: queuesSchema.default(queuesSchema.parse({})),
    workers: workersSchema.default(workersSchema.parse({})),
    deployment: deploymentSchema.default(deploymentSchema.parse({})),
    storage: storageSchema.default({ kind: 'local', dir: '.synthmix/store' }),
    engine: engineSchema.default(engineSchema.parse({})),
    endpoints: endpointsSchema.default(endpointsSchema.parse({})),
  })
  .strict();

export type SynthmixConfig = Readonly<z.infer<typeof configSchema>>;
export type StorageConfig = z.infer<typeof storageSchema>;

/** The defaults: the embedded world. Edit here, or override with env / a JSON file (SYNTHMIX_CONFIG). */
export const defaults: z.input<typeof configSchema> = {};

export default defaults;
