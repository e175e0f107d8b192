/**
 * The deployment kit (`deploy/`, README "Run it on a GPU pool"), checked without building an image
 * or having a cluster: hadolint on the Dockerfile; each kustomize overlay rendered by real kustomize
 * (`kubectl kustomize`) and schema-validated by kubernetes-validate (Kubernetes 1.30 and 1.37);
 * the KEDA triggers against the temporal scaler's fields; every environment variable the images,
 * manifests and compose file set against what the app reads; the grace periods against the
 * shutdown budget of the config they ship; and compose.yaml's helper scripts run against a real
 * SeaweedFS and a real Temporal dev server. The linters come from `.synthmix/deploy-tools`
 * (`infra/setup.ts`). That a worker exits cleanly on SIGTERM is test/production-build.test.ts's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deployToolPaths, toolPaths } from '../infra/tools.js';
import { freePorts } from '../infra/managed-process.js';
import { loadConfig } from '../lib/config/load.js';
import { withoutSecrets } from '../lib/engine/env.js';
import { projectRoot } from '../lib/project-root.js';
import type { SynthmixConfig } from '../temporal.config.js';
import {
  containerEnv,
  deployDir,
  dockerfileStages,
  interpolateCompose,
  renderOverlay,
  requireDeployTools,
  runTool,
  stageEnv,
  stageExec,
  whoReads,
  workerContainer,
  yamlDocuments,
  type Deployment,
  type Rendered,
} from './support/deploy-kit.js';
import { withTemporal } from './support/servers.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'synthmix-deploy-kit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const dockerfile = path.join(deployDir, 'Dockerfile');
const stages = dockerfileStages(readFileSync(dockerfile, 'utf8'));
const OVERLAYS = ['cpu', 'gpu'] as const;
const QUEUE_OF: Record<string, 'cpu' | 'gpu'> = { 'synthmix-cpu-worker': 'cpu', 'synthmix-gpu-worker': 'gpu' };

/**
 * What a gpu pod's grace period must cover beyond workers.shutdownGraceSeconds and
 * engine.killGraceSeconds: the upload of the checkpoint the engine wrote (a Stable Diffusion
 * fine-tune's UNet/adapter and optimizer state, GBs, at S3 speeds of ~100 MB/s).
 */
const CHECKPOINT_UPLOAD_SECONDS = 120;

/** Read by container runtimes, not by synthmix: allowed in the image with this reason. */
const RUNTIME_ENV: Record<string, string> = {
  NVIDIA_DRIVER_CAPABILITIES: 'the NVIDIA container runtime: which driver libraries it mounts',
};

/** The KEDA temporal scaler's trigger metadata (kedacore/keda pkg/scalers/temporal_scaler.go, keda.sh/docs/2.22/scalers/temporal). */
const KEDA_TEMPORAL_FROM_ENV = ['endpoint', 'namespace', 'taskQueue', 'buildId', 'workerDeploymentName', 'workerDeploymentBuildId'];
const KEDA_TEMPORAL_FIELDS = new Set([
  ...KEDA_TEMPORAL_FROM_ENV,
  ...KEDA_TEMPORAL_FROM_ENV.map((f) => `${f}FromEnv`),
  'activationTargetQueueSize',
  'targetQueueSize',
  'queueTypes',
  'selectAllActive',
  'selectUnversioned',
  'minConnectTimeout',
  'unsafeSsl',
  'tlsServerName',
  'includeRunningWorkflowCount',
  'workflowTaskQueueForCount',
  'enableTLS',
]);

/** Names the engine's secret filter (lib/engine/env.ts) withholds that are not credentials. */
const NOT_SECRET = new Set(['AWS_REGION']);

/** A credential: what the engine's secret filter withholds, less the names above. */
function isSecretName(name: string): boolean {
  return !(name in withoutSecrets({ [name]: 'x' })) && !NOT_SECRET.has(name);
}

/** The config a worker with this environment loads; SYNTHMIX_CONFIG's file is `configFile` on this machine. */
function configFor(env: ReadonlyMap<string, string>, configFile: string): SynthmixConfig {
  const plain: Record<string, string> = Object.fromEntries(env);
  plain.SYNTHMIX_CONFIG = configFile;
  return loadConfig({ env: plain });
}

