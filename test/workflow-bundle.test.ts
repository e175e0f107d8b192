/**
 * The workflow bundle carries workflow code and Temporal's own packages, nothing else. Every module a
 * workflow imports is evaluated again for each new workflow (the reusable V8 context keeps module
 * state per workflow): the sweep config's zod schema once cost ≈ 18 ms of every new workflow's first
 * task (a CPU profile of replayed workflows), as much as the rest of a step's orchestration.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildWorkflowBundle, WORKFLOW_BUNDLE_ENV } from '../workers/bundle.js';

/** The module ids webpack wrote into the bundle (a line `/***\/ "./path"` opens each module). */
function bundledModules(code: string): string[] {
  return [...code.matchAll(/^\/\*\*\*\/ "(\.\/[^"]+)"/gm)].map((match) => match[1]);
}

/** The package a `./node_modules/...` module id belongs to (`@scope/name` or `name`). */
function packageOf(id: string): string {
  const parts = id.replace(/^\.\/node_modules\//, '').split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

// Temporal's workflow runtime and what it needs itself.
const ALLOWED_PACKAGES = /^(@temporalio\/(workflow|common)|nexus-rpc|long|ms)$/;

describe('workflow bundle', () => {
  it('holds workflow code and Temporal packages only (no zod, no schema tables)', async () => {
    const file = process.env[WORKFLOW_BUNDLE_ENV];
    const code = file ? readFileSync(file, 'utf8') : (await buildWorkflowBundle()).code;
    const modules = bundledModules(code);
    expect(modules).toContain('./workflows/sweep.ts');
    expect(modules).toContain('./lib/sweep/cells.ts');
    const packages = [...new Set(modules.filter((id) => id.startsWith('./node_modules/')).map(packageOf))];
    expect(packages.filter((name) => !ALLOWED_PACKAGES.test(name))).toEqual([]);
    // The config's schema module is not bundled: workflows read a checked config's values only.
    expect(modules).not.toContain('./lib/sweep/config.ts');
  });
});
