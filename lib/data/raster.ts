/**
 * A tiny float RGB rasteriser for the procedural demo world: filled ellipses, polygons and thick
 * lines in an object's local coordinates, placed by a similarity transform, drawn on a supersampled
 * canvas and box-filtered down (antialiasing). Pure arithmetic on typed arrays: deterministic.
 */

export type Rgb = readonly [number, number, number];

export type Primitive =
  | { readonly kind: 'ellipse'; readonly cx: number; readonly cy: number; readonly rx: number; readonly ry: number; readonly rot?: number; readonly color: Rgb }
  | { readonly kind: 'poly'; readonly pts: readonly number[]; readonly color: Rgb }
  | { readonly kind: 'line'; readonly x1: number; readonly y1: number; readonly x2: number; readonly y2: number; readonly width: number; readonly color: Rgb };

/** Local → canvas: p = (tx, ty) + scale · R(rot) · (flip ? −x : x, y). */
export interface Placement {
  readonly tx: number;
  readonly ty: number;
  readonly scale: number;
  readonly rot: number;
  readonly flip: boolean;
}

/** A square float RGB canvas (values nominally in [0, 1]). */
export class Canvas {
  readonly data: Float32Array;
  constructor(readonly size: number) {
    this.data = new Float32Array(size * size * 3);
  }

