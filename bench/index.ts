/**
 * `npm run bench`: every benchmark in turn, each printing its own figures. Pass names to run
 * some only: `npm run bench -- roundtrip orchestration classifier`.
 * TypeScript benches (bench/*.ts) measure the orchestration and the store; the engine's
 * (engine/bench/*.py) the tensor math, on CUDA too when the machine has it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadConfig, projectRoot } from '../lib/config/load.js';

const benches: Array<{ name: string; argv: string[]; python?: boolean }> = [
  { name: 'store', argv: ['bench/store.ts'] },
  { name: 'curate', argv: ['bench/curate.ts'] },
  { name: 'roundtrip', argv: ['bench/roundtrip.ts', '100'] },
  { name: 'orchestration', argv: ['bench/orchestration.ts', '10000', '50'] },
  { name: 'shipped-pretrain', argv: ['bench/shipped-pretrain.ts'] },
  // Minutes: the two-sweep pool with 6 SIGKILLs (bench/pool-under-fire.ts).
  { name: 'pool', argv: ['bench/pool-under-fire.ts', '--kills', '6', '--workers', '4'] },
  { name: 'classifier', argv: ['engine/bench/bench_classifier.py'], python: true },
  { name: 'cell', argv: ['engine/bench/bench_cell.py'], python: true },
  { name: 'fid', argv: ['engine/bench/bench_fid.py'], python: true },
  { name: 'fid-bootstrap', argv: ['engine/bench/bench_fid_bootstrap.py'], python: true },
  { name: 'diffusion', argv: ['engine/bench/bench_diffusion.py'], python: true },
];

const wanted = process.argv.slice(2);
const python = loadConfig().engine.python;
let failed = 0;
for (const bench of benches.filter((b) => wanted.length === 0 || wanted.includes(b.name))) {
  console.log(`\n== ${bench.name} ==`);
  const [command, args] = bench.python ? [python, bench.argv] : [process.execPath, ['--import', 'tsx', ...bench.argv]];
  const run = spawnSync(command, args, {
    cwd: projectRoot,
    stdio: 'inherit',
    env: { ...process.env, PYTHONPATH: path.join(projectRoot, 'engine') },
  });
  if (run.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
