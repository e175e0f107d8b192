/**
 * Temporal's standard client environment configuration, as the SDKs and the `temporal` CLI read
 * it (docs.temporal.io/references/client-environment-configuration): a profile from the TOML file
 * (`TEMPORAL_CONFIG_FILE`, else `$XDG_CONFIG_HOME/temporalio/temporal.toml` or
 * `~/.config/temporalio/temporal.toml`; profile `TEMPORAL_PROFILE`, else `default`), with the
 * `TEMPORAL_*` variables over it. `@temporalio/envconfig` would do this but is not installed here;
 * the names and precedence are the same, and `*_DATA` (inline PEM) settings are refused by name
 * rather than ignored, so a certificate is never silently dropped.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseToml, type TomlTable, type TomlValue } from './toml.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface TemporalEnvTls {
  /** From `TEMPORAL_TLS` or the profile's `tls.disabled` (inverted); absent when neither says. */
  enabled?: boolean;
  serverName?: string;
  clientCertPath?: string;
  clientKeyPath?: string;
  serverRootCACertPath?: string;
}

export interface TemporalEnvSettings {
  address?: string;
  namespace?: string;
  tls: TemporalEnvTls;
  /** A secret: handed to the connection, never copied into the config object. */
  apiKey?: string;
  /** The profile file read, if any, and the profile's name. */
  file?: string;
  profile: string;
}

/** A problem with the standard configuration; `loadConfig` reports it as a ConfigError. */
export class TemporalEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemporalEnvError';
  }
}

/** The profile file to read: the named one (must exist), else the platform default if present. */
export function temporalConfigFile(env: Env): { file: string; explicit: boolean } | undefined {
  if (env.TEMPORAL_CONFIG_FILE) return { file: env.TEMPORAL_CONFIG_FILE, explicit: true };
  // Only the env passed in decides (no os.homedir()): a test's `env: {}` reads no file of the user's.
  const base = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, '.config') : undefined);
  return base ? { file: path.join(base, 'temporalio', 'temporal.toml'), explicit: false } : undefined;
}

type TlsPathField = Exclude<keyof TemporalEnvTls, 'enabled'>;
const TLS_KEYS: Record<string, TlsPathField | 'disabled'> = {
  disabled: 'disabled',
  server_name: 'serverName',
  client_cert_path: 'clientCertPath',
  client_key_path: 'clientKeyPath',
  server_ca_cert_path: 'serverRootCACertPath',
};
const DATA_KEYS = ['client_cert_data', 'client_key_data', 'server_ca_cert_data'];

function readProfile(file: string, name: string, explicitName: boolean): { table: TomlTable; found: boolean } {
  const doc = parseToml(readFileSync(file, 'utf8'), file);
  const profiles = doc.profile;
  const table = typeof profiles === 'object' ? profiles[name] : undefined;
  if (table === undefined) {
    if (explicitName) throw new TemporalEnvError(`TEMPORAL_PROFILE: no profile "${name}" in ${file}`);
    return { table: {}, found: false };
  }
  if (typeof table !== 'object') throw new TemporalEnvError(`${file}: profile.${name} must be a table`);
  return { table, found: true };
}

function stringAt(value: TomlValue | undefined, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new TemporalEnvError(`${where} must be a string`);
  return value;
}

function fromProfile(table: TomlTable, where: string): Omit<TemporalEnvSettings, 'profile' | 'file'> {
  const tls: TemporalEnvTls = {};
  const tlsTable = table.tls;
  if (tlsTable !== undefined) {
    if (typeof tlsTable !== 'object') throw new TemporalEnvError(`${where}.tls must be a table`);
    for (const [key, value] of Object.entries(tlsTable)) {
      if (DATA_KEYS.includes(key)) throw new TemporalEnvError(`${where}.tls.${key}: inline PEM data is not supported; use ${key.replace(/_data$/, '_path')}`);
      const field = TLS_KEYS[key];
      if (field === undefined) continue; // other SDK settings (e.g. disable_host_verification): not ours
      if (field === 'disabled') {
        if (typeof value !== 'boolean') throw new TemporalEnvError(`${where}.tls.disabled must be true or false`);
        tls.enabled = !value;
      } else {
        tls[field] = stringAt(value, `${where}.tls.${key}`);
      }
    }
  }
  return {
    address: stringAt(table.address, `${where}.address`),
    namespace: stringAt(table.namespace, `${where}.namespace`),
    apiKey: stringAt(table.api_key, `${where}.api_key`),
    tls,
  };
}

