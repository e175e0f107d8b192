/**
 * Standard configuration (no network): Temporal's client env config (TOML profiles, TEMPORAL_*)
 * layered with the SYNTHMIX_* names, the TOML reading checked against Python's tomllib, the S3
 * region from the AWS SDK's default chain, and path-style addressing only for a custom endpoint.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secrets } from '../lib/config/load.js';
import { parseToml } from '../lib/config/toml.js';
import { s3Region } from '../lib/config/aws-region.js';
import { BadInputError } from '../lib/errors.js';
import { toolPaths } from '../infra/tools.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'synthmix-stdconfig-'));
let files = 0;
function file(text: string, name = 'temporal.toml'): string {
  const target = path.join(tmp, `${files++}-${name}`);
  writeFileSync(target, text);
  return target;
}

const profiles = file(`
# two profiles, as \`temporal config set\` writes them
[profile.default]
address = "default.tmprl.cloud:7233"
namespace = "default-ns"

[profile.prod]
address = "prod.tmprl.cloud:7233"
namespace = "synthmix.a1b2c"
api_key = "tk-profile-secret"

[profile.prod.tls]
server_name = "prod.tmprl.cloud"
client_cert_path = "/etc/temporal/client.pem"
client_key_path = "/etc/temporal/client.key"

[profile.plain]
address = "temporal.internal:7233"
[profile.plain.tls]
disabled = true
`);

describe('Temporal standard environment configuration', () => {
  it('TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE point synthmix at a cluster', () => {
    const config = loadConfig({ env: { TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_NAMESPACE: 'sweeps' } });
    expect(config.temporal).toMatchObject({ mode: 'external', address: 'temporal.example:7233', namespace: 'sweeps' });
  });

  it('a SYNTHMIX_* name wins over its TEMPORAL_* twin', () => {
    const config = loadConfig({
      env: { TEMPORAL_ADDRESS: 'standard:7233', SYNTHMIX_TEMPORAL_ADDRESS: 'synthmix:7233', TEMPORAL_NAMESPACE: 'a', SYNTHMIX_TEMPORAL_NAMESPACE: 'b' },
    });
    expect(config.temporal).toMatchObject({ address: 'synthmix:7233', namespace: 'b' });
    expect(loadConfig({ env: { TEMPORAL_ADDRESS: 'standard:7233', SYNTHMIX_TEMPORAL_MODE: 'embedded' } }).temporal.mode).toBe('embedded');
  });

  it('TEMPORAL_* variables lie over a SYNTHMIX_CONFIG file, which lies over the Temporal profile', () => {
    const json = file(JSON.stringify({ temporal: { mode: 'external', address: 'from-file:7233', namespace: 'file-ns' } }), 'synthmix.json');
    const config = loadConfig({ env: { SYNTHMIX_CONFIG: json, TEMPORAL_NAMESPACE: 'env-ns' } });
    expect(config.temporal).toMatchObject({ address: 'from-file:7233', namespace: 'env-ns' });
    const overProfile = loadConfig({ env: { SYNTHMIX_CONFIG: json, TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'prod' } });
    expect(overProfile.temporal).toMatchObject({ address: 'from-file:7233', namespace: 'file-ns', tls: { enabled: true, serverName: 'prod.tmprl.cloud' } });
  });

  it('reads the default profile of TEMPORAL_CONFIG_FILE', () => {
    const config = loadConfig({ env: { TEMPORAL_CONFIG_FILE: profiles } });
    expect(config.temporal).toMatchObject({ mode: 'external', address: 'default.tmprl.cloud:7233', namespace: 'default-ns' });
    expect(config.temporal.tls.enabled).toBe(false);
  });

  it('reads the profile TEMPORAL_PROFILE names, TLS files turning TLS on, the API key kept out of the config', () => {
    const env = { TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'prod' };
    const config = loadConfig({ env });
    expect(config.temporal).toMatchObject({ address: 'prod.tmprl.cloud:7233', namespace: 'synthmix.a1b2c' });
    expect(config.temporal.tls).toEqual({
      enabled: true,
      serverName: 'prod.tmprl.cloud',
      clientCertPath: '/etc/temporal/client.pem',
      clientKeyPath: '/etc/temporal/client.key',
    });
    expect(JSON.stringify(config)).not.toContain('tk-profile-secret');
    expect(secrets.temporalApiKey(env)).toBe('tk-profile-secret');
    expect(secrets.temporalApiKey({ ...env, TEMPORAL_API_KEY: 'tk-env' })).toBe('tk-env');
  });

  it('TEMPORAL_* variables win over the profile; tls.disabled and TEMPORAL_TLS switch TLS', () => {
    const plain = loadConfig({ env: { TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'plain' } });
    expect(plain.temporal.tls.enabled).toBe(false);
    const forced = loadConfig({
      env: { TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'plain', TEMPORAL_TLS: 'true', TEMPORAL_ADDRESS: 'override:7233' },
    });
    expect(forced.temporal).toMatchObject({ address: 'override:7233', tls: { enabled: true } });
    const caOnly = loadConfig({ env: { TEMPORAL_ADDRESS: 'a:7233', TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/ca.pem' } });
    expect(caOnly.temporal.tls).toEqual({ enabled: true, serverRootCACertPath: '/ca.pem' });
  });

  it('finds the profile file under XDG_CONFIG_HOME or HOME, and no file at all with neither', () => {
    const home = mkdtempSync(path.join(tmp, 'home-'));
    execFileSync('mkdir', ['-p', path.join(home, '.config', 'temporalio')]);
    writeFileSync(path.join(home, '.config', 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "home:7233"\n');
    expect(loadConfig({ env: { HOME: home } }).temporal.address).toBe('home:7233');
    expect(loadConfig({ env: { XDG_CONFIG_HOME: path.join(home, '.config') } }).temporal.address).toBe('home:7233');
    expect(loadConfig({ env: {} }).temporal).toMatchObject({ mode: 'embedded', address: '127.0.0.1:7233' });
  });

  const invalid: Array<[string, Record<string, string>, RegExp]> = [
    ['a missing TEMPORAL_CONFIG_FILE', { TEMPORAL_CONFIG_FILE: path.join(tmp, 'absent.toml') }, /TEMPORAL_CONFIG_FILE: .*absent\.toml does not exist/],
    ['an unknown TEMPORAL_PROFILE', { TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'staging' }, /TEMPORAL_PROFILE: no profile "staging"/],
    ['inline PEM data', { TEMPORAL_TLS_CLIENT_CERT_DATA: '-----BEGIN' }, /TEMPORAL_TLS_CLIENT_CERT_DATA: .*use TEMPORAL_TLS_CLIENT_CERT_PATH/],
    ['a bad TEMPORAL_TLS', { TEMPORAL_TLS: 'sometimes' }, /TEMPORAL_TLS: must be true or false/],
    ['a bad address', { TEMPORAL_ADDRESS: 'no-port' }, /temporal\.address: must look like host:port/],
    ['a profile value of the wrong type', { TEMPORAL_CONFIG_FILE: file('[profile.default]\naddress = 7233\n') }, /profile\.default\.address must be a string/],
    ['TOML outside the subset', { TEMPORAL_CONFIG_FILE: file('[profile.default]\naddress = ["a:1"]\n') }, /temporal\.toml:2: unsupported value/],
  ];

  it.each(invalid)('names %s', (_what, env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('reads TOML as Python tomllib does', () => {
    const text = [
      '# comment',
      'top = "t"  # trailing comment',
      '[profile."with.dot"]',
      'address = "a:1"',
      "literal = 'C:\\path\\no escapes'",
      'escaped = "tab\\tquote\\" backslash\\\\ unicode\\u00e9"',
      'count = 1_000',
      'negative = -3',
      'flag = false',
      '[profile."with.dot".tls]',
      'disabled = true',
      '[profile.b]',
      'grpc.meta = "dotted key"',
      '"quoted key" = "q"',
      '',
    ].join('\n');
    const tomlFile = file(text);
    const oracle: unknown = JSON.parse(
      execFileSync(toolPaths.enginePython, ['-c', 'import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))', tomlFile], {
        encoding: 'utf8',
      }),
    );
    expect(parseToml(text, tomlFile)).toEqual(oracle);
  });
});

describe('S3 addressing and region', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_CONFIG_FILE']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  /** Run the lazily resolved region as the S3 client would. */
  async function regionOf(options: { region?: string; endpoint?: string }): Promise<string> {
    const region = s3Region(options, 's3://runs');
    return typeof region === 'string' ? region : region();
  }

  function awsEnv(values: Record<string, string | undefined>): void {
    for (const key of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE']) delete process.env[key];
    // A config file of our own (new name per case: the SDK caches files by path).
    process.env.AWS_CONFIG_FILE = path.join(tmp, 'no-aws-config');
    for (const [key, value] of Object.entries(values)) if (value !== undefined) process.env[key] = value;
  }

  it('path-style only when a custom endpoint is set, unless set by name', () => {
    const base = { SYNTHMIX_STORE: 's3', SYNTHMIX_S3_BUCKET: 'runs' };
    expect(loadConfig({ env: base }).storage).toMatchObject({ forcePathStyle: false });
    expect(loadConfig({ env: { ...base, SYNTHMIX_S3_ENDPOINT: 'http://127.0.0.1:8333' } }).storage).toMatchObject({ forcePathStyle: true });
    const explicit = loadConfig({ env: base, overrides: { storage: { kind: 's3', bucket: 'runs', forcePathStyle: true } } });
    expect(explicit.storage).toMatchObject({ forcePathStyle: true });
  });

  it('has no region default in the config: an unset region stays unset', () => {
    const config = loadConfig({ env: { SYNTHMIX_STORE: 's3', SYNTHMIX_S3_BUCKET: 'runs' } });
    expect(config.storage.kind === 's3' && config.storage.region).toBeUndefined();
    const named = loadConfig({ env: { SYNTHMIX_STORE: 's3', SYNTHMIX_S3_BUCKET: 'runs', SYNTHMIX_S3_REGION: 'eu-north-1' } });
    expect(named.storage.kind === 's3' && named.storage.region).toBe('eu-north-1');
  });

  it('takes the region from the configuration, then AWS_REGION, then the AWS profile', async () => {
    const awsConfig = file('[default]\nregion = eu-west-3\n\n[profile pool]\nregion = ap-south-1\n', 'aws-config');
    awsEnv({ AWS_REGION: 'us-west-2' });
    expect(await regionOf({ region: 'eu-north-1' })).toBe('eu-north-1');
    expect(await regionOf({})).toBe('us-west-2');
    awsEnv({ AWS_CONFIG_FILE: awsConfig });
    expect(await regionOf({})).toBe('eu-west-3');
    awsEnv({ AWS_CONFIG_FILE: awsConfig, AWS_PROFILE: 'pool' });
    expect(await regionOf({})).toBe('ap-south-1');
  });

  it('falls back to us-east-1 only for a custom endpoint; against AWS a missing region is a permanent error', async () => {
    awsEnv({});
    expect(await regionOf({ endpoint: 'http://127.0.0.1:8333' })).toBe('us-east-1');
    const failure = regionOf({});
    await expect(failure).rejects.toThrow(BadInputError);
    await expect(failure).rejects.toThrow(/s3:\/\/runs: no AWS region: set storage\.region \(SYNTHMIX_S3_REGION\), AWS_REGION/);
  });
});
