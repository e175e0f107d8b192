/**
 * What Temporal knows about synthmix's builds (Worker Deployment versions, workers/deployment.ts)
 * and the sweeps pinned to them, for `synthmix status` and `synthmix deployments`. Reads only, except
 * `setCurrentBuild`, the operator's step of an upgrade.
 */
import type { Client } from '@temporalio/client';

// Wire values of Temporal's API enums (temporal/api/enums/v1/deployment.proto, workflow.proto):
// `@temporalio/proto` is not a dependency of ours, and these numbers are part of the API's contract.
const VersioningBehavior = { VERSIONING_BEHAVIOR_PINNED: 1, VERSIONING_BEHAVIOR_AUTO_UPGRADE: 2 } as const;
const VersionDrainageStatus = { VERSION_DRAINAGE_STATUS_DRAINING: 1, VERSION_DRAINAGE_STATUS_DRAINED: 2 } as const;
const WorkerDeploymentVersionStatus = {
  WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE: 1,
  WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT: 2,
  WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING: 3,
  WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING: 4,
  WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED: 5,
  WORKER_DEPLOYMENT_VERSION_STATUS_CREATED: 6,
} as const;

/** The build a workflow runs on, as Temporal recorded it. */
export interface WorkflowBuild {
  /** Undefined: unversioned, or its first workflow task has not completed yet. */
  buildId: string | undefined;
  /** `pinned` (stays on buildId until it ends), `auto-upgrade`, or `unversioned`. */
  behavior: 'pinned' | 'auto-upgrade' | 'unversioned';
}

export async function workflowBuild(client: Client, workflowId: string): Promise<WorkflowBuild> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const info = description.raw.workflowExecutionInfo?.versioningInfo;
  const override = info?.versioningOverride;
  const pinnedTo = override?.pinned?.version ?? info?.deploymentVersion;
  const behavior = info?.behavior === VersioningBehavior.VERSIONING_BEHAVIOR_PINNED || override?.pinned ? 'pinned' : info?.behavior === VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE ? 'auto-upgrade' : 'unversioned';
  return { buildId: pinnedTo?.buildId || undefined, behavior };
}

/** One line of `synthmix status`: the build a sweep runs on. */
export function formatWorkflowBuild(build: WorkflowBuild): string {
  if (!build.buildId) return 'build: none (unversioned workers, or not started by a worker yet)';
  return `build: ${build.buildId}${build.behavior === 'pinned' ? ' (pinned: runs on this build until it ends)' : ` (${build.behavior})`}`;
}

export type BuildStatus = 'current' | 'ramping' | 'draining' | 'drained' | 'inactive' | 'unknown';

export interface BuildInfo {
  buildId: string;
  status: BuildStatus;
  createdAt: Date | undefined;
  /** Top-level workflows (sweeps, schedules' runs) still open on this build. */
  runningSweeps: string[];
  /**
   * Its workers may be stopped: Temporal reports it drained (no open workflow pinned to it, and
   * not current or ramping), so nothing will ever be sent to it again.
   */
  canRetire: boolean;
}

export interface DeploymentInfo {
  name: string;
  current: string | undefined;
  builds: BuildInfo[];
}

function statusOf(status: number | null | undefined, drainage: number | null | undefined): BuildStatus {
  switch (status) {
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT:
      return 'current';
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING:
      return 'ramping';
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING:
      return 'draining';
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED:
      return 'drained';
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE:
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED:
      return 'inactive';
  }
  // Servers before the version status field report drainage only.
  if (drainage === VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED) return 'drained';
  if (drainage === VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINING) return 'draining';
  return 'unknown';
}

/** The visibility value of `TemporalWorkerDeploymentVersion` for a build. */
export function versionSearchValue(deploymentName: string, buildId: string): string {
  return `${deploymentName}:${buildId}`;
}

/** Top-level open workflows pinned to (or running on) a build, by workflow id. */
export async function runningSweepsOn(client: Client, deploymentName: string, buildId: string): Promise<string[]> {
  const query = `TemporalWorkerDeploymentVersion = '${versionSearchValue(deploymentName, buildId)}' AND ExecutionStatus = 'Running' AND ParentWorkflowId IS NULL`;
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
  return ids.sort();
}

/** The deployment's builds, newest first, each with its running sweeps; undefined when no versioned worker ever polled. */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentInfo | undefined> {
  let described;
  try {
    described = await client.workflowService.describeWorkerDeployment({ namespace: client.options.namespace, deploymentName });
  } catch (error) {
    if ((error as { code?: number }).code === 5 /* NOT_FOUND */) return undefined;
    throw error;
  }
  const info = described.workerDeploymentInfo;
  const builds: BuildInfo[] = [];
  for (const summary of info?.versionSummaries ?? []) {
    const buildId = summary.deploymentVersion?.buildId;
    if (!buildId) continue;
    const status = statusOf(summary.status, summary.drainageInfo?.status ?? summary.drainageStatus);
    const created = summary.createTime?.seconds;
    builds.push({
      buildId,
      status,
      createdAt: created !== undefined && created !== null ? new Date(Number(created) * 1000) : undefined,
      runningSweeps: await runningSweepsOn(client, deploymentName, buildId),
      canRetire: status === 'drained',
    });
  }
  builds.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
  return { name: deploymentName, current: info?.routingConfig?.currentDeploymentVersion?.buildId || undefined, builds };
}

/** `synthmix deployments`: one block per build. */
export function formatDeployment(deployment: DeploymentInfo): string[] {
  const lines = [`deployment ${deployment.name}: current build ${deployment.current ?? 'none (new sweeps wait for unversioned workers)'}`];
  for (const build of deployment.builds) {
    const retire =
      build.status === 'drained'
        ? 'drained: no sweep left on it, its workers may be stopped'
        : build.status === 'draining'
          ? 'draining: keep its workers until its sweeps end'
          : build.status === 'current' || build.status === 'ramping'
            ? 'takes new sweeps'
            : 'no sweeps routed to it';
    lines.push(`  ${build.buildId}  ${build.status}  ${retire}`);
    lines.push(`    running sweeps: ${build.runningSweeps.length > 0 ? build.runningSweeps.join(', ') : 'none'}`);
  }
  return lines;
}

/** `set-current` of a build no worker of the deployment ever announced (a typo, or its workers not started). */
export class UnknownBuildError extends Error {
  override name = 'UnknownBuildError';
}

/**
 * Make a build the one new sweeps start on. Temporal refuses (FailedPrecondition) when the build's
 * workers do not poll every task queue the current build's workers poll (a new build's gpu workers
 * not started yet), so new sweeps never wait for workers that are not there.
 */
export async function setCurrentBuild(client: Client, deploymentName: string, buildId: string, identity = 'synthmix deployments set-current'): Promise<void> {
  const namespace = client.options.namespace;
  const described = await client.workflowService.describeWorkerDeployment({ namespace, deploymentName });
  const known = (described.workerDeploymentInfo?.versionSummaries ?? []).some((v) => v.deploymentVersion?.buildId === buildId);
  if (!known) throw new UnknownBuildError(`deployment ${deploymentName} has no build ${buildId}: start its workers first (synthmix deployments lists the builds)`);
  await client.workflowService.setWorkerDeploymentCurrentVersion({ namespace, deploymentName, buildId, conflictToken: described.conflictToken, identity });
}