function envBool(name: string, raw: string): boolean {
  if (/^(1|true)$/i.test(raw)) return true;
  if (/^(0|false)$/i.test(raw)) return false;
  throw new TemporalEnvError(`${name}: must be true or false, got "${raw}"`);
}

/** The settings of the profile file alone (none when there is no file). */
export function temporalProfileSettings(env: Env): TemporalEnvSettings {
  const profile = env.TEMPORAL_PROFILE || 'default';
  const located = temporalConfigFile(env);
  let settings: TemporalEnvSettings = { tls: {}, profile };
  if (located && (located.explicit || existsSync(located.file))) {
    if (!existsSync(located.file)) throw new TemporalEnvError(`TEMPORAL_CONFIG_FILE: ${located.file} does not exist`);
    const { table, found } = readProfile(located.file, profile, Boolean(env.TEMPORAL_PROFILE));
    settings = { ...fromProfile(table, `${located.file}: profile.${profile}`), profile, ...(found ? { file: located.file } : {}) };
  } else if (env.TEMPORAL_PROFILE && env.TEMPORAL_PROFILE !== 'default') {
    throw new TemporalEnvError(`TEMPORAL_PROFILE: profile "${profile}" asked for but there is no config file (set TEMPORAL_CONFIG_FILE)`);
  }
  return settings;
}

/** The `TEMPORAL_*` variables alone. */
export function temporalVariableSettings(env: Env): TemporalEnvSettings {
  return withVariables({ tls: {}, profile: env.TEMPORAL_PROFILE || 'default' }, env);
}

/** The standard settings as the SDK resolves them: the profile, each `TEMPORAL_*` variable over it. */
export function temporalEnvConfig(env: Env): TemporalEnvSettings {
  return withVariables(temporalProfileSettings(env), env);
}

function withVariables(base: TemporalEnvSettings, env: Env): TemporalEnvSettings {
  const settings: TemporalEnvSettings = { ...base, tls: { ...base.tls } };
  for (const name of ['TEMPORAL_TLS_CLIENT_CERT_DATA', 'TEMPORAL_TLS_CLIENT_KEY_DATA', 'TEMPORAL_TLS_SERVER_CA_CERT_DATA']) {
    if (env[name]) throw new TemporalEnvError(`${name}: inline PEM data is not supported; use ${name.replace(/_DATA$/, '_PATH')}`);
  }
  const set = <T>(value: T | undefined, apply: (v: T) => void) => {
    if (value !== undefined && value !== '') apply(value);
  };
  set(env.TEMPORAL_ADDRESS, (v) => (settings.address = v));
  set(env.TEMPORAL_NAMESPACE, (v) => (settings.namespace = v));
  set(env.TEMPORAL_API_KEY, (v) => (settings.apiKey = v));
  set(env.TEMPORAL_TLS, (v) => (settings.tls.enabled = envBool('TEMPORAL_TLS', v)));
  set(env.TEMPORAL_TLS_SERVER_NAME, (v) => (settings.tls.serverName = v));
  set(env.TEMPORAL_TLS_CLIENT_CERT_PATH, (v) => (settings.tls.clientCertPath = v));
  set(env.TEMPORAL_TLS_CLIENT_KEY_PATH, (v) => (settings.tls.clientKeyPath = v));
  set(env.TEMPORAL_TLS_SERVER_CA_CERT_PATH, (v) => (settings.tls.serverRootCACertPath = v));
  return settings;
}

/**
 * The standard settings as a layer of synthmix's config (`temporal.*`; never the API key). A
 * cert or CA path turns TLS on unless it was turned off by name, as in the SDK; an address means
 * a cluster of the user's, so `mode` becomes `external`.
 */
export function temporalEnvLayer(settings: TemporalEnvSettings): Record<string, unknown> {
  const temporal: Record<string, unknown> = {};
  if (settings.address !== undefined) Object.assign(temporal, { mode: 'external', address: settings.address });
  if (settings.namespace !== undefined) temporal.namespace = settings.namespace;
  const { enabled, ...files } = settings.tls;
  const tls: Record<string, unknown> = Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined));
  const impliesTls = files.clientCertPath !== undefined || files.serverRootCACertPath !== undefined;
  if (enabled !== undefined) tls.enabled = enabled;
  else if (impliesTls) tls.enabled = true;
  if (Object.keys(tls).length > 0) temporal.tls = tls;
  return Object.keys(temporal).length > 0 ? { temporal } : {};
}
