/**
 * Decode, validate and normalise one image for a dataset.
 *
 * Policy (what every curated image is):
 * - content must be PNG, JPEG or WebP by magic number (the file name does not count); other image
 *   formats (GIF, TIFF, SVG, HEIF...) are rejected as `unsupported-format`, non-images as `not-an-image`;
 * - EXIF orientation is applied, then the image becomes 8-bit sRGB with 3 channels:
 *   alpha is FLATTENED onto a background (black by default, `alphaBackground: 'white'` to change);
 *   grey, grey+alpha, palette, CMYK and 16-bit images are CONVERTED to 8-bit sRGB
 *   (`colour: 'rgb-only'` rejects them as `unsupported-mode` instead); animated (multi-frame)
 *   images are always rejected as `unsupported-mode`;
 * - resized to imageSize × imageSize with Lanczos-3: `center-crop` (cover: fill the square, crop the
 *   overflow around the centre) or `letterbox` (contain: fit inside, pad with black);
 * - encoded as a metadata-free PNG with fixed settings (see png.ts): same input => same bytes.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { sha256Hex } from '../hash.js';
import { ACCEPTED_FORMATS, type AcceptedFormat, sniffFormat, truncationProblem } from './format.js';
import { encodePngRgb } from './png.js';

export type ResizePolicy = 'center-crop' | 'letterbox';
export type AlphaBackground = 'black' | 'white';
export type ColourPolicy = 'convert' | 'rgb-only';

export const RESIZE_POLICIES: readonly ResizePolicy[] = ['center-crop', 'letterbox'];

export interface NormalizeOptions {
  /** Output side in pixels (square). */
  readonly imageSize: number;
  /** Default `center-crop`. */
  readonly resize?: ResizePolicy;
  /** What transparent pixels become. Default `black`. */
  readonly alphaBackground?: AlphaBackground;
  /** Default `convert`. */
  readonly colour?: ColourPolicy;
  /** Reject inputs with more pixels than this (decompression bombs). Default 50 megapixels. */
  readonly maxInputPixels?: number;
  /** Also reject images libvips decodes only with warnings (e.g. corrupt JPEG data). Default false. */
  readonly strict?: boolean;
}

/** Why an image was rejected. */
export type ImageRejectReason =
  | 'zero-size'
  | 'not-an-image'
  | 'unsupported-format'
  | 'truncated'
  | 'corrupt'
  | 'unsupported-mode'
  | 'too-large';

export interface ImageInfo {
  readonly format: AcceptedFormat;
  readonly width: number;
  readonly height: number;
  /** libvips interpretation, e.g. `srgb`, `b-w`, `cmyk`, `rgb16`. */
  readonly space: string;
  readonly channels: number;
  readonly hasAlpha: boolean;
  readonly isPalette: boolean;
}

export type NormalizeResult =
  | {
      readonly ok: true;
      readonly png: Buffer;
      /** sha256 of `png`. */
      readonly sha256: string;
      readonly width: number;
      readonly height: number;
      readonly original: ImageInfo;
    }
  | { readonly ok: false; readonly reason: ImageRejectReason; readonly detail: string };

export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000;

/** Validate the options (throws RangeError naming the field). */
export function checkNormalizeOptions(options: NormalizeOptions): Required<NormalizeOptions> {
  const { imageSize } = options;
  if (!Number.isInteger(imageSize) || imageSize < 1 || imageSize > 4096) {
    throw new RangeError(`imageSize must be an integer in [1, 4096], got ${String(imageSize)}`);
  }
  const resize = options.resize ?? 'center-crop';
  if (!RESIZE_POLICIES.includes(resize)) throw new RangeError(`resize must be one of ${RESIZE_POLICIES.join(', ')}, got ${String(resize)}`);
  const alphaBackground = options.alphaBackground ?? 'black';
  if (alphaBackground !== 'black' && alphaBackground !== 'white') throw new RangeError(`alphaBackground must be black or white, got ${String(alphaBackground)}`);
  const colour = options.colour ?? 'convert';
  if (colour !== 'convert' && colour !== 'rgb-only') throw new RangeError(`colour must be convert or rgb-only, got ${String(colour)}`);
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  if (!Number.isInteger(maxInputPixels) || maxInputPixels < 1) throw new RangeError(`maxInputPixels must be a positive integer, got ${String(maxInputPixels)}`);
  return { imageSize, resize, alphaBackground, colour, maxInputPixels, strict: options.strict ?? false };
}

