/**
 * Small real files for tests: tiny random model folders made by the libraries themselves in the
 * engine venv (diffusers' / transformers' `save_pretrained`, through the engine tests' own makers),
 * and distinct PNG images.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import { projectRoot } from '../../lib/config/load.js';
import { toolPaths } from '../../infra/tools.js';

/** The engine tests' makers: `make_tiny_sd` (engine/tests/test_diffusion.py, native 16 px) and `make_tiny_clip` (tiny_models.py). */
const MAKERS = { sd: 'from test_diffusion import make_tiny_sd as make', clip: 'from tiny_models import make_tiny_clip as make' } as const;

/** Write a tiny random Stable-Diffusion-shaped (diffusers layout) or CLIP (transformers layout) folder. */
export function makeTinyModel(kind: keyof typeof MAKERS, folder: string): void {
  const engineDir = path.join(projectRoot, 'engine');
  execFileSync(toolPaths.enginePython, ['-c', `import sys; ${MAKERS[kind]}; make(sys.argv[1])`, folder], {
    cwd: engineDir,
    env: { ...process.env, PYTHONPATH: [engineDir, path.join(engineDir, 'tests')].join(path.delimiter), HF_HUB_OFFLINE: '1', OMP_NUM_THREADS: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** A 32×32 PNG: a class colour plus a per-image pattern (no two byte- or pixel-equal). */
export async function patternPng(classIndex: number, i: number): Promise<Buffer> {
  const raw = Buffer.alloc(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p += 1) {
    raw[p * 3 + classIndex] = 200;
    raw[p * 3 + ((classIndex + 1) % 3)] = (p * (i + 3)) % 97;
  }
  return sharp(raw, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
}
