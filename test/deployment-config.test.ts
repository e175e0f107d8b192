/**
 * The worker-versioning settings and build ids, without servers (test/versioning.test.ts runs the
 * upgrade itself on the dev server): where the deployment's settings come from, that a bad one is
 * named, that a build id follows the workflow code and nothing else.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../lib/config/load.js';
import { buildIdOfCode, deploymentOptions, promotePolicy, workerVersion } from '../workers/deployment.js';
import { WORKFLOW_BUNDLE_ENV, workflowCodeIdentity } from '../workers/bundle.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatDeployment } from '../lib/temporal/deployments.js';

describe('worker deployment settings', () => {
  it('default to the deployment `synthmix`, versioned, a build derived from the code, promoted only when none is current', async () => {
    const config = loadConfig({ env: {} });
    expect(config.deployment).toEqual({ name: 'synthmix', versioning: true });
    expect(promotePolicy(config)).toBe('if-none');
    // The test run hands every worker one prebuilt bundle (test/global-setup.ts): its build is that
    // file's sha256; without it, from source, a hash of the files the bundle is made from.
    const bundleFile = process.env[WORKFLOW_BUNDLE_ENV] as string;
    const prebuilt = await workerVersion(config);
    expect(prebuilt?.deploymentName).toBe('synthmix');
    expect(prebuilt?.buildId).toBe(`${prebuilt?.buildId.split('-')[0]}-${createHash('sha256').update(readFileSync(bundleFile)).digest('hex').slice(0, 12)}`);
    delete process.env[WORKFLOW_BUNDLE_ENV];
    const version = await workerVersion(config).finally(() => (process.env[WORKFLOW_BUNDLE_ENV] = bundleFile));
    expect(version?.buildId).toMatch(/^\d+\.\d+\.\d+-src-[0-9a-f]{12}$/);
    delete process.env[WORKFLOW_BUNDLE_ENV];
    const sourceDigest = workflowCodeIdentity().digest;
    process.env[WORKFLOW_BUNDLE_ENV] = bundleFile;
    expect(version?.buildId).toBe(`${version?.buildId.split('-src-')[0]}-src-${sourceDigest.slice(0, 12)}`);
    // A derived id may be set by hand (a worker told to join a known build).
    expect(loadConfig({ env: { SYNTHMIX_BUILD_ID: version?.buildId } }).deployment.buildId).toBe(version?.buildId);
    expect(deploymentOptions(version).workerDeploymentOptions).toEqual({ version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' });
  });

  it('come from SYNTHMIX_* variables, over a config file', async () => {
    const config = loadConfig({
      env: { SYNTHMIX_DEPLOYMENT: 'gpu-pool', SYNTHMIX_BUILD_ID: 'release-42', SYNTHMIX_PROMOTE: 'never' },
      overrides: { deployment: { name: 'from-file', promote: 'always' } },
    });
    expect(config.deployment).toEqual({ name: 'gpu-pool', buildId: 'release-42', versioning: true, promote: 'never' });
    expect(await workerVersion(config)).toEqual({ deploymentName: 'gpu-pool', buildId: 'release-42' });
    const off = loadConfig({ env: { SYNTHMIX_WORKER_VERSIONING: 'false' } });
    expect(await workerVersion(off)).toBeUndefined();
    expect(deploymentOptions(undefined)).toEqual({});
  });

  it('a bad value is a configuration error naming its field', () => {
    expect(() => loadConfig({ env: { SYNTHMIX_BUILD_ID: 'has space' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { SYNTHMIX_BUILD_ID: 'has space' } })).toThrow(/deployment\.buildId/);
    expect(() => loadConfig({ env: { SYNTHMIX_DEPLOYMENT: 'a.b' } })).toThrow(/deployment\.name/);
    expect(() => loadConfig({ env: { SYNTHMIX_PROMOTE: 'sometimes' } })).toThrow(/deployment\.promote/);
  });
});

describe('build ids', () => {
  it('follow the workflow code: the same code is the same build, any change is another', () => {
    const code = 'export async function sweep() { return 1; }';
    expect(buildIdOfCode(code, '1.2.3')).toBe(buildIdOfCode(Buffer.from(code), '1.2.3'));
    expect(buildIdOfCode(code, '1.2.3')).toMatch(/^1\.2\.3-[0-9a-f]{12}$/);
    expect(buildIdOfCode(`${code} `, '1.2.3')).not.toBe(buildIdOfCode(code, '1.2.3'));
    // The version is the readable part only: the same code under another version is another build, too.
    expect(buildIdOfCode(code, '1.2.4')).not.toBe(buildIdOfCode(code, '1.2.3'));
  });
});

it('`synthmix deployments` says which build takes new sweeps and which may be retired', () => {
  const lines = formatDeployment({
    name: 'synthmix',
    current: 'b',
    builds: [
      { buildId: 'b', status: 'current', createdAt: undefined, runningSweeps: ['s2'], canRetire: false },
      { buildId: 'a', status: 'draining', createdAt: undefined, runningSweeps: ['s1'], canRetire: false },
      { buildId: 'z', status: 'drained', createdAt: undefined, runningSweeps: [], canRetire: true },
    ],
  });
  expect(lines).toEqual([
    'deployment synthmix: current build b',
    '  b  current  takes new sweeps',
    '    running sweeps: s2',
    '  a  draining  draining: keep its workers until its sweeps end',
    '    running sweeps: s1',
    '  z  drained  drained: no sweep left on it, its workers may be stopped',
    '    running sweeps: none',
  ]);
});