function reject(reason: ImageRejectReason, detail: string): NormalizeResult {
  return { ok: false, reason, detail };
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
}

/** Map a libvips/sharp error to a reason. */
function classify(error: unknown): { reason: ImageRejectReason; detail: string } {
  const text = message(error);
  if (/pixel limit/i.test(text)) return { reason: 'too-large', detail: text };
  if (/premature end|truncat|unexpected end/i.test(text)) return { reason: 'truncated', detail: text };
  if (/unsupported image format/i.test(text)) return { reason: 'not-an-image', detail: text };
  return { reason: 'corrupt', detail: text };
}

/** Decode, check and normalise `bytes`; never throws for bad image data (returns the reason). */
export async function normalizeImage(bytes: Buffer | Uint8Array, options: NormalizeOptions): Promise<NormalizeResult> {
  const opts = checkNormalizeOptions(options);
  if (bytes.length === 0) return reject('zero-size', 'file is empty (0 bytes)');

  const sniffed = sniffFormat(bytes);
  if (sniffed === 'unknown') return reject('not-an-image', `content is not a PNG, JPEG or WebP image (no known magic number; ${bytes.length} bytes)`);
  if (!(ACCEPTED_FORMATS as readonly string[]).includes(sniffed)) {
    return reject('unsupported-format', `content is ${sniffed.toUpperCase()}; accepted: PNG, JPEG, WebP`);
  }
  const format = sniffed as AcceptedFormat;
  const cut = truncationProblem(bytes, format);
  if (cut) return reject('truncated', cut);

  const failOn = opts.strict ? 'warning' : 'error';
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn, limitInputPixels: opts.maxInputPixels }).metadata();
  } catch (error) {
    const { reason, detail } = classify(error);
    return reject(reason, detail);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width < 1 || height < 1) return reject('zero-size', `image has zero size (${width}x${height})`);
  if (width * height > opts.maxInputPixels) {
    return reject('too-large', `${width}x${height} = ${width * height} pixels exceeds the limit of ${opts.maxInputPixels}`);
  }
  const original: ImageInfo = {
    format,
    width,
    height,
    space: meta.space ?? 'unknown',
    channels: meta.channels ?? 0,
    hasAlpha: meta.hasAlpha ?? false,
    isPalette: meta.isPalette ?? false,
  };
  const pages = meta.pages ?? 1;
  if (pages > 1) return reject('unsupported-mode', `animated/multi-frame ${format.toUpperCase()} with ${pages} frames`);
  if (opts.colour === 'rgb-only') {
    const isRgb8 = original.space === 'srgb' && (original.channels === 3 || original.channels === 4) && meta.depth === 'uchar' && !original.isPalette;
    if (!isRgb8) {
      const mode = original.isPalette ? 'palette' : `${original.space}, ${original.channels} channel(s), ${meta.depth ?? '?'}`;
      return reject('unsupported-mode', `colour mode ${mode} is not 8-bit RGB (colour policy rgb-only)`);
    }
  }

  const background = opts.alphaBackground === 'white' ? { r: 255, g: 255, b: 255 } : { r: 0, g: 0, b: 0 };
  let data: Buffer;
  let info: OutputInfo;
  try {
    ({ data, info } = await sharp(bytes, { failOn, limitInputPixels: opts.maxInputPixels, pages: 1 })
      .autoOrient()
      .flatten({ background })
      .toColourspace('srgb')
      .resize(opts.imageSize, opts.imageSize, {
        fit: opts.resize === 'letterbox' ? 'contain' : 'cover',
        position: 'centre',
        background: { r: 0, g: 0, b: 0, alpha: 1 },
        kernel: 'lanczos3',
      })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (error) {
    const { reason, detail } = classify(error);
    return reject(reason, detail);
  }
  if (info.channels !== 3 || info.width !== opts.imageSize || info.height !== opts.imageSize) {
    return reject('unsupported-mode', `could not convert ${original.space} (${original.channels} channels) to ${opts.imageSize}x${opts.imageSize} RGB (got ${info.width}x${info.height}x${info.channels})`);
  }
  const png = await encodePngRgb({ data, width: info.width, height: info.height });
  return { ok: true, png, sha256: sha256Hex(png), width: info.width, height: info.height, original };
}
