import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../lib/config/load.js';
import { trainLr } from '../lib/sweep/cells.js';
import { resolveSweepConfig } from '../lib/sweep/config.js';
import { STOP_MARGIN_SECONDS, workerStopSeconds } from '../workers/create.js';

const cli = path.resolve('cli/synthmix.ts');

function runCli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

describe('configuration', () => {
  it('defaults to the embedded world, frozen', () => {
    const config = loadConfig({ env: {} });
    expect(config.temporal.mode).toBe('embedded');
    expect(config.storage.kind).toBe('local');
    expect(config.queues).toEqual({ cpu: 'synthmix-cpu', gpu: 'synthmix-gpu', scheduleToStartSeconds: 3600 });
    expect(Object.isFrozen(config.temporal)).toBe(true);
  });

  it("a worker's stop budget covers its activities' grace and then its engines' whole kill grace", () => {
    // Derived, so no pair of settings gives engines less than killGraceSeconds after the worker cancels them.
    for (const overrides of [{}, { workers: { shutdownGraceSeconds: 0 }, engine: { killGraceSeconds: 600 } }, { workers: { shutdownGraceSeconds: 300 }, engine: { killGraceSeconds: 1 } }]) {
      const config = loadConfig({ env: {}, overrides });
      expect(workerStopSeconds(config)).toBe(config.workers.shutdownGraceSeconds + config.engine.killGraceSeconds + STOP_MARGIN_SECONDS);
    }
    expect(workerStopSeconds(loadConfig({ env: {} }))).toBe(20 + 120 + 30);
  });

  it('takes overrides from the environment', () => {
    const config = loadConfig({
      env: { SYNTHMIX_STORE: 's3', SYNTHMIX_S3_BUCKET: 'runs', SYNTHMIX_S3_ENDPOINT: 'http://127.0.0.1:8333', SYNTHMIX_QUEUE_GPU: 'a100-pool' },
    });
    expect(config.storage).toMatchObject({ kind: 's3', bucket: 'runs', endpoint: 'http://127.0.0.1:8333', forcePathStyle: true });
    expect(config.queues.gpu).toBe('a100-pool');
  });

  it('never holds secrets', () => {
    const config = loadConfig({ env: { TEMPORAL_API_KEY: 'tk-secret-1', REPLICATE_API_TOKEN: 'r8_secret' } });
    expect(JSON.stringify(config)).not.toMatch(/secret/);
  });

  const invalid: Array<[string, Record<string, string>, RegExp]> = [
    ['temporal.address', { SYNTHMIX_TEMPORAL_ADDRESS: 'no-port-here' }, /temporal\.address: must look like host:port/],
    ['temporal.mode', { SYNTHMIX_TEMPORAL_MODE: 'cloudy' }, /temporal\.mode/],
    ['queues.cpu', { SYNTHMIX_QUEUE_CPU: '   ' }, /queues\.cpu: must not be empty/],
    ['workers.gpuConcurrency', { SYNTHMIX_GPU_CONCURRENCY: '0' }, /workers\.gpuConcurrency/],
    ['SYNTHMIX_CPU_CONCURRENCY', { SYNTHMIX_CPU_CONCURRENCY: 'many' }, /SYNTHMIX_CPU_CONCURRENCY: must be an integer/],
    ['storage.kind', { SYNTHMIX_STORE: 'ftp' }, /storage\.kind/],
    ['storage.bucket', { SYNTHMIX_STORE: 's3' }, /storage\.bucket/],
    ['storage.bucket name', { SYNTHMIX_STORE: 's3', SYNTHMIX_S3_BUCKET: 'Bad_Bucket' }, /storage\.bucket: must be a valid S3 bucket name/],
    ['storage.endpoint', { SYNTHMIX_STORE: 's3', SYNTHMIX_S3_BUCKET: 'runs', SYNTHMIX_S3_ENDPOINT: 'not a url' }, /storage\.endpoint: must be a URL/],
    ['temporal.tls.enabled', { SYNTHMIX_TEMPORAL_TLS: 'maybe' }, /SYNTHMIX_TEMPORAL_TLS: must be true or false/],
  ];

  it.each(invalid)('names %s when it is invalid', (_field, env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('the CLI exits with code 2 and names the field', () => {
    const result = runCli(['config'], { SYNTHMIX_TEMPORAL_ADDRESS: 'nope' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/temporal\.address: must look like host:port/);
  });

  it('the CLI exits with code 2 for a broken SYNTHMIX_CONFIG file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synthmix-config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ workers: { cpuConcurrency: -1 } }));
    const result = runCli(['config'], { SYNTHMIX_CONFIG: file });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/workers\.cpuConcurrency/);
  });

  it('the CLI exits with code 2 on bad usage and 0 on --help', () => {
    expect(runCli(['worker', '--queue', 'tpu'], {}).status).toBe(2);
    // Refused before any server starts, naming the option.
    const seeds = runCli(['demo', '--seeds', '0,one'], {});
    expect(seeds.status).toBe(2);
    expect(seeds.stderr).toMatch(/--seeds must be comma-separated non-negative integers/);
    const help = runCli(['--help'], {});
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/worker/);
  });
});

