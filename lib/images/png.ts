/**
 * Deterministic PNG encoding of 8-bit RGB pixels: fixed zlib level and filter, no palette, and every
 * ancillary chunk stripped (sharp writes pHYs), so the file holds only IHDR, IDAT and IEND.
 * Same pixels + same sharp/libvips build => same bytes. The libvips version is part of
 * IMAGE_CODE_VERSION so memoized artifacts are recomputed when it changes.
 */
import sharp from 'sharp';

/** Bump when anything that changes normalised bytes changes; includes the libvips/sharp versions. */
export const IMAGE_CODE_VERSION = `images-v1/sharp-${sharp.versions.sharp}/vips-${sharp.versions.vips}`;

export interface RgbImage {
  /** Row-major RGB, 3 bytes per pixel, no padding. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

const CRITICAL_CHUNKS = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND']);

/** Remove every ancillary chunk (pHYs, tEXt, tIME, iCCP...) from a PNG. */
export function stripPngMetadata(png: Buffer): Buffer {
  const parts: Buffer[] = [png.subarray(0, 8)];
  let offset = 8;
  while (offset + 12 <= png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (CRITICAL_CHUNKS.has(type)) parts.push(png.subarray(offset, end));
    offset = end;
    if (type === 'IEND') break;
  }
  return Buffer.concat(parts);
}

/** Encode RGB pixels as a metadata-free PNG with fixed settings. */
export async function encodePngRgb(image: RgbImage): Promise<Buffer> {
  const { data, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePngRgb: bad size ${width}x${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new RangeError(`encodePngRgb: ${data.length} bytes for ${width}x${height} RGB (expected ${width * height * 3})`);
  }
  const png = await sharp(data, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false, progressive: false, force: true })
    .toBuffer();
  return stripPngMetadata(png);
}

/** Decode any image sharp reads to 8-bit sRGB pixels (alpha flattened on black). */
export async function decodeToRgb(bytes: Buffer | Uint8Array): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decodeToRgb: expected 3 channels, got ${info.channels}`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
