/** Minimal .npy (NumPy format v1/v2) reading and writing for float32 matrices. */

export interface Float32Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export function parseNpyFloat32(bytes: Buffer, where: string): Float32Matrix {
  if (!bytes.subarray(0, 6).equals(MAGIC)) throw new Error(`${where}: not a .npy file`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.subarray(headerStart, headerStart + headerLength).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${where}: expected little-endian float32, header ${header.trim()}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${where}: Fortran order is not supported`);
  const shape = /'shape':\s*\((\d+),\s*(\d*)\)/.exec(header);
  if (!shape) throw new Error(`${where}: expected a 2-d shape, header ${header.trim()}`);
  const rows = Number(shape[1]);
  const cols = Number(shape[2] || 1);
  const offset = headerStart + headerLength;
  const copy = Buffer.from(bytes.subarray(offset, offset + rows * cols * 4));
  return { rows, cols, data: new Float32Array(copy.buffer, copy.byteOffset, rows * cols) };
}

export function encodeNpyFloat32(matrix: Float32Matrix): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${matrix.rows}, ${matrix.cols}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  MAGIC.copy(prefix, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = Buffer.from(matrix.data.buffer, matrix.data.byteOffset, matrix.rows * matrix.cols * 4);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

export function matrixRow(matrix: Float32Matrix, row: number): Float32Matrix {
  return { rows: 1, cols: matrix.cols, data: matrix.data.slice(row * matrix.cols, (row + 1) * matrix.cols) };
}