const rendered = new Map<string, Rendered>();
beforeAll(() => {
  requireDeployTools();
  for (const overlay of OVERLAYS) rendered.set(overlay, renderOverlay(path.join(deployDir, 'k8s', 'overlays', overlay)));
});
function overlay(name: (typeof OVERLAYS)[number]): Rendered {
  const found = rendered.get(name);
  if (!found) throw new Error(`overlay ${name} not rendered`);
  return found;
}

/** Each worker Deployment of an overlay with its environment and the config that environment loads. */
function workers(r: Rendered): Array<{ deployment: Deployment; queue: 'cpu' | 'gpu'; env: Map<string, { value: string; from: string }>; config: SynthmixConfig }> {
  return r.deployments.map((deployment) => {
    const queue = QUEUE_OF[deployment.metadata.name];
    if (!queue) throw new Error(`unexpected Deployment ${deployment.metadata.name}`);
    const c = workerContainer(deployment);
    const env = containerEnv(c, r.configMaps);
    // Under the container's environment, the image's (ENV of its Dockerfile target).
    const target = /synthmix-worker-cuda/.test(c.image) ? 'cuda' : 'cpu';
    const withImage = new Map([...stageEnv(stages, target)].map(([k, v]) => [k, { value: v, from: 'image' }]));
    for (const [k, v] of env) withImage.set(k, v);
    // SYNTHMIX_CONFIG names a file the pod gets from a ConfigMap volume: find that volume's data.
    const configPath = env.get('SYNTHMIX_CONFIG')?.value;
    if (!configPath) throw new Error(`${deployment.metadata.name}: no SYNTHMIX_CONFIG`);
    const mount = c.volumeMounts.find((m) => m.mountPath === path.posix.dirname(configPath));
    const volume = deployment.spec.template.spec.volumes.find((v) => v.name === mount?.name);
    const data = r.configMaps.find((m) => m.metadata.name === volume?.configMap?.name)?.data[path.posix.basename(configPath)];
    if (data === undefined) throw new Error(`${deployment.metadata.name}: ${configPath} is not in a mounted ConfigMap`);
    const file = path.join(scratch, `${deployment.metadata.name}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, data);
    const plain = new Map([...withImage].filter(([k, v]) => v.from !== 'secret' && !(k in RUNTIME_ENV)).map(([k, v]) => [k, v.value]));
    return { deployment, queue, env, config: configFor(plain, file) };
  });
}

describe('deploy/Dockerfile', () => {
  it('passes hadolint; the only rule the kit switches off is DL3008 (apt version pins)', () => {
    const linted = runTool(deployToolPaths.hadolint, ['--config', path.join(deployDir, '.hadolint.yaml'), dockerfile]);
    expect(linted.stdout + linted.stderr).toBe('');
    expect(linted.status).toBe(0);
    // The linter is live: without the kit's config it reports exactly that rule, nothing else.
    const plain = runTool(deployToolPaths.hadolint, ['--no-color', dockerfile]);
    expect(plain.status).not.toBe(0);
    const rules = new Set([...plain.stdout.matchAll(/ (DL\d+|SC\d+) /g)].map((m) => m[1]));
    expect([...rules]).toEqual(['DL3008']);
  });

  it('has a cpu and a cuda target: non-root, tini then node in exec form, each with its worker queue', () => {
    for (const [target, queue] of [['cpu', 'cpu'], ['cuda', 'gpu']] as const) {
      expect(stageExec(stages, target, 'USER'), target).toMatch(/^[1-9]\d*:[1-9]\d*$/);
      expect(stageExec(stages, target, 'ENTRYPOINT'), target).toEqual(['/usr/bin/tini', '--', '/app/bin/synthmix']);
      expect(stageExec(stages, target, 'CMD'), target).toEqual(['worker', '--queue', queue]);
    }
    // /app/bin/synthmix is node itself (no tsx wrapper between tini and the worker).
    expect(readFileSync(path.join(projectRoot, 'bin', 'synthmix'), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    // The venvs differ only by torch's index: CPU wheels in cpu, CUDA wheels in cuda.
    const indexOf = (stage: string) => stages.find((s) => s.name === stage)?.lines.find((l) => l.startsWith('ARG TORCH_INDEX_URL='));
    expect(indexOf('venv-cpu')).toBe('ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu');
    expect(indexOf('venv-cuda')).toMatch(/^ARG TORCH_INDEX_URL=https:\/\/download\.pytorch\.org\/whl\/cu\d+$/);
  });

  it('copies what `npm run build` compiles, and its .dockerignore lets every copied path in', () => {
    const copies = stages.flatMap((s) => s.lines).filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l));
    const sources = copies.flatMap((l) => l.replace(/^COPY\s+(--\S+\s+)*/, '').split(/\s+/).slice(0, -1));
    const build = z.object({ include: z.array(z.string()) }).parse(JSON.parse(readFileSync(path.join(projectRoot, 'tsconfig.build.json'), 'utf8')));
    for (const compiled of build.include) expect(sources, `tsconfig.build.json compiles ${compiled}`).toContain(compiled);
    const allowed = readFileSync(path.join(deployDir, 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    for (const source of sources) {
      expect(existsSync(path.join(projectRoot, source)), `${source} exists`).toBe(true);
      expect(allowed, `${source} is let into the build context`).toContain(source.replace(/\/$/, ''));
    }
  });

  it('install-engine-venv.sh parses, and refuses a requirements file without a torch pin before making anything', () => {
    const script = path.join(deployDir, 'install-engine-venv.sh');
    expect(runTool('sh', ['-n', script]).status).toBe(0);
    const requirements = path.join(scratch, 'requirements.txt');
    writeFileSync(requirements, 'numpy==2.4.6\n');
    const venv = path.join(scratch, 'venv-never');
    const result = runTool('sh', [script, venv, requirements, 'https://download.pytorch.org/whl/cpu']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`no torch==VERSION line in ${requirements}`);
    expect(existsSync(venv)).toBe(false);
    // The real requirements have the pin the script looks for.
    expect(readFileSync(path.join(projectRoot, 'engine', 'requirements.txt'), 'utf8')).toMatch(/^torch==\d+\.\d+\.\d+$/m);
  });
});

describe.each(OVERLAYS)('deploy/k8s/overlays/%s', (name) => {
  it('renders with kustomize and validates against the Kubernetes 1.30 and 1.37 schemas (strict)', () => {
    const r = overlay(name);
    expect(r.all.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'ConfigMap', 'Deployment', 'Deployment', 'Namespace', 'ScaledObject', 'ScaledObject']);
    // kubernetes-validate has no schema for KEDA's CRD; the ScaledObjects are checked below.
    const file = path.join(scratch, `${name}.yaml`);
    writeFileSync(file, r.text);
    for (const version of ['1.30.0', '1.37.0']) {
      const result = runTool(deployToolPaths.kubernetesValidate, ['--strict', '--kubernetes-version', version, file]);
      expect(result.stderr, result.stdout).toBe('');
      expect(result.status, result.stdout).toBe(0);
      const passed = result.stdout.split('\n').filter((l) => l.startsWith('INFO') && l.includes(' passed for resource '));
      expect(passed).toHaveLength(5);
      expect(result.stdout).not.toMatch(/^ERROR/m);
    }
  });

  it('loads a valid config from what each worker gets: external Temporal, the S3 store, the queues', () => {
    for (const { deployment, config } of workers(overlay(name))) {
      expect(config.temporal.mode, deployment.metadata.name).toBe('external');
      expect(config.storage.kind).toBe('s3');
      expect(config.engine.python).toBe('/opt/synthmix/venv/bin/python');
    }
  });

  it('gives a pod more grace than its worker takes to stop: shutdown grace, engine checkpoint, its upload', () => {
    for (const { deployment, queue, config } of workers(overlay(name))) {
      const grace = deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30;
      const needed = queue === 'gpu' ? config.workers.shutdownGraceSeconds + config.engine.killGraceSeconds + CHECKPOINT_UPLOAD_SECONDS : config.workers.shutdownGraceSeconds;
      expect(grace, deployment.metadata.name).toBeGreaterThan(needed);
    }
  });

  it('SIGTERM goes to the worker: the image entrypoint is kept, args name the worker of its queue', () => {
    for (const { deployment, queue } of workers(overlay(name))) {
      const c = workerContainer(deployment);
      expect(c.command, `${deployment.metadata.name} keeps tini -> node`).toBeUndefined();
      expect(c.args).toEqual(['worker', '--queue', queue]);
      expect(deployment.spec.template.spec.securityContext?.runAsNonRoot).toBe(true);
      expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
    }
  });

  it('takes secrets from the Secret only; the Replicate token only on the cpu worker', () => {
    const r = overlay(name);
    for (const map of r.configMaps) for (const key of Object.keys(map.data)) expect(isSecretName(key), `${map.metadata.name}: ${key}`).toBe(false);
    for (const { deployment, queue, env } of workers(r)) {
      for (const [key, v] of env) if (isSecretName(key)) expect(v.from, `${deployment.metadata.name}: ${key}`).toBe('secret');
      for (const key of ['TEMPORAL_API_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) expect(env.get(key)?.from).toBe('secret');
      expect(env.has('REPLICATE_API_TOKEN'), deployment.metadata.name).toBe(queue === 'cpu');
    }
  });

  it('sets only environment variables the app reads', () => {
    const r = overlay(name);
    const names = new Set(workers(r).flatMap(({ env }) => [...env.keys()]));
    for (const key of names) expect(whoReads(key), key).toBeDefined();
  });

  it('scales each worker Deployment with a KEDA temporal trigger on the queue that worker polls', () => {
    const r = overlay(name);
    const ws = workers(r);
    expect(r.scaledObjects.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(ws.map((w) => w.deployment.metadata.name).sort());
    for (const scaled of r.scaledObjects) {
      const target = ws.find((w) => w.deployment.metadata.name === scaled.spec.scaleTargetRef.name);
      if (!target) throw new Error(`${scaled.metadata.name}: no Deployment ${scaled.spec.scaleTargetRef.name}`);
      expect(scaled.spec.triggers).toHaveLength(1);
      const [trigger] = scaled.spec.triggers;
      expect(trigger.type).toBe('temporal');
      const meta = trigger.metadata;
      for (const key of Object.keys(meta)) expect(KEDA_TEMPORAL_FIELDS.has(key), `${scaled.metadata.name}: ${key} is a temporal scaler field`).toBe(true);
      // Each setting read from the Deployment's environment must be there, and is what the worker uses.
      const resolve = (field: string): string | undefined => {
        const fromEnv = meta[`${field}FromEnv`];
        if (fromEnv === undefined) return meta[field];
        const value = target.env.get(fromEnv)?.value;
        expect(value, `${scaled.metadata.name}: ${field}FromEnv ${fromEnv} is in ${target.deployment.metadata.name}'s environment`).toBeDefined();
        return value;
      };
      expect(resolve('endpoint')).toBe(target.config.temporal.address);
      expect(resolve('namespace') ?? 'default').toBe(target.config.temporal.namespace);
      expect(resolve('taskQueue')).toBe(target.queue === 'cpu' ? target.config.queues.cpu : target.config.queues.gpu);
      const types = (meta.queueTypes ?? '').split(',');
      for (const type of types) expect(['workflow', 'activity', 'nexus']).toContain(type);
      // The cpu worker runs the workflows; the gpu worker only activities.
      expect(types.includes('workflow')).toBe(target.queue === 'cpu');
      expect(types).toContain('activity');
      expect(meta.targetQueueSize).toMatch(/^[1-9]\d*$/);
    }
  });
});

