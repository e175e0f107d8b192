import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeToRgb, encodePngRgb, normalizeImage, sniffFormat } from '../lib/images/index.js';
import { createRng } from '../lib/random.js';

function noise(width: number, height: number, channels: 1 | 3 | 4, seed: number): Buffer {
  const rng = createRng(seed);
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return data;
}

async function png(width: number, height: number, seed = 1): Promise<Buffer> {
  return sharp(noise(width, height, 3, seed), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

describe('normalizeImage', () => {
  it('normalises PNG, JPEG and WebP to size×size RGB PNG, deterministically', async () => {
    const raw = noise(40, 30, 3, 2);
    const inputs = {
      png: await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).png().toBuffer(),
      jpeg: await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).jpeg().toBuffer(),
      webp: await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).webp().toBuffer(),
    };
    for (const [format, bytes] of Object.entries(inputs)) {
      const a = await normalizeImage(bytes, { imageSize: 16 });
      const b = await normalizeImage(bytes, { imageSize: 16 });
      if (!a.ok || !b.ok) throw new Error(`${format} rejected`);
      expect(a.png.equals(b.png)).toBe(true);
      expect(a.original.format).toBe(format);
      expect([a.width, a.height]).toEqual([16, 16]);
      const meta = await sharp(a.png).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels, meta.hasAlpha]).toEqual(['png', 16, 16, 3, false]);
      // No ancillary chunks: only IHDR, IDAT..., IEND.
      const chunks: string[] = [];
      for (let off = 8; off < a.png.length; off += 12 + a.png.readUInt32BE(off)) chunks.push(a.png.toString('latin1', off + 4, off + 8));
      expect(new Set(chunks)).toEqual(new Set(['IHDR', 'IDAT', 'IEND']));
    }
  });

  it('center-crop fills the square; letterbox pads with black', async () => {
    // 40×20 white image.
    const wide = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer();
    const crop = await normalizeImage(wide, { imageSize: 10, resize: 'center-crop' });
    const box = await normalizeImage(wide, { imageSize: 10, resize: 'letterbox' });
    if (!crop.ok || !box.ok) throw new Error('rejected');
    const c = await decodeToRgb(crop.png);
    const l = await decodeToRgb(box.png);
    expect(Math.min(...c.data)).toBeGreaterThan(250);
    // Letterbox: rows 0-1 and 8-9 black, the middle white.
    expect(l.data[0]).toBe(0);
    expect(l.data[(9 * 10 + 5) * 3]).toBe(0);
    expect(l.data[(5 * 10 + 5) * 3]).toBeGreaterThan(250);
  });

  it('flattens alpha on black by default, on white when asked; converts grey, palette, CMYK, 16-bit', async () => {
    const transparent = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const onBlack = await normalizeImage(transparent, { imageSize: 8 });
    const onWhite = await normalizeImage(transparent, { imageSize: 8, alphaBackground: 'white' });
    if (!onBlack.ok || !onWhite.ok) throw new Error('rejected');
    expect([...(await decodeToRgb(onBlack.png)).data.subarray(0, 3)]).toEqual([0, 0, 0]);
    expect([...(await decodeToRgb(onWhite.png)).data.subarray(0, 3)]).toEqual([255, 255, 255]);

    const base = sharp(noise(12, 12, 3, 3), { raw: { width: 12, height: 12, channels: 3 } });
    const variants = {
      grey: await base.clone().toColourspace('b-w').png().toBuffer(),
      palette: await base.clone().png({ palette: true, colours: 16 }).toBuffer(),
      cmyk: await base.clone().toColourspace('cmyk').jpeg().toBuffer(),
      rgb16: await base.clone().toColourspace('rgb16').png().toBuffer(),
    };
    for (const [name, bytes] of Object.entries(variants)) {
      const converted = await normalizeImage(bytes, { imageSize: 8 });
      expect(converted.ok, name).toBe(true);
      if (converted.ok) expect((await sharp(converted.png).metadata()).channels).toBe(3);
      const strict = await normalizeImage(bytes, { imageSize: 8, colour: 'rgb-only' });
      expect(strict.ok ? 'ok' : strict.reason, name).toBe('unsupported-mode');
    }
  });

  it('names the reason for bad input', async () => {
    const good = await png(64, 64);
    const jpg = await sharp(noise(64, 64, 3, 4), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const webp = await sharp(noise(64, 64, 3, 4), { raw: { width: 64, height: 64, channels: 3 } }).webp().toBuffer();
    const gif = await sharp(noise(8, 8, 3, 5), { raw: { width: 8, height: 8, channels: 3 } }).gif().toBuffer();
    const corrupt = Buffer.from(good);
    for (let i = 60; i < 400; i += 5) corrupt[i] ^= 0x5a; // inside the first IDAT chunk
    const twoFrameGif = await sharp(noise(8, 16, 4, 6), { raw: { width: 8, height: 16, channels: 4, pageHeight: 8 } }).gif().toBuffer();
    const animated = await sharp(twoFrameGif, { animated: true }).webp().toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(2);
    const cases: Array<[string, Buffer, string]> = [
      ['empty', Buffer.alloc(0), 'zero-size'],
      ['text', Buffer.from('this is a text file, not an image\n'), 'not-an-image'],
      ['gif', gif, 'unsupported-format'],
      ['png half', good.subarray(0, good.length >> 1), 'truncated'],
      ['jpeg half', jpg.subarray(0, jpg.length >> 1), 'truncated'],
      ['webp half', webp.subarray(0, webp.length >> 1), 'truncated'],
      ['png header only', good.subarray(0, 20), 'truncated'],
      ['png corrupt', corrupt, 'corrupt'],
    ];
    for (const [name, bytes, reason] of cases) {
      const result = await normalizeImage(bytes, { imageSize: 8 });
      expect(result.ok ? 'ok' : result.reason, name).toBe(reason);
      if (!result.ok) expect(result.detail.length).toBeGreaterThan(0);
    }
    const result = await normalizeImage(animated, { imageSize: 8 });
    expect(result.ok ? 'ok' : result.reason).toBe('unsupported-mode');
  });

  it('sniffs formats by content, not name; encodePngRgb is deterministic', async () => {
    expect(sniffFormat(await png(4, 4))).toBe('png');
    expect(sniffFormat(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe('svg');
    expect(sniffFormat(Buffer.from('GIF89a....'))).toBe('gif');
    const image = { data: new Uint8Array(noise(5, 7, 3, 8)), width: 5, height: 7 };
    const a = await encodePngRgb(image);
    const b = await encodePngRgb(image);
    expect(a.equals(b)).toBe(true);
    const back = await decodeToRgb(a);
    expect(Buffer.from(back.data).equals(Buffer.from(image.data))).toBe(true);
    await expect(encodePngRgb({ data: new Uint8Array(3), width: 2, height: 2 })).rejects.toThrow(RangeError);
  });
});
