/**
 * Reading the deployment kit (`deploy/`) for test/deploy-kit.test.ts: YAML through PyYAML (the
 * deploy-tools venv has it; no YAML package in node_modules), kustomize overlays rendered by real
 * kustomize (`kubectl kustomize`), the parts of the rendered objects the tests look at typed with
 * zod, and the question "does the app read this environment variable?".
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { deployToolPaths } from '../../infra/tools.js';
import { projectRoot } from '../../lib/project-root.js';

export const deployDir = path.join(projectRoot, 'deploy');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(file: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
  const result = spawnSync(file, args, {
    cwd: options.cwd ?? projectRoot,
    encoding: 'utf8',
    input: options.input,
    env: options.env ?? process.env,
    maxBuffer: 32 * 1024 * 1024,
  });
  if (result.error) throw new Error(`${file} ${args.join(' ')}: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Throws naming the missing linter and the command that installs it. */
export function requireDeployTools(): void {
  for (const [name, file] of Object.entries(deployToolPaths)) {
    if (!existsSync(file)) throw new Error(`deploy tool ${name} missing at ${file}: run \`npx tsx infra/setup.ts\``);
  }
}

/** Every document of a YAML stream (PyYAML's safe_load_all, so anchors and merge keys resolve as in compose). */
export function yamlDocuments(text: string, where: string): unknown[] {
  const script = 'import sys, json, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)';
  const result = runTool(deployToolPaths.python, ['-c', script], { input: text });
  if (result.status !== 0) throw new Error(`${where}: not valid YAML:\n${result.stderr}`);
  return JSON.parse(result.stdout) as unknown[];
}

/** `kubectl kustomize DIR`: the manifests as they would be applied. */
export function renderKustomize(dir: string): string {
  const result = runTool(deployToolPaths.kubectl, ['kustomize', dir]);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return result.stdout;
}

// --- the rendered objects, as far as the tests read them ----------------------------------------

const secretKeyRef = z.object({ name: z.string(), key: z.string(), optional: z.boolean().optional() });
const envVar = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.object({ secretKeyRef: secretKeyRef.optional(), configMapKeyRef: secretKeyRef.optional() }).loose().optional(),
});
const container = z
  .object({
    name: z.string(),
    image: z.string(),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).default([]),
    env: z.array(envVar).default([]),
    envFrom: z.array(z.object({ configMapRef: z.object({ name: z.string() }).optional(), secretRef: z.object({ name: z.string() }).optional() })).default([]),
    resources: z
      .object({ requests: z.record(z.string(), z.union([z.string(), z.number()])).optional(), limits: z.record(z.string(), z.union([z.string(), z.number()])).optional() })
      .default({}),
    volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() }).loose()).default([]),
    securityContext: z.object({ allowPrivilegeEscalation: z.boolean().optional(), capabilities: z.object({ drop: z.array(z.string()) }).optional() }).loose().optional(),
  })
  .loose();
export type Container = z.infer<typeof container>;

export const deploymentSchema = z
  .object({
    kind: z.literal('Deployment'),
    metadata: z.object({ name: z.string() }).loose(),
    spec: z
      .object({
        template: z.object({
          spec: z
            .object({
              terminationGracePeriodSeconds: z.number().optional(),
              securityContext: z.object({ runAsNonRoot: z.boolean().optional(), runAsUser: z.number().optional() }).loose().optional(),
              tolerations: z.array(z.object({ key: z.string().optional() }).loose()).default([]),
              containers: z.array(container).min(1),
              volumes: z.array(z.object({ name: z.string(), configMap: z.object({ name: z.string() }).optional() }).loose()).default([]),
            })
            .loose(),
        }),
      })
      .loose(),
  })
  .loose();
export type Deployment = z.infer<typeof deploymentSchema>;

export const configMapSchema = z.object({ kind: z.literal('ConfigMap'), metadata: z.object({ name: z.string() }).loose(), data: z.record(z.string(), z.string()).default({}) }).loose();
export type ConfigMap = z.infer<typeof configMapSchema>;

export const scaledObjectSchema = z
  .object({
    apiVersion: z.literal('keda.sh/v1alpha1'),
    kind: z.literal('ScaledObject'),
    metadata: z.object({ name: z.string() }).loose(),
    spec: z
      .object({
        scaleTargetRef: z.object({ name: z.string(), kind: z.string().optional() }).loose(),
        minReplicaCount: z.number().int().min(0).optional(),
        maxReplicaCount: z.number().int().min(1).optional(),
        triggers: z.array(z.object({ type: z.string(), metadata: z.record(z.string(), z.string()) }).loose()).min(1),
      })
      .loose(),
  })
  .loose();
export type ScaledObject = z.infer<typeof scaledObjectSchema>;

export interface Rendered {
  all: Array<{ kind: string; apiVersion: string }>;
  deployments: Deployment[];
  configMaps: ConfigMap[];
  scaledObjects: ScaledObject[];
  text: string;
}

export function renderOverlay(dir: string): Rendered {
  const text = renderKustomize(dir);
  const all = z.array(z.object({ kind: z.string(), apiVersion: z.string() }).loose()).parse(yamlDocuments(text, dir));
  return {
    all,
    deployments: all.filter((o) => o.kind === 'Deployment').map((o) => deploymentSchema.parse(o)),
    configMaps: all.filter((o) => o.kind === 'ConfigMap').map((o) => configMapSchema.parse(o)),
    scaledObjects: all.filter((o) => o.kind === 'ScaledObject').map((o) => scaledObjectSchema.parse(o)),
    text,
  };
}