describe('overlays: where the gpu queue runs', () => {
  it('gpu: the gpu worker asks for a GPU, tolerates GPU nodes and runs the CUDA image; the cpu worker does not', () => {
    const r = overlay('gpu');
    const gpu = workerContainer(r.deployments.find((d) => d.metadata.name === 'synthmix-gpu-worker') as Deployment);
    expect(Number(gpu.resources.limits?.['nvidia.com/gpu'])).toBeGreaterThanOrEqual(1);
    expect(gpu.image).toMatch(/synthmix-worker-cuda:/);
    const gpuPod = (r.deployments.find((d) => d.metadata.name === 'synthmix-gpu-worker') as Deployment).spec.template.spec;
    expect(gpuPod.tolerations.map((t) => t.key)).toContain('nvidia.com/gpu');
    const cpu = workerContainer(r.deployments.find((d) => d.metadata.name === 'synthmix-cpu-worker') as Deployment);
    expect(cpu.resources.limits?.['nvidia.com/gpu']).toBeUndefined();
    expect(cpu.image).toMatch(/synthmix-worker-cpu:/);
  });

  it('cpu: no GPU anywhere, both workers on the CPU image, several engines on the gpu-queue worker', () => {
    const r = overlay('cpu');
    expect(r.text).not.toContain('nvidia.com/gpu');
    for (const d of r.deployments) expect(workerContainer(d).image).toMatch(/synthmix-worker-cpu:/);
    const gpuQueue = workers(r).find((w) => w.queue === 'gpu');
    expect(gpuQueue?.config.workers.gpuConcurrency).toBeGreaterThan(1);
  });
});

