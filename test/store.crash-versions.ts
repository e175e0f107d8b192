/** The two object versions the crash test's child writes (shared by parent and child). */
export function crashVersions(): [Buffer, Buffer] {
  const make = (size: number, fill: number): Buffer => {
    const bytes = Buffer.alloc(size, fill);
    for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) & 0xff;
    return bytes;
  };
  return [make(3_000_000, 0x41), make(2_000_000, 0x42)];
}
