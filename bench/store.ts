/**
 * Artifact store throughput: large objects (MB/s: put/get of a Buffer, putFile/getToFile, and a
 * streamed getStream) and small 32 KiB objects (ops/s, sequential and 8 concurrent), for the local
 * directory store and for S3 on a real SeaweedFS server that this script starts (and stops).
 *
 *   npx tsx bench/store.ts [--large-mb 64] [--small 400] [--only local|s3]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startSeaweedFS } from '../infra/seaweedfs.js';
import { createLocalStore } from '../lib/store/local.js';
import { createS3Store, type S3Store } from '../lib/store/s3.js';
import type { ArtifactStore } from '../lib/store/types.js';

export interface StoreBenchOptions {
  largeMiB?: number;
  smallCount?: number;
  only?: 'local' | 's3';
}

export interface StoreBenchRow {
  store: string;
  case: string;
  value: number;
  unit: 'MB/s' | 'ops/s';
}

const SMALL = 32 * 1024;
const CONCURRENCY = 8;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function pool(count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) await fn(i);
    }),
  );
}

async function benchStore(label: string, store: ArtifactStore, scratch: string, options: Required<Omit<StoreBenchOptions, 'only'>>): Promise<StoreBenchRow[]> {
  const rows: StoreBenchRow[] = [];
  const mbps = (name: string, bytes: number, seconds: number): void => {
    rows.push({ store: label, case: name, value: bytes / 1e6 / seconds, unit: 'MB/s' });
  };
  const opsps = (name: string, ops: number, seconds: number): void => {
    rows.push({ store: label, case: name, value: ops / seconds, unit: 'ops/s' });
  };

  // Large objects (best of 2: the machine is shared).
  const largeBytes = options.largeMiB * 1024 * 1024;
  const large = randomBytes(largeBytes);
  const file = path.join(scratch, 'large.in');
  writeFileSync(file, large);
  const best = async (fn: (rep: number) => Promise<unknown>): Promise<number> => Math.min(await timed(() => fn(0)), await timed(() => fn(1)));
  mbps(`put ${options.largeMiB} MiB (Buffer)`, largeBytes, await best((r) => store.put(`bench/large/buf-${r}`, large)));
  mbps(`get ${options.largeMiB} MiB (Buffer)`, largeBytes, await best((r) => store.get(`bench/large/buf-${r}`)));
  mbps(`putFile ${options.largeMiB} MiB`, largeBytes, await best((r) => store.putFile(`bench/large/file-${r}`, file)));
  mbps(`getToFile ${options.largeMiB} MiB`, largeBytes, await best((r) => store.getToFile(`bench/large/file-${r}`, path.join(scratch, `large.out-${r}`))));
  mbps(
    `getStream ${options.largeMiB} MiB`,
    largeBytes,
    await best(async (r) => {
      for await (const _chunk of await store.getStream(`bench/large/file-${r}`)) {
        // drain
      }
    }),
  );

  // Small objects: distinct bytes per object (no dedup shortcuts).
  const n = options.smallCount;
  const small = Array.from({ length: n }, () => randomBytes(SMALL));
  let seconds = await timed(async () => {
    for (let i = 0; i < n; i++) await store.put(`bench/small/seq/${i}`, small[i]);
  });
  opsps('put 32 KiB, sequential', n, seconds);
  mbps('put 32 KiB, sequential', n * SMALL, seconds);
  seconds = await timed(async () => {
    for (let i = 0; i < n; i++) await store.get(`bench/small/seq/${i}`);
  });
  opsps('get 32 KiB, sequential', n, seconds);
  mbps('get 32 KiB, sequential', n * SMALL, seconds);
  seconds = await timed(() => pool(n, CONCURRENCY, (i) => store.put(`bench/small/par/${i}`, small[i])));
  opsps(`put 32 KiB, ${CONCURRENCY} concurrent`, n, seconds);
  mbps(`put 32 KiB, ${CONCURRENCY} concurrent`, n * SMALL, seconds);
  seconds = await timed(() => pool(n, CONCURRENCY, (i) => store.get(`bench/small/par/${i}`)));
  opsps(`get 32 KiB, ${CONCURRENCY} concurrent`, n, seconds);
  mbps(`get 32 KiB, ${CONCURRENCY} concurrent`, n * SMALL, seconds);
  seconds = await timed(async () => {
    for (let i = 0; i < n; i++) await store.stat(`bench/small/seq/${i}`);
  });
  opsps('stat, sequential', n, seconds);
  seconds = await timed(() => store.list('bench/small/seq/'));
  opsps(`list ${n} keys (per key)`, n, seconds);
  return rows;
}

export async function runStoreBench(options: StoreBenchOptions = {}): Promise<StoreBenchRow[]> {
  const settings = { largeMiB: options.largeMiB ?? 64, smallCount: options.smallCount ?? 400 };
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'synthmix-bench-store-'));
  const rows: StoreBenchRow[] = [];
  try {
    if (options.only !== 's3') {
      const store = createLocalStore(path.join(scratch, 'local'));
      rows.push(...(await benchStore('local', store, scratch, settings)));
    }
    if (options.only !== 'local') {
      const server = await startSeaweedFS({ dataDir: path.join(scratch, 'seaweed'), bucket: 'bench' });
      let store: S3Store | undefined;
      try {
        store = createS3Store({
          bucket: server.bucket,
          endpoint: server.endpoint,
          region: server.region,
          forcePathStyle: true,
          credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
        });
        rows.push(...(await benchStore('s3 (SeaweedFS)', store, scratch, settings)));
      } finally {
        store?.close();
        await server.stop();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}

export function formatRows(rows: StoreBenchRow[]): string {
  const width = Math.max(...rows.map((r) => r.case.length));
  const lines: string[] = [];
  let current = '';
  for (const row of rows) {
    if (row.store !== current) {
      current = row.store;
      lines.push(`\n${current}`);
    }
    lines.push(`  ${row.case.padEnd(width)}  ${row.value.toFixed(row.value >= 100 ? 0 : 1).padStart(8)} ${row.unit}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'large-mb': { type: 'string', default: '64' },
      small: { type: 'string', default: '400' },
      only: { type: 'string' },
    },
  });
  const only = values.only;
  if (only !== undefined && only !== 'local' && only !== 's3') throw new Error(`--only must be "local" or "s3", got "${only}"`);
  const largeMiB = Number(values['large-mb']);
  const smallCount = Number(values.small);
  if (!(largeMiB > 0) || !(smallCount > 0)) throw new Error('--large-mb and --small must be positive numbers');
  console.log(`artifact store bench: ${largeMiB} MiB large objects, ${smallCount} × 32 KiB small objects, ${os.cpus().length} CPUs`);
  const rows = await runStoreBench({ largeMiB, smallCount, only });
  console.log(formatRows(rows));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