describe('the image environment', () => {
  it('sets only variables the app (or the container runtime, for a stated reason) reads, and they load', () => {
    for (const target of ['cpu', 'cuda']) {
      const env = stageEnv(stages, target);
      expect(env.size).toBeGreaterThan(0);
      for (const key of env.keys()) expect(whoReads(key) ?? RUNTIME_ENV[key], `${target}: ${key}`).toBeDefined();
      const config = loadConfig({ env: Object.fromEntries([...env].filter(([key]) => !(key in RUNTIME_ENV))) });
      // Everything a worker writes is under /var/lib/synthmix, the volume the manifests mount.
      for (const dir of [config.stateDir, config.engine.cacheDir, config.engine.workDir]) expect(dir.startsWith('/var/lib/synthmix/'), dir).toBe(true);
    }
    for (const r of rendered.values()) {
      for (const d of r.deployments) expect(workerContainer(d).volumeMounts.map((m) => m.mountPath)).toContain('/var/lib/synthmix');
    }
  });

  it('the env check flags a name nothing reads', () => {
    expect(whoReads('SYNTHMIX_S3_BUKET')).toBeUndefined();
    expect(whoReads('AWS_SECRET_KEY')).toBeUndefined();
    expect(whoReads('SYNTHMIX_S3_BUCKET')).toBe('synthmix');
    expect(whoReads('AWS_SECRET_ACCESS_KEY')).toBe('aws-sdk');
  });
});

