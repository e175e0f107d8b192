/**
 * `synthmix export --format tensorboard`: one TensorBoard run per cell, as the event files its UI
 * reads (`tensorboard --logdir DIR`). The run's folder names its tags —
 * `<source or arm>/p<p>/<mode>/s<seed>` — so TensorBoard's run filter selects by any of them; its
 * scalars are the per-epoch curves (step = epoch) and `final/*` at the last epoch.
 *
 * Written here rather than with the `tensorboard` package: an event file is a TFRecord of `Event`
 * protobufs with three fields used, which needs no Python process in the CLI; the `tensorboard`
 * package is the test's oracle (its EventAccumulator reads every scalar back).
 *
 * Deterministic: every event carries the sweep's finish time as wall time, so the same record
 * exports the same bytes.
 */
import { CURVES, FINAL_METRICS, type ExportFiles, type ExportRun } from './export-runs.js';

/** CRC-32C (Castagnoli), the checksum of TFRecord framing. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC (a CRC of data that itself holds CRCs is weak, so TensorFlow rotates it). */
function maskedCrc(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length (u64 LE), masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(data.length));
  const crcs = Buffer.alloc(8);
  crcs.writeUInt32LE(maskedCrc(length), 0);
  crcs.writeUInt32LE(maskedCrc(data), 4);
  return Buffer.concat([length, crcs.subarray(0, 4), data, crcs.subarray(4)]);
}

// ── protobuf, the few wire forms an Event needs ──────────────────────────────────────────────
function varint(value: number): Buffer {
  const out: number[] = [];
  let v = BigInt(value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const bytesField = (field: number, value: Uint8Array) => Buffer.concat([key(field, 2), varint(value.length), value]);
function doubleField(field: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return Buffer.concat([key(field, 1), b]);
}
function floatField(field: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  return Buffer.concat([key(field, 5), b]);
}

/** `Event { wall_time = 1; step = 2; file_version = 3 | summary = 5 }` (tensorflow/core/util/event.proto). */
function event(wallTime: number, step: number, body: { fileVersion: string } | { scalars: Array<[string, number]> }): Buffer {
  const parts = [doubleField(1, wallTime), Buffer.concat([key(2, 0), varint(step)])];
  if ('fileVersion' in body) parts.push(bytesField(3, Buffer.from(body.fileVersion, 'utf8')));
  else {
    // Summary { repeated Value value = 1 }, Value { string tag = 1; float simple_value = 2 }.
    const values = body.scalars.map(([tag, value]) => bytesField(1, Buffer.concat([bytesField(1, Buffer.from(tag, 'utf8')), floatField(2, value)])));
    parts.push(bytesField(5, Buffer.concat(values)));
  }
  return Buffer.concat(parts);
}

/** A run's folder under the export: its tags as path segments. */
export function tensorboardRunPath(run: ExportRun): string {
  const { arm, source, p, mode, seed } = run.tags;
  return [arm === 'mixed' ? source : arm, `p${p}`, mode, `s${seed}`].join('/');
}

/** The event file of one run: the file version, then one event per epoch, then the final metrics. */
export function tensorboardEvents(run: ExportRun, wallTime: number): Buffer {
  const records = [tfRecord(event(wallTime, 0, { fileVersion: 'brain.Event:2' }))];
  for (const e of run.epochs) records.push(tfRecord(event(wallTime, e.epoch, { scalars: CURVES.map((c) => [c, e.values[c]]) })));
  const lastEpoch = run.epochs.at(-1)?.epoch ?? 0;
  const final = FINAL_METRICS.filter((m) => run.final[m] !== undefined).map((m): [string, number] => [`final/${m}`, run.final[m] as number]);
  if (final.length > 0) records.push(tfRecord(event(wallTime, lastEpoch, { scalars: final })));
  return Buffer.concat(records);
}

/** The files of a TensorBoard export, by path: one event file per run. */
export function tensorboardExport(runs: readonly ExportRun[], finishedAt: string): ExportFiles {
  const parsed = Date.parse(finishedAt) / 1000;
  const wallTime = Number.isFinite(parsed) ? parsed : 0;
  const files = new Map<string, Buffer>();
  for (const run of runs) files.set(`${tensorboardRunPath(run)}/events.out.tfevents.${Math.floor(wallTime)}.synthmix`, tensorboardEvents(run, wallTime));
  return { files, folders: [] };
}