  /** Fill with a per-pixel colour function of normalised coordinates (u, v in [0, 1)). */
  fill(fn: (u: number, v: number, out: number[]) => void): void {
    const out = [0, 0, 0];
    const n = this.size;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        fn((x + 0.5) / n, (y + 0.5) / n, out);
        const i = (y * n + x) * 3;
        this.data[i] = out[0];
        this.data[i + 1] = out[1];
        this.data[i + 2] = out[2];
      }
    }
  }

  /**
   * Draw primitives in order (painter's algorithm). `shade`, if given, scales the colour by
   * (1 + shade · localY) for a simple top-lit look.
   */
  draw(prims: readonly Primitive[], place: Placement, shade = 0): void {
    const n = this.size;
    const cos = Math.cos(place.rot);
    const sin = Math.sin(place.rot);
    const inv = 1 / place.scale;
    const sx = place.flip ? -1 : 1;
    for (const prim of prims) {
      const [lx0, ly0, lx1, ly1] = localBounds(prim);
      // Canvas bounding box of the transformed local box.
      let minX = Infinity;
      let minY = Infinity;
      let maxX = -Infinity;
      let maxY = -Infinity;
      for (const [lx, ly] of [[lx0, ly0], [lx1, ly0], [lx0, ly1], [lx1, ly1]]) {
        const ux = sx * lx * place.scale;
        const uy = ly * place.scale;
        const cx = place.tx + cos * ux - sin * uy;
        const cy = place.ty + sin * ux + cos * uy;
        minX = Math.min(minX, cx);
        maxX = Math.max(maxX, cx);
        minY = Math.min(minY, cy);
        maxY = Math.max(maxY, cy);
      }
      const x0 = Math.max(0, Math.floor(minX));
      const x1 = Math.min(n - 1, Math.ceil(maxX));
      const y0 = Math.max(0, Math.floor(minY));
      const y1 = Math.min(n - 1, Math.ceil(maxY));
      const test = inside(prim);
      const [r, g, b] = prim.color;
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const dx = x + 0.5 - place.tx;
          const dy = y + 0.5 - place.ty;
          // Inverse rotation, then inverse scale and flip.
          const lx = sx * (cos * dx + sin * dy) * inv;
          const ly = (-sin * dx + cos * dy) * inv;
          if (!test(lx, ly)) continue;
          const k = shade === 0 ? 1 : Math.max(0.4, 1 - shade * ly);
          const i = (y * n + x) * 3;
          this.data[i] = r * k;
          this.data[i + 1] = g * k;
          this.data[i + 2] = b * k;
        }
      }
    }
  }

  /** Box-filter down by an integer factor. */
  downsample(factor: number): Canvas {
    if (factor === 1) return this;
    const m = Math.floor(this.size / factor);
    const out = new Canvas(m);
    const n = this.size;
    const norm = 1 / (factor * factor);
    for (let y = 0; y < m; y++) {
      for (let x = 0; x < m; x++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let dy = 0; dy < factor; dy++) {
          for (let dx = 0; dx < factor; dx++) {
            const i = ((y * factor + dy) * n + x * factor + dx) * 3;
            r += this.data[i];
            g += this.data[i + 1];
            b += this.data[i + 2];
          }
        }
        const o = (y * m + x) * 3;
        out.data[o] = r * norm;
        out.data[o + 1] = g * norm;
        out.data[o + 2] = b * norm;
      }
    }
    return out;
  }

  /** 3×3 binomial blur mixed in with weight `amount` (0 = none, 1 = full blur). Edges clamp. */
  blur(amount: number): void {
    if (amount <= 0) return;
    const n = this.size;
    const src = Float32Array.from(this.data);
    const w = [1, 2, 1];
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let j = -1; j <= 1; j++) {
            const yy = Math.min(n - 1, Math.max(0, y + j));
            for (let i = -1; i <= 1; i++) {
              const xx = Math.min(n - 1, Math.max(0, x + i));
              acc += w[j + 1] * w[i + 1] * src[(yy * n + xx) * 3 + c];
            }
          }
          const o = (y * n + x) * 3 + c;
          this.data[o] = (1 - amount) * src[o] + amount * (acc / 16);
        }
      }
    }
  }

  /** Apply a colour map to every pixel. */
  map(fn: (rgb: number[]) => void): void {
    const px = [0, 0, 0];
    for (let i = 0; i < this.data.length; i += 3) {
      px[0] = this.data[i];
      px[1] = this.data[i + 1];
      px[2] = this.data[i + 2];
      fn(px);
      this.data[i] = px[0];
      this.data[i + 1] = px[1];
      this.data[i + 2] = px[2];
    }
  }

  /** 8-bit RGB (clamped, rounded). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.data.length);
    for (let i = 0; i < this.data.length; i++) {
      const v = Math.round(this.data[i] * 255);
      out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return out;
  }
}

function localBounds(prim: Primitive): [number, number, number, number] {
  switch (prim.kind) {
    case 'ellipse': {
      const r = Math.max(prim.rx, prim.ry);
      return [prim.cx - r, prim.cy - r, prim.cx + r, prim.cy + r];
    }
    case 'poly': {
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      for (let i = 0; i < prim.pts.length; i += 2) {
        x0 = Math.min(x0, prim.pts[i]);
        x1 = Math.max(x1, prim.pts[i]);
        y0 = Math.min(y0, prim.pts[i + 1]);
        y1 = Math.max(y1, prim.pts[i + 1]);
      }
      return [x0, y0, x1, y1];
    }
    case 'line': {
      const h = prim.width / 2;
      return [Math.min(prim.x1, prim.x2) - h, Math.min(prim.y1, prim.y2) - h, Math.max(prim.x1, prim.x2) + h, Math.max(prim.y1, prim.y2) + h];
    }
  }
}

function inside(prim: Primitive): (x: number, y: number) => boolean {
  switch (prim.kind) {
    case 'ellipse': {
      const c = Math.cos(prim.rot ?? 0);
      const s = Math.sin(prim.rot ?? 0);
      const irx = 1 / prim.rx;
      const iry = 1 / prim.ry;
      return (x, y) => {
        const dx = x - prim.cx;
        const dy = y - prim.cy;
        const u = (c * dx + s * dy) * irx;
        const v = (-s * dx + c * dy) * iry;
        return u * u + v * v <= 1;
      };
    }
    case 'poly': {
      const p = prim.pts;
      const m = p.length / 2;
      return (x, y) => {
        // Even–odd rule.
        let inPoly = false;
        for (let i = 0, j = m - 1; i < m; j = i++) {
          const xi = p[2 * i];
          const yi = p[2 * i + 1];
          const xj = p[2 * j];
          const yj = p[2 * j + 1];
          if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inPoly = !inPoly;
        }
        return inPoly;
      };
    }
    case 'line': {
      const { x1, y1, x2, y2 } = prim;
      const dx = x2 - x1;
      const dy = y2 - y1;
      const len2 = dx * dx + dy * dy || 1e-12;
      const h2 = (prim.width / 2) ** 2;
      return (x, y) => {
        const t = Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / len2));
        const ex = x1 + t * dx - x;
        const ey = y1 + t * dy - y;
        return ex * ex + ey * ey <= h2;
      };
    }
  }
}

/** An axis-aligned rectangle as a polygon (centre, size), optionally rotated about its centre. */
export function rect(cx: number, cy: number, w: number, h: number, color: Rgb, rot = 0): Primitive {
  const c = Math.cos(rot);
  const s = Math.sin(rot);
  const pts: number[] = [];
  for (const [x, y] of [[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]]) {
    pts.push(cx + c * x - s * y, cy + s * x + c * y);
  }
  return { kind: 'poly', pts, color };
}

export function ellipse(cx: number, cy: number, rx: number, ry: number, color: Rgb, rot = 0): Primitive {
  return { kind: 'ellipse', cx, cy, rx, ry, rot, color };
}

export function poly(pts: readonly number[], color: Rgb): Primitive {
  return { kind: 'poly', pts, color };
}

export function line(x1: number, y1: number, x2: number, y2: number, width: number, color: Rgb): Primitive {
  return { kind: 'line', x1, y1, x2, y2, width, color };
}