// --- compose.yaml --------------------------------------------------------------------------------

const composeService = z
  .object({
    image: z.string().optional(),
    build: z.object({ context: z.string(), dockerfile: z.string(), target: z.string() }).optional(),
    command: z.array(z.string()).optional(),
    entrypoint: z.array(z.string()).optional(),
    environment: z.record(z.string(), z.string()).default({}),
    volumes: z.array(z.string()).default([]),
    depends_on: z.record(z.string(), z.object({ condition: z.string() })).default({}),
    stop_grace_period: z.string().optional(),
    deploy: z
      .object({ resources: z.object({ reservations: z.object({ devices: z.array(z.object({ driver: z.string(), capabilities: z.array(z.string()) }).loose()) }) }) })
      .optional(),
  })
  .loose();
const composeSchema = z.object({ services: z.record(z.string(), composeService), volumes: z.record(z.string(), z.unknown()).optional() }).loose();
const composeFile = path.join(deployDir, 'compose.yaml');

function loadCompose(): z.infer<typeof composeSchema> {
  const docs = yamlDocuments(readFileSync(composeFile, 'utf8'), composeFile);
  expect(docs).toHaveLength(1);
  return composeSchema.parse(docs[0]);
}

function seconds(duration: string | undefined): number {
  const match = /^(\d+)s$/.exec(duration ?? '');
  if (!match) throw new Error(`stop_grace_period "${duration}" is not in seconds`);
  return Number(match[1]);
}

