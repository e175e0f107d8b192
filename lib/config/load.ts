import { readFileSync } from 'node:fs';
import { mergeLayer } from './merge.js';
import path from 'node:path';
import type { z } from 'zod';
import { configSchema, defaults, type SynthmixConfig } from '../../temporal.config.js';
import { TemporalEnvError, temporalEnvConfig, temporalEnvLayer, temporalProfileSettings, temporalVariableSettings, type TemporalEnvSettings } from './temporal-env.js';
import { TomlError } from './toml.js';
import { projectRoot } from '../project-root.js';

/** The repository root: relative paths in the config are resolved against it. */
export { projectRoot };

/** A configuration problem: the CLI prints it and exits with code 2. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`invalid synthmix configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Environment variable → config path. Secrets are deliberately absent: they never enter the config. */
const envOverrides: ReadonlyArray<readonly [string, readonly string[], 'string' | 'int' | 'bool' | 'list']> = [
  ['SYNTHMIX_STATE_DIR', ['stateDir'], 'string'],
  ['SYNTHMIX_TEMPORAL_MODE', ['temporal', 'mode'], 'string'],
  ['SYNTHMIX_TEMPORAL_ADDRESS', ['temporal', 'address'], 'string'],
  ['SYNTHMIX_TEMPORAL_NAMESPACE', ['temporal', 'namespace'], 'string'],
  ['SYNTHMIX_TEMPORAL_TLS', ['temporal', 'tls', 'enabled'], 'bool'],
  ['SYNTHMIX_TEMPORAL_TLS_SERVER_NAME', ['temporal', 'tls', 'serverName'], 'string'],
  ['SYNTHMIX_TEMPORAL_TLS_CERT', ['temporal', 'tls', 'clientCertPath'], 'string'],
  ['SYNTHMIX_TEMPORAL_TLS_KEY', ['temporal', 'tls', 'clientKeyPath'], 'string'],
  ['SYNTHMIX_TEMPORAL_UI_URL', ['temporal', 'uiUrl'], 'string'],
  ['SYNTHMIX_QUEUE_CPU', ['queues', 'cpu'], 'string'],
  ['SYNTHMIX_QUEUE_GPU', ['queues', 'gpu'], 'string'],
  ['SYNTHMIX_CPU_CONCURRENCY', ['workers', 'cpuConcurrency'], 'int'],
  ['SYNTHMIX_WORKFLOW_TASKS', ['workers', 'workflowTasks'], 'int'],
  ['SYNTHMIX_GPU_CONCURRENCY', ['workers', 'gpuConcurrency'], 'int'],
  ['SYNTHMIX_GPU_DEVICES', ['workers', 'gpuDevices'], 'list'],
  ['SYNTHMIX_METRICS_ADDRESS', ['workers', 'metricsAddress'], 'string'],
  ['SYNTHMIX_LOG_FORMAT', ['workers', 'logFormat'], 'string'],
  ['SYNTHMIX_DEPLOYMENT', ['deployment', 'name'], 'string'],
  ['SYNTHMIX_BUILD_ID', ['deployment', 'buildId'], 'string'],
  ['SYNTHMIX_WORKER_VERSIONING', ['deployment', 'versioning'], 'bool'],
  ['SYNTHMIX_PROMOTE', ['deployment', 'promote'], 'string'],
  ['SYNTHMIX_STORE', ['storage', 'kind'], 'string'],
  ['SYNTHMIX_STORE_DIR', ['storage', 'dir'], 'string'],
  ['SYNTHMIX_S3_BUCKET', ['storage', 'bucket'], 'string'],
  ['SYNTHMIX_S3_PREFIX', ['storage', 'prefix'], 'string'],
  ['SYNTHMIX_S3_ENDPOINT', ['storage', 'endpoint'], 'string'],
  ['SYNTHMIX_S3_REGION', ['storage', 'region'], 'string'],
  ['SYNTHMIX_ENGINE_PYTHON', ['engine', 'python'], 'string'],
  ['SYNTHMIX_ENGINE_CACHE', ['engine', 'cacheDir'], 'string'],
  ['SYNTHMIX_ENGINE_WORKDIR', ['engine', 'workDir'], 'string'],
  ['SYNTHMIX_ENGINE_THREADS', ['engine', 'threads'], 'int'],
  ['SYNTHMIX_ENGINE_WARM', ['engine', 'warm'], 'bool'],
  ['SYNTHMIX_ALLOWED_ENDPOINTS', ['endpoints', 'allowed'], 'list'],
  ['SYNTHMIX_ALLOW_LOOPBACK_HTTP', ['endpoints', 'allowLoopbackHttp'], 'bool'],
];

