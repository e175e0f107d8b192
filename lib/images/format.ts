/**
 * Container-level checks that run before any decoder: what format the bytes really are (by magic
 * number, never by file name) and whether the container ends where it says it ends (truncation).
 * libvips reports a PNG cut in half and a PNG with flipped bits with the same message, so the
 * structural check is what lets the curation report say "truncated" precisely.
 */

/** Formats synthmix decodes. Anything else is rejected before it reaches a decoder. */
export type AcceptedFormat = 'png' | 'jpeg' | 'webp';

/** What the first bytes say the file is. */
export type SniffedFormat = AcceptedFormat | 'gif' | 'tiff' | 'bmp' | 'heif' | 'avif' | 'jxl' | 'jp2' | 'svg' | 'pdf' | 'ico' | 'psd' | 'unknown';

export const ACCEPTED_FORMATS: readonly AcceptedFormat[] = ['png', 'jpeg', 'webp'];

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function startsWith(bytes: Uint8Array, prefix: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[offset + i] !== prefix[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1', Math.min(start, bytes.length), Math.min(end, bytes.length));
}

/** Identify an image format from its magic number. */
export function sniffFormat(bytes: Uint8Array): SniffedFormat {
  if (startsWith(bytes, [...PNG_SIGNATURE])) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  if (ascii(bytes, 0, 4) === 'GIF8') return 'gif';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 26) return 'bmp';
  if (ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (/^(heic|heix|hevc|hevx|heim|heis|mif1|msf1)$/.test(brand)) return 'heif';
  }
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) return 'jxl';
  if (startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return 'jp2';
  if (ascii(bytes, 0, 5) === '%PDF-') return 'pdf';
  if (ascii(bytes, 0, 4) === '8BPS') return 'psd';
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00]) && bytes.length > 6) return 'ico';
  const head = ascii(bytes, 0, 512).replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  return 'unknown';
}

/** Why the container is structurally incomplete, or undefined when it is whole. */
export function truncationProblem(bytes: Uint8Array, format: AcceptedFormat): string | undefined {
  switch (format) {
    case 'png':
      return pngTruncation(bytes);
    case 'jpeg':
      return jpegTruncation(bytes);
    case 'webp':
      return webpTruncation(bytes);
  }
}

function readU32BE(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

function pngTruncation(bytes: Uint8Array): string | undefined {
  let offset = PNG_SIGNATURE.length;
  let chunks = 0;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) return `PNG chunk header cut off at byte ${offset} of ${bytes.length}`;
    const length = readU32BE(bytes, offset);
    const type = ascii(bytes, offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > bytes.length) return `PNG chunk ${JSON.stringify(type)} needs ${length} bytes at ${offset}, file ends at ${bytes.length}`;
    chunks++;
    if (type === 'IEND') return undefined;
    offset = end;
  }
  return chunks === 0 ? 'PNG has a signature but no chunks' : `PNG ends after ${chunks} chunks without an IEND chunk`;
}

function jpegTruncation(bytes: Uint8Array): string | undefined {
  // Walk the marker segments up to the first SOS (skipping APPn payloads, which may hold a
  // thumbnail with its own EOI), then look for EOI in the entropy-coded data (where a literal
  // 0xFF is always stuffed as FF 00, so FF D9 can only be the real EOI).
  let offset = 2;
  for (;;) {
    while (offset < bytes.length && bytes[offset] === 0xff && bytes[offset + 1] === 0xff) offset++; // fill bytes
    if (offset + 4 > bytes.length) return `JPEG header cut off at byte ${offset} of ${bytes.length}`;
    if (bytes[offset] !== 0xff) return undefined; // not a marker: let the decoder judge the corruption
    const marker = bytes[offset + 1];
    if (marker === 0xd9) return undefined; // EOI before any scan: the decoder will complain
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    const end = offset + 2 + length;
    if (end > bytes.length) return `JPEG segment 0xFF${marker.toString(16).toUpperCase()} needs ${length} bytes at ${offset}, file ends at ${bytes.length}`;
    offset = end;
    if (marker === 0xda) break; // SOS: entropy-coded data follows
  }
  for (let i = offset; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return undefined;
  }
  return `JPEG ends at byte ${bytes.length} without an end-of-image marker`;
}

function webpTruncation(bytes: Uint8Array): string | undefined {
  if (bytes.length < 12) return `WebP header cut off at ${bytes.length} bytes`;
  const riffSize = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0;
  if (riffSize + 8 > bytes.length) return `WebP RIFF container declares ${riffSize + 8} bytes, file has ${bytes.length}`;
  return undefined;
}
