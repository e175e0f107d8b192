/**
 * `npm run build`'s last step: bundle the compiled workflows once (webpack) into
 * `dist/workflow-bundle.js`, which workers load by path (`workers/bundle.ts`) instead of bundling
 * at every start. Run compiled, as `node dist/infra/build-workflow-bundle.js`, so the bundle is
 * made from the same compiled code the workers run.
 */
import { writeFileSync } from 'node:fs';
import { buildWorkflowBundle, prebuiltBundlePath, workflowsPath } from '../workers/bundle.js';

const { code } = await buildWorkflowBundle();
writeFileSync(prebuiltBundlePath, code);
console.log(`workflow bundle: ${workflowsPath} -> ${prebuiltBundlePath} (${(code.length / 1024).toFixed(0)} KiB)`);