export function workerContainer(deployment: Deployment): Container {
  const found = deployment.spec.template.spec.containers.find((c) => c.name === 'worker');
  if (!found) throw new Error(`${deployment.metadata.name}: no container named worker`);
  return found;
}

/** The environment a container starts with: its ConfigMaps' keys (envFrom), then its own `env` (values; secrets as a marker). */
export function containerEnv(c: Container, configMaps: readonly ConfigMap[]): Map<string, { value: string; from: 'configMap' | 'value' | 'secret' }> {
  const env = new Map<string, { value: string; from: 'configMap' | 'value' | 'secret' }>();
  for (const source of c.envFrom) {
    if (!source.configMapRef) continue;
    const map = configMaps.find((m) => m.metadata.name === source.configMapRef?.name);
    if (!map) throw new Error(`container ${c.name}: envFrom names ConfigMap ${source.configMapRef.name}, which is not rendered`);
    for (const [name, value] of Object.entries(map.data)) env.set(name, { value, from: 'configMap' });
  }
  for (const v of c.env) {
    if (v.value !== undefined) env.set(v.name, { value: v.value, from: 'value' });
    else if (v.valueFrom?.secretKeyRef) env.set(v.name, { value: `<secret ${v.valueFrom.secretKeyRef.name}/${v.valueFrom.secretKeyRef.key}>`, from: 'secret' });
  }
  return env;
}

// --- which environment variables the app reads --------------------------------------------------

/** The code a worker process runs (infra/ is the dev launchers and setup: not in a worker). */
const APP_SOURCES = ['lib', 'cli', 'workers', 'activities', 'workflows', 'temporal.config.ts'];

function filesUnder(entry: string, ext: RegExp): string[] {
  if (!existsSync(entry)) return [];
  if (!statSync(entry).isDirectory()) return ext.test(entry) ? [entry] : [];
  return readdirSync(entry).flatMap((name) => filesUnder(path.join(entry, name), ext));
}

let appText: string | undefined;
let awsSdkText: string | undefined;

/**
 * Why the app would read `name`: synthmix's own code names it (quoted, or as `env.NAME`), or the AWS
 * SDK's default chain, as installed, does (credentials and region). Undefined: nothing reads it.
 */
export function whoReads(name: string): 'synthmix' | 'aws-sdk' | undefined {
  appText ??= APP_SOURCES.flatMap((entry) => filesUnder(path.join(projectRoot, entry), /\.ts$/)).map((file) => readFileSync(file, 'utf8')).join('\n');
  const quoted = new RegExp(`(['"\`])${name}\\1|env\\.${name}\\b`);
  if (quoted.test(appText)) return 'synthmix';
  if (name.startsWith('AWS_')) {
    awsSdkText ??= ['@aws-sdk', '@smithy']
      .flatMap((scope) => filesUnder(path.join(projectRoot, 'node_modules', scope), /dist-cjs\/.*index\.js$/))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    if (new RegExp(`"${name}"`).test(awsSdkText)) return 'aws-sdk';
  }
  return undefined;
}

/** The image's ENV names and values (`ENV A=1 \ B=2` lines of deploy/Dockerfile), per final stage. */
export function dockerfileStages(text: string): Array<{ name: string; from: string; lines: string[] }> {
  const joined = text.replace(/\\\n/g, ' ');
  const stages: Array<{ name: string; from: string; lines: string[] }> = [];
  for (const line of joined.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(trimmed);
    if (from) {
      stages.push({ name: from[2] ?? `stage-${stages.length}`, from: from[1], lines: [] });
      continue;
    }
    stages.at(-1)?.lines.push(trimmed);
  }
  return stages;
}

/** ENV settings of a stage and of the stages it is built FROM (the image's environment). */
export function stageEnv(stages: ReturnType<typeof dockerfileStages>, name: string): Map<string, string> {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`deploy/Dockerfile: no stage ${name}`);
  const env = stages.some((s) => s.name === stage.from) ? stageEnv(stages, stage.from) : new Map<string, string>();
  for (const line of stage.lines) {
    if (!/^ENV\s/i.test(line)) continue;
    for (const match of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env.set(match[1], match[2]);
  }
  return env;
}

/** The last instruction `KEYWORD ...` of a stage or its parents, JSON (exec form) parsed. */
export function stageExec(stages: ReturnType<typeof dockerfileStages>, name: string, keyword: 'ENTRYPOINT' | 'CMD' | 'USER'): string[] | string | undefined {
  const stage = stages.find((s) => s.name === name);
  if (!stage) return undefined;
  const line = [...stage.lines].reverse().find((l) => l.toUpperCase().startsWith(`${keyword} `));
  if (!line) return stageExec(stages, stage.from, keyword);
  const rest = line.slice(keyword.length).trim();
  return rest.startsWith('[') ? z.array(z.string()).parse(JSON.parse(rest)) : rest;
}

/** Compose's `${NAME}`, `${NAME:-default}`, `${NAME:?message}`: the default, else a stand-in for what the operator sets. */
export function interpolateCompose(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string | undefined) =>
    op === '-' ? (arg ?? '') : `operator-set-${name.toLowerCase()}`,
  );
}
