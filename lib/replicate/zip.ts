/**
 * A minimal, deterministic ZIP writer (stored entries, no compression: instance images are PNG/JPEG,
 * already compressed) for DreamBooth `instance_data`. Same entries ⇒ same bytes (fixed timestamps,
 * entries in the given order). No ZIP64: total size < 4 GiB, < 65535 entries.
 */
import { crc32 } from 'node:zlib';
import { BadInputError } from '../errors.js';

export interface ZipEntry {
  /** Path inside the archive, `/`-separated, relative, no `..`. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const FLAG_UTF8 = 0x0800;

export function zipStore(entries: readonly ZipEntry[]): Buffer {
  if (entries.length === 0) throw new BadInputError('zip: no entries (instance images) to pack');
  if (entries.length >= 0xffff) throw new BadInputError(`zip: too many entries (${entries.length})`);
  const seen = new Set<string>();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = entry.name;
    if (typeof name !== 'string' || name === '' || name.startsWith('/') || name.split('/').some((part) => part === '' || part === '..' || part === '.') || name.includes('\\')) {
      throw new BadInputError(`zip: bad entry name ${JSON.stringify(name)}`);
    }
    if (seen.has(name)) throw new BadInputError(`zip: duplicate entry name ${JSON.stringify(name)}`);
    seen.add(name);
    const nameBytes = Buffer.from(name, 'utf8');
    const data = Buffer.from(entry.bytes.buffer, entry.bytes.byteOffset, entry.bytes.byteLength);
    const crc = crc32(data) >>> 0;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(FLAG_UTF8, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time 00:00:00
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBytes, data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(FLAG_UTF8, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    // extra, comment, disk, internal attrs: 0
    central.writeUInt32LE(0, 38); // external attrs
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);

    offset += 30 + nameBytes.length + data.length;
    if (offset > 0xffffffff) throw new BadInputError('zip: archive larger than 4 GiB');
  }
  const centralBytes = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralBytes, end]);
}

/** True when the bytes start like a ZIP archive. */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}
