/**
 * The sample grid (paper Fig 7): rows are classes, columns `original` and each synthetic source,
 * a few images per cell. Small images are upscaled by an integer factor with nearest-neighbour so
 * 32×32 pixels stay visible; labels are drawn by resvg, images composited with sharp.
 */
import sharp from 'sharp';
import { stripPngMetadata } from '../images/png.js';
import { sourceLabel } from './data.js';
import { svgToPng } from './figures.js';
import { REPORT_FONT_FAMILY, textWidth } from './fonts.js';
import type { SampleGrid } from './types.js';

/** At most this many images per (class, column) cell are drawn. */
export const MAX_SAMPLES_PER_CELL = 6;
/** Target tile side in pixels: small images are upscaled by an integer factor towards it. */
const TARGET_TILE = 96;

const GAP = 3;
const COLUMN_GAP = 18;
const MARGIN = 12;
const HEADER = 34;
const LABEL_SIZE = 15;

export interface SampleGridResult {
  png: Buffer;
  /** Sample keys that could not be drawn (missing or undecodable), with why; drawn as a grey ×. */
  problems: string[];
  /** Images actually drawn per column and class. */
  drawn: Record<string, Record<string, number>>;
  tile: number;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Tile side for images of side `side`: integer upscale of small images, downscale of large ones. */
export function tileSide(side: number): number {
  if (!(side > 0)) return TARGET_TILE;
  if (side >= TARGET_TILE) return TARGET_TILE;
  return side * Math.max(1, Math.floor(TARGET_TILE / side));
}

/**
 * Compose the grid. `images` maps store keys to bytes; a key that is absent (or whose bytes do not
 * decode) is drawn as a placeholder and reported in `problems`, never silently skipped.
 */
export async function composeSampleGrid(
  grid: SampleGrid,
  images: ReadonlyMap<string, Buffer>,
  missingReasons: ReadonlyMap<string, string> = new Map(),
): Promise<SampleGridResult> {
  const classes = grid.classes;
  const columns = grid.columns;
  const problems: string[] = [];
  const cellKeys = (column: string, cls: string): string[] => (grid.images[column]?.[cls] ?? []).slice(0, MAX_SAMPLES_PER_CELL);
  const perCell = Math.max(1, ...columns.flatMap((col) => classes.map((cls) => cellKeys(col, cls).length)));

  // Decode once per key; the first decodable image sets the tile size.
  const decoded = new Map<string, { data: Buffer; width: number; height: number } | undefined>();
  let firstSide = 0;
  for (const col of columns) {
    for (const cls of classes) {
      for (const key of cellKeys(col, cls)) {
        if (decoded.has(key)) continue;
        const bytes = images.get(key);
        if (!bytes) {
          decoded.set(key, undefined);
          problems.push(`${col}/${cls}: ${key}: ${missingReasons.get(key) ?? 'not found'}`);
          continue;
        }
        try {
          const { data, info } = await sharp(bytes).flatten({ background: '#ffffff' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
          decoded.set(key, { data, width: info.width, height: info.height });
          if (!firstSide) firstSide = Math.max(info.width, info.height);
        } catch (error) {
          decoded.set(key, undefined);
          problems.push(`${col}/${cls}: ${key}: not a readable image (${(error as Error).message})`);
        }
      }
    }
  }
  const tile = tileSide(firstSide);

  const labelWidth = Math.ceil(Math.max(60, ...classes.map((c) => textWidth(c, LABEL_SIZE, true)))) + 16;
  const cellWidth = perCell * tile + (perCell - 1) * GAP;
  const headerWidths = columns.map((c) => textWidth(sourceLabel(c), LABEL_SIZE, true));
  const colWidth = Math.ceil(Math.max(cellWidth, ...headerWidths));
  const width = MARGIN * 2 + labelWidth + columns.length * colWidth + Math.max(0, columns.length - 1) * COLUMN_GAP;
  const rowsHeight = classes.length * tile + Math.max(0, classes.length - 1) * GAP;
  const height = MARGIN * 2 + HEADER + Math.max(rowsHeight, classes.length === 0 ? 40 : 0);

  const colX = (j: number): number => MARGIN + labelWidth + j * (colWidth + COLUMN_GAP);
  const rowY = (i: number): number => MARGIN + HEADER + i * (tile + GAP);
  const cellX0 = (j: number): number => colX(j) + Math.floor((colWidth - cellWidth) / 2);

  // Labels, placeholders and the background: one SVG rendered by resvg.
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<g font-family="${REPORT_FONT_FAMILY}" font-size="${LABEL_SIZE}" font-weight="bold" fill="#222222">`,
  ];
  columns.forEach((col, j) => {
    parts.push(`<text x="${colX(j) + colWidth / 2}" y="${MARGIN + HEADER - 12}" text-anchor="middle">${escapeXml(sourceLabel(col))}</text>`);
  });
  classes.forEach((cls, i) => {
    parts.push(`<text x="${MARGIN + labelWidth - 10}" y="${rowY(i) + tile / 2 + LABEL_SIZE * 0.35}" text-anchor="end">${escapeXml(cls)}</text>`);
  });
  if (classes.length === 0 || columns.length === 0) {
    parts.push(`<text x="${MARGIN}" y="${MARGIN + HEADER + 20}" font-weight="normal">no sample images in this sweep</text>`);
  }
  parts.push('</g>');
  // Placeholders for keys that could not be drawn; an empty cell gets a dashed outline.
  columns.forEach((col, j) => {
    classes.forEach((cls, i) => {
      const keys = cellKeys(col, cls);
      if (keys.length === 0) {
        parts.push(
          `<rect x="${cellX0(j) + 0.5}" y="${rowY(i) + 0.5}" width="${cellWidth - 1}" height="${tile - 1}" fill="none" stroke="#bbbbbb" stroke-dasharray="4 3"/>`,
        );
      }
      keys.forEach((key, k) => {
        if (decoded.get(key)) return;
        const x = cellX0(j) + k * (tile + GAP);
        const y = rowY(i);
        parts.push(
          `<rect x="${x}" y="${y}" width="${tile}" height="${tile}" fill="#eeeeee"/>`,
          `<path d="M${x + tile * 0.3} ${y + tile * 0.3}L${x + tile * 0.7} ${y + tile * 0.7}M${x + tile * 0.7} ${y + tile * 0.3}L${x + tile * 0.3} ${y + tile * 0.7}" stroke="#cc3333" stroke-width="3"/>`,
        );
      });
    });
  });
  parts.push('</svg>');
  const base = svgToPng(parts.join('\n'), 1);

  const drawn: Record<string, Record<string, number>> = {};
  const overlays: Parameters<ReturnType<typeof sharp>['composite']>[0] = [];
  for (const [j, col] of columns.entries()) {
    drawn[col] = {};
    for (const [i, cls] of classes.entries()) {
      let count = 0;
      for (const [k, key] of cellKeys(col, cls).entries()) {
        const image = decoded.get(key);
        if (!image) continue;
        const upscale = Math.max(image.width, image.height) < tile;
        const tileBytes = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
          .resize(tile, tile, { fit: 'contain', background: '#ffffff', kernel: upscale ? 'nearest' : 'lanczos3' })
          .png()
          .toBuffer();
        overlays.push({ input: tileBytes, left: cellX0(j) + k * (tile + GAP), top: rowY(i) });
        count++;
      }
      drawn[col][cls] = count;
    }
  }
  const png = await sharp(base).composite(overlays).removeAlpha().png({ compressionLevel: 9, adaptiveFiltering: false, palette: false }).toBuffer();
  return { png: stripPngMetadata(png), problems, drawn, tile };
}