describe('deploy/compose.yaml', () => {
  it('runs Temporal on PostgreSQL with the current images, SeaweedFS for S3, and both workers from the Dockerfile', () => {
    const compose = loadCompose();
    const s = compose.services;
    expect(s.postgresql?.image).toMatch(/^postgres:\d+/);
    expect(s.temporal?.image).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
    expect(s.temporal?.environment.DB).toBe('postgres12');
    expect(s['temporal-schema']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(Object.values(s).filter((x) => /auto-setup/.test(x.image ?? ''))).toEqual([]);
    expect(s.seaweedfs?.image).toMatch(/^chrislusf\/seaweedfs:\d/);
    for (const [service, target, queue] of [['worker-cpu', 'cpu', 'cpu'], ['worker-gpu', 'cuda', 'gpu']] as const) {
      const w = s[service];
      if (!w?.build) throw new Error(`${service}: no build`);
      expect(path.resolve(deployDir, w.build.context)).toBe(projectRoot);
      expect(path.resolve(projectRoot, w.build.dockerfile)).toBe(dockerfile);
      expect(stages.map((x) => x.name)).toContain(w.build.target);
      expect(w.build.target).toBe(target);
      expect(w.command).toEqual(['worker', '--queue', queue]);
      expect(w.depends_on['temporal-namespace']?.condition).toBe('service_completed_successfully');
      expect(w.depends_on['s3-bucket']?.condition).toBe('service_completed_successfully');
    }
    expect(s['worker-gpu']?.deploy?.resources.reservations.devices[0]).toMatchObject({ driver: 'nvidia', capabilities: ['gpu'] });
    // Every file a service mounts from the repository exists.
    for (const service of Object.values(s)) {
      for (const volume of service.volumes.filter((v) => v.startsWith('./'))) expect(existsSync(path.join(deployDir, volume.split(':')[0])), volume).toBe(true);
    }
  });

  it('workers: variables the app reads, secrets only from the operator, the Kubernetes config and grace periods', () => {
    const compose = loadCompose();
    const k8s = workers(overlay('gpu'));
    for (const [service, queue] of [['worker-cpu', 'cpu'], ['worker-gpu', 'gpu']] as const) {
      const w = compose.services[service];
      if (!w) throw new Error(`no ${service}`);
      for (const [key, value] of Object.entries(w.environment)) {
        expect(whoReads(key), `${service}: ${key}`).toBeDefined();
        if (isSecretName(key)) expect(value, `${service}: ${key} comes from deploy/.env`).toMatch(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
      }
      expect('REPLICATE_API_TOKEN' in w.environment).toBe(queue === 'cpu');
      const configPath = w.environment.SYNTHMIX_CONFIG;
      const mount = w.volumes.find((v) => v.split(':')[1] === configPath);
      if (!mount) throw new Error(`${service}: SYNTHMIX_CONFIG ${configPath} is not mounted`);
      const hostFile = path.join(deployDir, mount.split(':')[0]);
      expect(hostFile).toBe(path.join(deployDir, 'k8s', 'base', 'synthmix.json'));
      const env = new Map(Object.entries(w.environment).map(([k, v]) => [k, interpolateCompose(v)]));
      const config = configFor(env, hostFile);
      expect(config.temporal.mode).toBe('external');
      expect(config.storage).toMatchObject({ kind: 's3', endpoint: 'http://seaweedfs:8333', forcePathStyle: true });
      const twin = k8s.find((x) => x.queue === queue);
      expect(seconds(w.stop_grace_period)).toBe(twin?.deployment.spec.template.spec.terminationGracePeriodSeconds);
    }
  });
});

describe('compose helper scripts against the real servers', () => {
  const temporal = withTemporal();
  let weed: ChildProcess | undefined;
  let weedPorts: number[] = [];
  afterAll(async () => {
    if (weed && weed.exitCode === null && weed.signalCode === null) {
      const exited = new Promise((resolve) => weed?.once('exit', resolve));
      weed.kill('SIGKILL');
      await exited;
    }
    // `weed server` leaves unix sockets named after its ports in /tmp (infra/seaweedfs.ts removes its own the same way).
    const mine = new Set(weedPorts.flatMap((p) => [p, p + 10_000]).map(String));
    for (const name of readdirSync('/tmp')) {
      const match = /^seaweedfs-[a-z0-9-]+-(\d+)\.sock$/.exec(name);
      if (match && mine.has(match[1])) rmSync(path.join('/tmp', name), { force: true });
    }
  });

  it('s3-bucket.sh makes the bucket on SeaweedFS started as compose starts it; S3 takes the AWS_* pair', async () => {
    const compose = loadCompose();
    const seaweed = compose.services.seaweedfs;
    if (!seaweed?.command) throw new Error('seaweedfs: no command');
    weedPorts = await freePorts(4, { paired: 10_000 });
    const [master, volume, filer, s3] = weedPorts;
    const dataDir = path.join(scratch, 'weed');
    mkdirSync(dataDir);
    // compose's command, on this machine's free loopback ports and a scratch folder.
    const args = [
      ...seaweed.command.filter((a) => !/^-(dir|ip\.bind|s3\.port)=/.test(a)),
      `-dir=${dataDir}`,
      '-ip=127.0.0.1',
      '-ip.bind=127.0.0.1',
      '-master.telemetry=false',
      `-master.port=${master}`,
      `-volume.port=${volume}`,
      `-filer.port=${filer}`,
      `-s3.port=${s3}`,
    ];
    const keys = { AWS_ACCESS_KEY_ID: 'deploy-kit-id', AWS_SECRET_ACCESS_KEY: 'deploy-kit-secret' };
    weed = spawn(toolPaths.weed, args, { cwd: dataDir, env: { ...process.env, ...keys }, stdio: 'ignore' });
    const script = path.join(deployDir, 'compose', 's3-bucket.sh');
    const env = { ...process.env, PATH: `${path.dirname(toolPaths.weed)}:${process.env.PATH ?? ''}`, SYNTHMIX_S3_BUCKET: 'deploy-kit', WEED_MASTER: `127.0.0.1:${master}` };
    const created = runTool('sh', [script], { env });
    expect(created.stderr).toBe('');
    expect(created.stdout.trim().split('\n').at(-1)).toBe('bucket deploy-kit exists');
    expect(created.status).toBe(0);
    const client = (secret: string) =>
      new S3Client({ endpoint: `http://127.0.0.1:${s3}`, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: keys.AWS_ACCESS_KEY_ID, secretAccessKey: secret } });
    const good = client(keys.AWS_SECRET_ACCESS_KEY);
    const bad = client('not-the-secret');
    try {
      expect((await good.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['deploy-kit']);
      await expect(bad.send(new ListBucketsCommand({}))).rejects.toThrow();
    } finally {
      good.destroy();
      bad.destroy();
    }
    // A second run (a restarted compose) finds it and changes nothing.
    expect(runTool('sh', [script], { env }).stdout.trim()).toBe('bucket deploy-kit exists');
  });

  it('temporal-namespace.sh creates the namespace once, then leaves it', async () => {
    const script = path.join(deployDir, 'compose', 'temporal-namespace.sh');
    const env = { ...process.env, PATH: `${path.dirname(toolPaths.temporal)}:${process.env.PATH ?? ''}`, TEMPORAL_ADDRESS: temporal.server.address, SYNTHMIX_NAMESPACE: 'deploy-kit' };
    const first = runTool('sh', [script], { env });
    expect(first.stderr).toBe('');
    expect(first.stdout.trim().split('\n').at(-1)).toBe('namespace deploy-kit created');
    expect(first.status).toBe(0);
    const second = runTool('sh', [script], { env });
    expect(second.stdout.trim()).toBe('namespace deploy-kit exists');
    expect(second.status).toBe(0);
    const client = new Client({ connection: await temporal.connect() });
    const described = await client.workflowService.describeNamespace({ namespace: 'deploy-kit' });
    expect(described.namespaceInfo?.name).toBe('deploy-kit');
  });
});
