/**
 * Temporal Worker Versioning for synthmix workers. A week-long sweep replays its history on the
 * workflow code of whichever worker picks up its next task; without versioning, deploying a change
 * to `workflows/` breaks running sweeps (nondeterminism) or silently changes them. So every worker
 * joins a Worker Deployment (`config.deployment.name`) as one version (its build id), every
 * workflow is PINNED to the version that started it, and a new build takes only the sweeps started
 * after it became current. Workers of an old build keep serving until its sweeps end (drained).
 *
 * The build id is the identity of the workflow code (the bundle a cpu worker runs, or from source
 * the files it is bundled from), so two workers built from the same code agree on it without
 * coordination, and any change to the code is a new build.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { NativeConnection, WorkerDeploymentOptions, WorkflowBundleOption } from '@temporalio/worker';
import type { SynthmixConfig } from '../temporal.config.js';
import { projectRoot } from '../lib/project-root.js';
import { workflowCodeIdentity } from './bundle.js';
import { log } from '../lib/log.js';

export type PromotePolicy = 'if-none' | 'always' | 'never';

/** The package version, the readable part of a derived build id. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0';
}

/** A build id: `<package version>-<12 hex of a sha256>`; the version is the readable part, the hash the identity. */
function buildIdOf(digest: string, kind: 'bundle' | 'source', version = packageVersion()): string {
  return `${version}-${kind === 'source' ? 'src-' : ''}${digest.slice(0, 12)}`;
}

/**
 * The build id of a workflow bundle's code. The code holds no absolute paths (two checkouts give
 * the same hash), so the same sources give the same id on every machine, and the package version
 * alone can never hide a code change.
 */
export function buildIdOfCode(code: string | Uint8Array, version = packageVersion()): string {
  return buildIdOf(createHash('sha256').update(code).digest('hex'), 'bundle', version);
}

/** The code of a bundle option (bundled now, or a file). */
async function codeOf(bundle: WorkflowBundleOption): Promise<string | Uint8Array> {
  if ('code' in bundle) return bundle.code;
  return readFile(bundle.codePath);
}

/**
 * This worker's version, or undefined when versioning is off. The build id, unless configured:
 * of `bundle` when the worker was given one; else of the prebuilt bundle (`npm run build`: what
 * production workers run, cpu and gpu alike); else, from source, `<version>-src-<hash of the
 * sources>` (workers/bundle.ts `workflowCodeIdentity`).
 */
export async function workerVersion(config: SynthmixConfig, bundle?: WorkflowBundleOption): Promise<WorkerDeploymentVersion | undefined> {
  const { deployment } = config;
  if (!deployment.versioning) return undefined;
  let buildId = deployment.buildId;
  if (!buildId && bundle) buildId = buildIdOfCode(await codeOf(bundle));
  if (!buildId) {
    const identity = workflowCodeIdentity();
    buildId = buildIdOf(identity.digest, identity.kind === 'prebuilt' ? 'bundle' : 'source');
  }
  return { deploymentName: deployment.name, buildId };
}

/**
 * The SDK's deployment options: every workflow PINNED by default. All synthmix workflows are parts
 * of a sweep (the sweep, its stages' children, pages that hand over with continueAsNew, which
 * stay on their run's version), and each must replay on the code that recorded it.
 */
export function deploymentOptions(version: WorkerDeploymentVersion | undefined): { workerDeploymentOptions?: WorkerDeploymentOptions } {
  if (!version) return {};
  return { workerDeploymentOptions: { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' } };
}

/** What a starting worker does about the current version (see `deploymentSchema.promote`). */
export function promotePolicy(config: SynthmixConfig): PromotePolicy {
  return config.deployment.promote ?? 'if-none';
}

export type PromotionOutcome =
  /** This build became current now. */
  | 'promoted'
  /** It already was. */
  | 'already-current'
  /** Another build is current and the policy leaves it (`if-none`, `never`). */
  | 'left'
  /** The worker stopped, or the deadline passed, before its version was registered / accepted. */
  | 'gave-up';

export interface PromotionOptions {
  connection: NativeConnection;
  namespace: string;
  version: WorkerDeploymentVersion;
  policy: PromotePolicy;
  identity?: string;
  /** Keep trying while this says so (the worker is still running). */
  keepTrying: () => boolean;
  timeoutMs?: number;
  everyMs?: number;
}

/**
 * Make this worker's version current if the policy says so, once the server knows it: a version
 * exists only after one of its workers polled, and setting it current is refused (FailedPrecondition)
 * while the current build polls a task queue this one does not yet (the gpu worker of a new build
 * starting after its cpu worker): both are waited out by trying again. Sweeps started meanwhile
 * wait in the queue and go to the new current version once it is set.
 */
export async function promoteWhenPolling(options: PromotionOptions): Promise<PromotionOutcome> {
  const { connection, namespace, version, policy } = options;
  if (policy === 'never') return 'left';
  const service = connection.workflowService;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let lastError: unknown;
  while (options.keepTrying() && Date.now() < deadline) {
    try {
      const described = await service.describeWorkerDeployment({ namespace, deploymentName: version.deploymentName });
      const info = described.workerDeploymentInfo;
      const known = (info?.versionSummaries ?? []).some((v) => v.deploymentVersion?.buildId === version.buildId);
      const current = info?.routingConfig?.currentDeploymentVersion?.buildId;
      if (current === version.buildId) return 'already-current';
      if (current && policy === 'if-none') return 'left';
      if (known) {
        await service.setWorkerDeploymentCurrentVersion({
          namespace,
          deploymentName: version.deploymentName,
          buildId: version.buildId,
          conflictToken: described.conflictToken,
          identity: options.identity ?? `synthmix worker ${process.pid}`,
        });
        return 'promoted';
      }
    } catch (error) {
      // NotFound before the first poll registered the deployment; FailedPrecondition while a task
      // queue of the current build has no poller of this one yet; Aborted on a concurrent change.
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 500));
  }
  if (lastError && options.keepTrying()) log.warn(`synthmix: build ${version.buildId} not made current: ${(lastError as Error).message}`);
  return 'gave-up';
}
