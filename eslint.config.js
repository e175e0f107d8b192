// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs', 'fs/promises', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'stream',
  'stream/promises', 'url', 'util', 'worker_threads', 'events', 'zlib', 'timers', 'process',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.synthmix/**', 'engine/**', 'out/**', 'reports/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed deterministically inside Temporal's sandbox: no Node built-ins, no I/O.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.flatMap((name) => [
          { name, message: 'Workflows must be deterministic: do I/O in an activity.' },
          { name: `node:${name}`, message: 'Workflows must be deterministic: do I/O in an activity.' },
        ]),
        patterns: [{ group: ['../activities/*', '!../activities/*.types'], allowTypeImports: true, message: 'Import activities with `import type` only.' }],
      }],
    },
  },
);