function parseEnvValue(name: string, raw: string, kind: 'string' | 'int' | 'bool' | 'list'): unknown {
  if (kind === 'string') return raw;
  if (kind === 'list') return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (kind === 'int') {
    if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError([`${name}: must be an integer, got "${raw}"`]);
    return Number(raw);
  }
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError([`${name}: must be true or false, got "${raw}"`]);
}

function setPath(target: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const child = node[key];
    if (typeof child !== 'object' || child === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${where}: ${issue.message}`;
  });
}

function resolvePaths(config: SynthmixConfig): SynthmixConfig {
  const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(projectRoot, p));
  const storage = config.storage;
  return {
    ...config,
    stateDir: abs(config.stateDir),
    storage:
      storage.kind === 'local'
        ? { ...storage, dir: abs(storage.dir) }
        : // Path-style URLs (endpoint/bucket/key) for S3-compatible servers; AWS itself wants virtual-hosted.
          { ...storage, forcePathStyle: storage.forcePathStyle ?? storage.endpoint !== undefined },
    engine: {
      ...config.engine,
      python: config.engine.python.includes('/') ? abs(config.engine.python) : config.engine.python,
      cacheDir: abs(config.engine.cacheDir),
      workDir: abs(config.engine.workDir),
    },
  };
}

export interface LoadConfigOptions {
  env?: Env;
  /** Values layered over the defaults, before the environment (e.g. from a JSON file or a test). */
  overrides?: Record<string, unknown>;
}

/** One part of Temporal's standard settings (the TOML profile, or the TEMPORAL_* variables) as a config layer. */
function standardTemporalLayer(read: (env: Env) => TemporalEnvSettings, env: Env): Record<string, unknown> {
  try {
    return temporalEnvLayer(read(env));
  } catch (error) {
    if (error instanceof TomlError || error instanceof TemporalEnvError) throw new ConfigError([error.message]);
    throw error;
  }
}

/**
 * Load and validate the configuration, each layer over the one before:
 * defaults ← Temporal's TOML profile ← SYNTHMIX_CONFIG JSON file ← overrides ← TEMPORAL_*
 * variables ← SYNTHMIX_* variables. Any variable wins over any file; among files synthmix's own
 * wins over the machine-wide Temporal profile, among variables a SYNTHMIX_* name over its
 * TEMPORAL_* twin (the more specific one wins each time).
 * Throws ConfigError naming every offending field.
 */
export function loadConfig(options: LoadConfigOptions = {}): SynthmixConfig {
  const env = options.env ?? process.env;
  const raw: Record<string, unknown> = structuredClone(defaults) as Record<string, unknown>;
  const layers: Record<string, unknown>[] = [standardTemporalLayer(temporalProfileSettings, env)];
  const file = env.SYNTHMIX_CONFIG;
  if (file) {
    try {
      layers.push(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
    } catch (error) {
      throw new ConfigError([`SYNTHMIX_CONFIG (${file}): cannot read JSON: ${(error as Error).message}`]);
    }
  }
  if (options.overrides) layers.push(options.overrides);
  layers.push(standardTemporalLayer(temporalVariableSettings, env));
  for (const layer of layers) mergeLayer(raw, layer);
  for (const [name, keys, kind] of envOverrides) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, keys, parseEnvValue(name, value, kind));
  }
  inferStorageKind(raw);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error));
  return deepFreeze(resolvePaths(parsed.data));
}

/** `SYNTHMIX_STORE_DIR` alone means a local store, `SYNTHMIX_S3_BUCKET` alone an S3 one. */
function inferStorageKind(raw: Record<string, unknown>): void {
  const storage = raw.storage as Record<string, unknown> | undefined;
  if (storage && typeof storage === 'object' && storage.kind === undefined) storage.kind = 'bucket' in storage ? 's3' : 'local';
}

/** Secrets: read from the environment at the point of use, never stored in config, history or logs. */
export const secrets = {
  /** TEMPORAL_API_KEY, else the `api_key` of the Temporal profile (standard env config). */
  temporalApiKey: (env: Env = process.env) => env.TEMPORAL_API_KEY || temporalEnvConfig(env).apiKey || undefined,
  replicateToken: (env: Env = process.env) => env.REPLICATE_API_TOKEN || undefined,
};