describe('sweep config layering', () => {
  it("a user's value with another kind replaces the preset's whole (no field inherited); the same kind merges", () => {
    // The README's "Your dataset" config, over the presets that run without models (the demo source has a `domain`).
    for (const preset of ['tiny', 'demo'] as const) {
      const config = resolveSweepConfig(preset, { dataset: { source: { kind: 'local', path: '/data/cifar-like' } } });
      expect(config.dataset.source).toEqual({ kind: 'local', path: '/data/cifar-like' });
    }
    expect(resolveSweepConfig('tiny', { dataset: { source: { kind: 'demo', domain: 'prior' } } }).dataset.source).toEqual({ kind: 'demo', domain: 'prior' });
    expect(resolveSweepConfig('tiny', { dataset: { perClass: 5 } }).dataset).toMatchObject({ source: { kind: 'demo', domain: 'target' }, perClass: 5 });
  });

  it('the system config: a storage of another kind replaces the default whole', () => {
    const config = loadConfig({ env: {}, overrides: { storage: { kind: 's3', bucket: 'runs' } } });
    expect(config.storage).toMatchObject({ kind: 's3', bucket: 'runs' });
    expect(config.storage).not.toHaveProperty('dir');
  });
});

describe('the learning rate per init mode', () => {
  it('one number serves every mode; an object gives each its own, layered like any object', () => {
    const tiny = resolveSweepConfig('tiny').train.lr;
    expect(['scratch', 'finetune', 'frozen'].map((mode) => trainLr(tiny, mode as 'scratch'))).toEqual([0.05, 0.05, 0.05]);
    const demo = resolveSweepConfig('demo').train.lr;
    expect(trainLr(demo, 'scratch')).toBeGreaterThan(trainLr(demo, 'finetune'));
    // A number over the preset's object replaces it whole; one mode over it keeps the others.
    expect(resolveSweepConfig('demo', { train: { lr: 0.01 } }).train.lr).toBe(0.01);
    const oneMode = resolveSweepConfig('demo', { train: { lr: { scratch: 0.1 } } }).train.lr;
    expect([trainLr(oneMode, 'scratch'), trainLr(oneMode, 'finetune')]).toEqual([0.1, trainLr(demo, 'finetune')]);
  });

  it('an object without every mode, or a rate that is not positive, is refused naming the field', () => {
    for (const [preset, lr] of [['tiny', { scratch: 0.1 }], ['demo', { frozen: 0 }], ['tiny', -1]] as const) {
      const issues = (() => {
        try {
          resolveSweepConfig(preset, { train: { lr } });
        } catch (error) {
          return error instanceof z.ZodError ? error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) : [String(error)];
        }
        return [];
      })();
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(/^train\.lr(\.frozen)?: (Too small|expected a positive number, or \{ scratch, finetune, frozen \})/);
    }
  });
});

describe('the RandAugment arm', () => {
  it('draws its ops per image by default, as torchvision does; per batch only when asked', () => {
    expect(resolveSweepConfig('tiny', { train: { randAugment: { n: 2, m: 9 } } }).train.randAugment).toEqual({ n: 2, m: 9, perImage: true });
    expect(resolveSweepConfig('tiny', { train: { randAugment: { n: 2, m: 9, perImage: false } } }).train.randAugment?.perImage).toBe(false);
  });
});
