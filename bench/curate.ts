/**
 * Curation throughput: 1,000 real image files of ~32 KB (noisy 104×104 PNG and 124×124 JPEG, 10 classes)
 * curated to 32×32 into a local store. Prints files/s for a cold run and for the memoized re-run.
 *
 *   npx tsx bench/curate.ts [--files 1000] [--concurrency 4]
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { curate } from '../activities/curate.js';
import { createRng } from '../lib/random.js';
import { createLocalStore } from '../lib/store/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const files = arg('files', 1000);
  const concurrency = arg('concurrency', 4);
  const classes = 10;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'synthmix-bench-curate-'));
  try {
    const root = path.join(dir, 'dataset');
    let bytes = 0;
    const t0 = performance.now();
    for (let i = 0; i < files; i++) {
      const cls = `class${i % classes}`;
      await mkdir(path.join(root, cls), { recursive: true });
      const rng = createRng(i);
      // Uniform noise (incompressible): PNG 104×104 ≈ 32 KB; JPEG 124×124 q95 4:4:4 ≈ 31 KB.
      const png = i % 2 === 0;
      const side = png ? 104 : 124;
      const raw = Buffer.alloc(side * side * 3);
      for (let p = 0; p < raw.length; p++) raw[p] = rng.int(256);
      const img = sharp(raw, { raw: { width: side, height: side, channels: 3 } });
      const out = png ? await img.png().toBuffer() : await img.jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer();
      const file = path.join(root, cls, `${String(i).padStart(5, '0')}.${png ? 'png' : 'jpg'}`);
      await writeFile(file, out);
      bytes += (await stat(file)).size;
    }
    const tGen = (performance.now() - t0) / 1000;
    console.log(`generated ${files} files, ${(bytes / files / 1024).toFixed(1)} KB average, in ${tGen.toFixed(1)} s`);

    const store = createLocalStore(path.join(dir, 'store'));
    const perClass = Math.floor((files / classes) * 0.7);
    const testPerClass = Math.floor(files / classes) - perClass;
    const input = { source: { kind: 'local' as const, path: root }, perClass, testPerClass, seed: 1, imageSize: 32, concurrency };

    const t1 = performance.now();
    const phaseEnd = new Map<string, number>();
    const result = await curate(input, { store, onProgress: (p) => phaseEnd.set(p.phase, performance.now()) });
    const cold = (performance.now() - t1) / 1000;
    let prev = t1;
    const phases = ['list', 'decode', 'write', 'done'].map((phase) => {
      const end = phaseEnd.get(phase) ?? prev;
      const text = `${phase} ${((end - prev) / 1000).toFixed(2)} s`;
      prev = end;
      return text;
    });
    const t2 = performance.now();
    const again = await curate(input, { store });
    const warm = (performance.now() - t2) / 1000;
    if (again.computed) throw new Error('expected the second run to be memoized');
    console.log(`curate (cold): ${files} files in ${cold.toFixed(2)} s = ${(files / cold).toFixed(0)} images/s (concurrency ${concurrency}, ${os.cpus().length} CPUs, rejected ${result.rejected})`);
    console.log(`  phases: ${phases.join(', ')} (list = walk + sha256 of every file; done = manifests + report)`);
    console.log(`curate (memoized re-run, hashes the files): ${warm.toFixed(2)} s = ${(files / warm).toFixed(0)} images/s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
