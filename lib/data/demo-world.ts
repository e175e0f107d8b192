// Over 400 lines: one self-contained procedural renderer (ten classes × two styles) whose parts only make sense together.
/**
 * The embedded demo world: a deterministic, procedurally drawn image dataset with the CIFAR-10
 * class names (all ten, or a preset's subset), in two domains that share the classes but differ in style:
 *
 * - `prior` plays the internet images Stable Diffusion / ImageNet were trained on: vivid flat
 *   colours, clean (flat, lightly graded) contextual backgrounds, large centred objects, small poses;
 * - `target` plays the paper's curated dataset and its test set: a muted, warm palette, low-contrast
 *   textured backgrounds (value noise), distractor shapes, top-lit shading, smaller off-centre
 *   objects in freer poses (sometimes cut by the border), blur and pixel noise.
 *
 * Each class is a family of shapes (airplane: swept-wing cross; ship: hull + mast + sail/funnel;
 * truck: cargo box + cab + three wheels; ...) with intra-class variation (part proportions, pose,
 * scale, position, flip, colour). Classes are learnable but not trivial: cat/dog share colours and a
 * face layout, deer/horse share body plan, colours and fields, automobile/truck share roads and
 * wheels, airplane/bird share the sky, and 20–30% of backgrounds come from another class's context.
 *
 * Layout written by `writeDemoWorld(outDir, {preset, seed})`:
 *   <outDir>/prior/<class>/<nnnn>.png           prior domain (no split)
 *   <outDir>/target/train/<class>/<nnnn>.png    target domain, the "original" dataset
 *   <outDir>/target/test/<class>/<nnnn>.png     target domain, the test set
 *   <outDir>/world.json                         preset, seed, sizes, counts, code version (written last)
 * Same seed (and preset, size) => identical bytes; each image has its own seeded stream, so an
 * image does not depend on how many others are drawn.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { hashJson, stableStringify } from '../hash.js';
import { encodePngRgb, IMAGE_CODE_VERSION, type RgbImage } from '../images/png.js';
import { createRng, deriveSeed, type Rng } from '../random.js';
import { mapLimit } from '../concurrency.js';
import { writeFileAtomic } from '../temp-files.js';
import { Canvas, ellipse, line, poly, rect, type Primitive, type Rgb } from './raster.js';

export const DEMO_WORLD_VERSION = 'demo-world-v1';

export const DEMO_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;
export type DemoClass = (typeof DEMO_CLASSES)[number];

export type DemoDomain = 'prior' | 'target';
export type DemoSplit = 'train' | 'test';

export type DemoPreset = 'tiny' | 'demo' | 'paper';

export interface DemoPresetSizes {
  /** Prior-domain images per class. */
  readonly prior: number;
  /** Target-domain train ("original") images per class. */
  readonly train: number;
  /** Target-domain test images per class. */
  readonly test: number;
}

export const DEMO_PRESETS: Readonly<Record<DemoPreset, DemoPresetSizes>> = Object.freeze({
  /** For tests: seconds. */
  tiny: { prior: 40, train: 24, test: 12 },
  /** `npm run demo`: the whole graph in minutes on 2 cores. */
  demo: { prior: 100, train: 60, test: 40 },
  /** The paper's sizes: 700 original + 300 test per class; prior 1000 per class. */
  paper: { prior: 1000, train: 700, test: 300 },
});

/**
 * The classes each preset draws. The tiny world (CI) has four classes that a few-epoch classifier
 * tells apart well above chance on any CPU — with ten classes of 12 images its test accuracy sat at
 * chance, and whether a cell landed a hair above it depended on the CPU's float kernels. Fewer
 * classes also mean fewer per-class fine-tunes and generations.
 */
export const DEMO_PRESET_CLASSES: Readonly<Record<DemoPreset, readonly DemoClass[]>> = Object.freeze({
  tiny: ['airplane', 'cat', 'frog', 'ship'],
  demo: DEMO_CLASSES,
  paper: DEMO_CLASSES,
});

export interface DemoWorldOptions {
  readonly preset: DemoPreset;
  readonly seed: number;
  /** Side in pixels (default 32). */
  readonly imageSize?: number;
  /** Files encoded/written at once (default 8). */
  readonly concurrency?: number;
}

export interface DemoWorldInfo {
  readonly version: string;
  readonly preset: DemoPreset;
  readonly seed: number;
  readonly imageSize: number;
  readonly classes: readonly string[];
  readonly sizes: DemoPresetSizes;
  /** Absolute paths of the three dataset roots. */
  readonly roots: { readonly prior: string; readonly train: string; readonly test: string };
  /** Hash of (version, preset, seed, size, image code version): identical worlds have equal ids. */
  readonly id: string;
  /** True when a complete world with the same id was already there. */
  readonly reused: boolean;
}

// ---------------------------------------------------------------------------------------------
// Colours

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

function jitter(rng: Rng, c: Rgb, amount: number): Rgb {
  const k = 1 + rng.range(-amount, amount);
  return [clamp01(c[0] * k + rng.range(-amount, amount) * 0.5), clamp01(c[1] * k + rng.range(-amount, amount) * 0.5), clamp01(c[2] * k + rng.range(-amount, amount) * 0.5)];
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function darker(c: Rgb, k: number): Rgb {
  return [c[0] * k, c[1] * k, c[2] * k];
}

const C = {
  white: [0.95, 0.95, 0.95],
  silver: [0.75, 0.77, 0.8],
  grey: [0.5, 0.5, 0.52],
  dark: [0.15, 0.15, 0.17],
  black: [0.05, 0.05, 0.06],
  red: [0.85, 0.12, 0.1],
  blue: [0.12, 0.3, 0.85],
  yellow: [0.95, 0.8, 0.1],
  orange: [0.95, 0.55, 0.15],
  brown: [0.5, 0.3, 0.15],
  tan: [0.75, 0.58, 0.38],
  cream: [0.93, 0.86, 0.7],
  green: [0.2, 0.65, 0.2],
  olive: [0.45, 0.5, 0.15],
  pink: [0.95, 0.6, 0.65],
  navy: [0.1, 0.15, 0.4],
  teal: [0.1, 0.55, 0.55],
} satisfies Record<string, Rgb>;

// ---------------------------------------------------------------------------------------------
// Backgrounds (contexts)

type Context = 'sky' | 'field' | 'water' | 'road' | 'indoor' | 'pond';
const CONTEXTS: readonly Context[] = ['sky', 'field', 'water', 'road', 'indoor', 'pond'];

const CLASS_CONTEXTS: Record<DemoClass, ReadonlyArray<readonly [Context, number]>> = {
  airplane: [['sky', 0.85], ['water', 0.15]],
  automobile: [['road', 0.85], ['field', 0.15]],
  bird: [['sky', 0.55], ['field', 0.3], ['pond', 0.15]],
  cat: [['indoor', 0.65], ['field', 0.25], ['road', 0.1]],
  deer: [['field', 0.85], ['pond', 0.15]],
  dog: [['indoor', 0.45], ['field', 0.45], ['road', 0.1]],
  frog: [['pond', 0.65], ['field', 0.35]],
  horse: [['field', 0.9], ['road', 0.1]],
  ship: [['water', 0.9], ['sky', 0.1]],
  truck: [['road', 0.85], ['field', 0.15]],
};

function pickWeighted<T>(rng: Rng, options: ReadonlyArray<readonly [T, number]>): T {
  const total = options.reduce((s, [, w]) => s + w, 0);
  let x = rng.nextFloat() * total;
  for (const [v, w] of options) {
    x -= w;
    if (x < 0) return v;
  }
  return options[options.length - 1][0];
}

/** Smooth 2-D value noise on a g×g grid (bilinear), values in [0, 1). */
function valueNoise(rng: Rng, g: number): (u: number, v: number) => number {
  const grid = Array.from({ length: (g + 1) * (g + 1) }, () => rng.nextFloat());
  return (u, v) => {
    const x = u * g;
    const y = v * g;
    const i = Math.min(g - 1, Math.floor(x));
    const j = Math.min(g - 1, Math.floor(y));
    const fx = x - i;
    const fy = y - j;
    const sx = fx * fx * (3 - 2 * fx);
    const sy = fy * fy * (3 - 2 * fy);
    const a = grid[j * (g + 1) + i];
    const b = grid[j * (g + 1) + i + 1];
    const c = grid[(j + 1) * (g + 1) + i];
    const d = grid[(j + 1) * (g + 1) + i + 1];
    return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
  };
}

interface Background {
  /** (u, v) in [0,1) → colour. */
  readonly at: (u: number, v: number, out: number[]) => void;
  /** Where the ground starts (v), for placing grounded objects; 1 when there is none. */
  readonly horizon: number;
}

function background(rng: Rng, ctx: Context, textured: boolean): Background {
  const skyTop = jitter(rng, [0.42, 0.62, 0.92], 0.08);
  const skyBottom = jitter(rng, [0.72, 0.84, 0.98], 0.05);
  const horizon = rng.range(0.35, 0.6);
  const noiseA = valueNoise(rng, 4);
  const noiseB = valueNoise(rng, 9);
  const amp = textured ? rng.range(0.1, 0.24) : 0;
  const tex = (u: number, v: number): number => (textured ? amp * (noiseA(u, v) - 0.5) + amp * 0.6 * (noiseB(u, v) - 0.5) : 0);
  let top: (v: number) => Rgb;
  let bottom: (v: number) => Rgb;
  let split = horizon;
  switch (ctx) {
    case 'sky': {
      split = 2;
      top = (v) => mix(skyTop, skyBottom, v);
      bottom = top;
      break;
    }
    case 'field': {
      const grass = jitter(rng, rng.pick([[0.35, 0.6, 0.22], [0.45, 0.58, 0.2], [0.55, 0.5, 0.25]] as Rgb[]), 0.08);
      top = (v) => mix(skyTop, skyBottom, v / horizon);
      bottom = (v) => mix(grass, darker(grass, 0.75), (v - horizon) / (1 - horizon));
      break;
    }
    case 'water': {
      const sea = jitter(rng, [0.12, 0.35, 0.6], 0.08);
      split = rng.range(0.45, 0.65);
      top = (v) => mix(skyTop, skyBottom, v / split);
      bottom = (v) => mix(sea, darker(sea, 0.7), (v - split) / (1 - split));
      break;
    }
    case 'road': {
      const wall = jitter(rng, rng.pick([[0.7, 0.68, 0.65], [0.55, 0.6, 0.7], [0.8, 0.7, 0.55]] as Rgb[]), 0.08);
      const asphalt = jitter(rng, [0.33, 0.33, 0.35], 0.1);
      split = rng.range(0.55, 0.7);
      top = () => wall;
      bottom = () => asphalt;
      break;
    }
    case 'indoor': {
      const wall = jitter(rng, rng.pick([[0.88, 0.8, 0.66], [0.8, 0.82, 0.85], [0.7, 0.55, 0.45]] as Rgb[]), 0.08);
      const floor = jitter(rng, rng.pick([[0.55, 0.38, 0.22], [0.45, 0.45, 0.48], [0.7, 0.6, 0.45]] as Rgb[]), 0.08);
      split = rng.range(0.65, 0.85);
      top = () => wall;
      bottom = () => floor;
      break;
    }
    case 'pond': {
      const water = jitter(rng, [0.2, 0.38, 0.3], 0.1);
      const mud = jitter(rng, [0.4, 0.35, 0.2], 0.1);
      split = rng.range(0.0, 0.3);
      top = () => mud;
      bottom = (v) => mix(water, darker(water, 0.8), v);
      break;
    }
  }
  return {
    horizon: Math.min(1, split),
    at: (u, v, out) => {
      const c = v < split ? top(v) : bottom(v);
      const t = tex(u, v);
      out[0] = c[0] + t;
      out[1] = c[1] + t;
      out[2] = c[2] + t * 0.8;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Class shapes (local coordinates: the object spans about [-1, 1], y down)

interface Shape {
  readonly prims: Primitive[];
  /** Allowed rotation (radians, ±) in the prior domain; the target doubles it. */
  readonly rot: number;
  /** True for objects that stand on the ground (placed lower in the frame). */
  readonly grounded: boolean;
}

function legs(rng: Rng, xs: readonly number[], top: number, bottom: number, width: number, color: Rgb): Primitive[] {
  return xs.map((x) => {
    const swing = rng.range(-0.12, 0.12);
    return line(x, top, x + swing, bottom, width, color);
  });
}

function wheel(cx: number, cy: number, r: number, hub: Rgb): Primitive[] {
  return [ellipse(cx, cy, r, r, C.black), ellipse(cx, cy, r * 0.45, r * 0.45, hub)];
}

const SHAPES: Record<DemoClass, (rng: Rng) => Shape> = {
  airplane(rng) {
    const body = jitter(rng, rng.pick([C.white, C.silver, C.grey, C.white] as Rgb[]), 0.06);
    const accent = jitter(rng, rng.pick([C.red, C.blue, C.navy, C.grey] as Rgb[]), 0.08);
    const span = rng.range(0.7, 0.95);
    const sweep = rng.range(0.05, 0.35);
    const chord = rng.range(0.16, 0.26);
    const len = rng.range(0.85, 1.0);
    return {
      rot: Math.PI,
      grounded: false,
      prims: [
        poly([-len + 0.1, 0, -len - 0.05 + 0.02, -0.38, -len + 0.08, -0.38, -len + 0.28, 0, -len + 0.08, 0.38, -len - 0.03, 0.38], accent),
        poly([0.18, -0.04, 0.18 - sweep, -span, 0.18 - sweep - chord, -span, 0.18 - chord - 0.1, -0.04, 0.18 - chord - 0.1, 0.04, 0.18 - sweep - chord, span, 0.18 - sweep, span, 0.18, 0.04], body),
        ellipse(0, 0, len, rng.range(0.1, 0.15), body),
        ellipse(len - 0.25, 0, 0.12, 0.06, darker(accent, 0.8)),
      ],
    };
  },
  automobile(rng) {
    const paint = jitter(rng, rng.pick([C.red, C.blue, C.white, C.black, C.yellow, C.silver, C.teal] as Rgb[]), 0.08);
    const glass = jitter(rng, [0.55, 0.7, 0.85], 0.08);
    const h = rng.range(0.3, 0.42);
    const roof = rng.range(0.28, 0.4);
    const r = rng.range(0.17, 0.22);
    return {
      rot: 0.12,
      grounded: true,
      prims: [
        poly([-0.45, -0.02, 0.45, -0.02, 0.28, -0.02 - roof, -0.3, -0.02 - roof], paint),
        poly([-0.36, -0.05, -0.04, -0.05, -0.04, -roof + 0.05, -0.26, -roof + 0.05], glass),
        poly([0.02, -0.05, 0.36, -0.05, 0.22, -roof + 0.05, 0.02, -roof + 0.05], glass),
        rect(0, h / 2 - 0.02, 1.8, h, paint),
        rect(0.86, 0.04, 0.08, 0.07, C.yellow),
        ...wheel(-0.52, h - 0.02, r, C.silver),
        ...wheel(0.52, h - 0.02, r, C.silver),
      ],
    };
  },
  bird(rng) {
    const plumage = jitter(rng, rng.pick([C.brown, C.blue, C.red, C.yellow, C.dark, C.tan] as Rgb[]), 0.1);
    const belly = mix(plumage, C.cream, rng.range(0.3, 0.7));
    const wing = darker(plumage, rng.range(0.6, 0.85));
    const flying = rng.chance(0.4);
    const prims: Primitive[] = [
      poly([-0.35, -0.05, -0.95, -0.3, -0.95, 0.12], wing),
      ellipse(0, 0, 0.5, 0.3, plumage),
      ellipse(0.05, 0.1, 0.35, 0.17, belly),
      ellipse(0.45, -0.3, 0.22, 0.2, plumage),
      ellipse(0.52, -0.35, 0.05, 0.05, C.black),
      poly([0.62, -0.36, 0.92, -0.28, 0.62, -0.22], C.orange),
    ];
    if (flying) {
      prims.push(poly([-0.2, -0.1, 0.25, -0.1, -0.05, -0.95], wing));
    } else {
      prims.push(ellipse(-0.08, -0.02, 0.38, 0.14, wing, -0.35));
      prims.push(line(-0.05, 0.25, -0.1, 0.6, 0.05, C.orange), line(0.12, 0.25, 0.15, 0.6, 0.05, C.orange));
    }
    return { rot: 0.45, grounded: false, prims };
  },
  cat(rng) {
    const fur = jitter(rng, rng.pick([C.orange, C.grey, C.dark, C.white, C.tan, C.brown] as Rgb[]), 0.08);
    const inner = mix(fur, C.pink, 0.5);
    const eye = jitter(rng, rng.pick([[0.5, 0.8, 0.2], [0.9, 0.75, 0.1], [0.3, 0.6, 0.8]] as Rgb[]), 0.05);
    const earH = rng.range(0.75, 0.95);
    const w = rng.range(0.55, 0.65);
    return {
      rot: 0.35,
      grounded: false,
      prims: [
        poly([-w, -0.15, -w + 0.1, -earH, -0.1, -0.45], fur),
        poly([w, -0.15, w - 0.1, -earH, 0.1, -0.45], fur),
        poly([-w + 0.12, -0.25, -w + 0.16, -earH + 0.18, -0.2, -0.45], inner),
        poly([w - 0.12, -0.25, w - 0.16, -earH + 0.18, 0.2, -0.45], inner),
        ellipse(0, 0.05, w, 0.55, fur),
        ellipse(-0.22, -0.05, 0.11, 0.13, eye),
        ellipse(0.22, -0.05, 0.11, 0.13, eye),
        ellipse(-0.22, -0.05, 0.03, 0.11, C.black),
        ellipse(0.22, -0.05, 0.03, 0.11, C.black),
        poly([-0.07, 0.15, 0.07, 0.15, 0, 0.24], C.pink),
        line(0.1, 0.25, 0.6, 0.18, 0.025, C.white),
        line(0.1, 0.28, 0.6, 0.34, 0.025, C.white),
        line(-0.1, 0.25, -0.6, 0.18, 0.025, C.white),
        line(-0.1, 0.28, -0.6, 0.34, 0.025, C.white),
      ],
    };
  },
  deer(rng) {
    const coat = jitter(rng, rng.pick([C.tan, C.brown, [0.65, 0.45, 0.25]] as Rgb[]), 0.08);
    const antler = jitter(rng, [0.85, 0.78, 0.62], 0.06);
    const hasAntlers = rng.chance(0.75);
    const neck = rng.range(0.4, 0.55);
    const prims: Primitive[] = [
      ...legs(rng, [-0.42, -0.3, 0.3, 0.42], 0.1, 0.8, 0.07, darker(coat, 0.85)),
      ellipse(0, 0, 0.55, 0.24, coat),
      ellipse(-0.05, 0.08, 0.4, 0.1, mix(coat, C.cream, 0.5)),
      ellipse(-0.55, -0.12, 0.08, 0.06, C.cream),
      line(0.42, -0.05, 0.6, -0.1 - neck, 0.17, coat),
      ellipse(0.7, -0.15 - neck, 0.2, 0.11, coat, 0.35),
      ellipse(0.55, -0.28 - neck, 0.06, 0.1, coat),
      ellipse(0.86, -0.1 - neck, 0.04, 0.035, C.black),
    ];
    if (hasAntlers) {
      const top = -0.22 - neck;
      prims.push(
        line(0.62, top, 0.5, top - 0.45, 0.045, antler),
        line(0.55, top - 0.2, 0.35, top - 0.32, 0.04, antler),
        line(0.52, top - 0.33, 0.7, top - 0.5, 0.04, antler),
        line(0.68, top, 0.82, top - 0.4, 0.045, antler),
      );
    }
    return { rot: 0.15, grounded: true, prims };
  },
  dog(rng) {
    const fur = jitter(rng, rng.pick([C.brown, C.tan, C.dark, C.white, C.cream, C.grey] as Rgb[]), 0.08);
    const ears = darker(fur, rng.range(0.55, 0.85));
    const muzzle = mix(fur, C.cream, rng.range(0.3, 0.7));
    const earLen = rng.range(0.35, 0.5);
    return {
      rot: 0.35,
      grounded: false,
      prims: [
        ellipse(0, 0.05, 0.52, 0.6, fur),
        ellipse(-0.55, 0.0, 0.17, earLen, ears, 0.35),
        ellipse(0.55, 0.0, 0.17, earLen, ears, -0.35),
        ellipse(0, 0.32, 0.3, 0.24, muzzle),
        ellipse(0, 0.2, 0.11, 0.08, C.black),
        line(0, 0.28, 0, 0.42, 0.03, C.black),
        ellipse(-0.2, -0.12, 0.075, 0.075, C.black),
        ellipse(0.2, -0.12, 0.075, 0.075, C.black),
        ...(rng.chance(0.4) ? [ellipse(0.02, 0.55, 0.1, 0.1, C.pink)] : []),
      ],
    };
  },
  frog(rng) {
    const skin = jitter(rng, rng.pick([C.green, C.olive, [0.35, 0.55, 0.2], C.brown] as Rgb[]), 0.08);
    const belly = mix(skin, C.yellow, 0.35);
    const spots = darker(skin, 0.6);
    const w = rng.range(0.55, 0.7);
    const prims: Primitive[] = [
      ellipse(-0.65, 0.45, 0.32, 0.12, darker(skin, 0.85), 0.5),
      ellipse(0.65, 0.45, 0.32, 0.12, darker(skin, 0.85), -0.5),
      ellipse(0, 0.1, w, 0.38, skin),
      ellipse(0, 0.25, w * 0.6, 0.18, belly),
      ellipse(-0.3, -0.28, 0.16, 0.16, skin),
      ellipse(0.3, -0.28, 0.16, 0.16, skin),
      ellipse(-0.3, -0.3, 0.08, 0.08, C.black),
      ellipse(0.3, -0.3, 0.08, 0.08, C.black),
      line(-0.3, 0.05, 0.3, 0.05, 0.035, darker(skin, 0.5)),
    ];
    const n = rng.int(4);
    for (let i = 0; i < n; i++) prims.push(ellipse(rng.range(-0.4, 0.4), rng.range(-0.05, 0.3), 0.07, 0.06, spots));
    return { rot: 0.6, grounded: false, prims };
  },
  horse(rng) {
    const coat = jitter(rng, rng.pick([C.brown, C.dark, C.white, C.tan, [0.4, 0.2, 0.1]] as Rgb[]), 0.08);
    const mane = darker(coat, rng.range(0.3, 0.6));
    const neck = rng.range(0.45, 0.6);
    return {
      rot: 0.15,
      grounded: true,
      prims: [
        line(-0.6, -0.08, -0.82, 0.45, 0.1, mane),
        ...legs(rng, [-0.45, -0.32, 0.32, 0.45], 0.1, 0.92, 0.085, darker(coat, 0.9)),
        ellipse(0, 0, 0.62, 0.27, coat),
        poly([0.3, -0.15, 0.55, 0.05, 0.78, -0.1 - neck, 0.58, -0.2 - neck], coat),
        line(0.58, -0.15 - neck, 0.38, -0.1, 0.07, mane),
        ellipse(0.85, -0.05 - neck, 0.26, 0.1, coat, 0.65),
        ellipse(0.66, -0.26 - neck, 0.05, 0.09, coat),
        ellipse(0.78, -0.13 - neck, 0.035, 0.035, C.black),
      ],
    };
  },
  ship(rng) {
    const hull = jitter(rng, rng.pick([C.red, C.navy, C.white, C.dark, C.grey] as Rgb[]), 0.08);
    const deck = jitter(rng, rng.pick([C.white, C.cream, C.silver] as Rgb[]), 0.05);
    const sail = rng.chance(0.5);
    const prims: Primitive[] = [
      poly([-0.95, 0.05, 0.95, 0.05, 0.7, 0.42, -0.75, 0.42], hull),
      rect(0, 0.12, 1.75, 0.06, darker(hull, 0.6)),
    ];
    if (sail) {
      const mast = rng.range(-0.1, 0.15);
      prims.push(line(mast, 0.05, mast, -0.95, 0.05, C.brown), poly([mast + 0.05, -0.9, mast + 0.05, -0.05, mast + 0.7, -0.05], deck), poly([mast - 0.05, -0.75, mast - 0.05, -0.05, mast - 0.55, -0.05], darker(deck, 0.9)));
    } else {
      prims.push(rect(-0.15, -0.12, rng.range(0.7, 1.0), 0.3, deck), rect(0.2, -0.4, 0.18, 0.3, darker(hull, 0.8)), rect(-0.35, -0.32, 0.35, 0.12, deck));
      prims.push(line(-0.6, 0.02, -0.6, -0.55, 0.03, C.dark));
    }
    return { rot: 0.12, grounded: false, prims };
  },
  truck(rng) {
    const cab = jitter(rng, rng.pick([C.red, C.blue, C.white, C.yellow, C.orange, C.silver] as Rgb[]), 0.08);
    const box = jitter(rng, rng.pick([C.white, C.silver, C.grey, C.teal, cab] as Rgb[]), 0.08);
    const glass = jitter(rng, [0.55, 0.7, 0.85], 0.08);
    const boxH = rng.range(0.65, 0.85);
    const r = rng.range(0.15, 0.19);
    return {
      rot: 0.1,
      grounded: true,
      prims: [
        rect(-0.3, 0.25 - boxH / 2, 1.2, boxH, box),
        poly([0.33, 0.25, 0.33, -0.35, 0.72, -0.35, 0.92, -0.05, 0.92, 0.25], cab),
        poly([0.45, -0.28, 0.7, -0.28, 0.84, -0.06, 0.45, -0.06], glass),
        rect(0.2, 0.3, 1.9, 0.1, C.dark),
        ...wheel(-0.65, 0.38, r, C.grey),
        ...wheel(-0.25, 0.38, r, C.grey),
        ...wheel(0.65, 0.38, r, C.grey),
      ],
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Rendering

/** Supersampling factor (antialiasing). */
const SUPERSAMPLE = 3;

/** The target domain's palette: muted, warm, lower contrast, with a per-image tint. */
function targetPalette(rng: Rng): (px: number[]) => void {
  const tint: Rgb = [1.04 + rng.range(-0.04, 0.04), 0.97 + rng.range(-0.04, 0.04), 0.84 + rng.range(-0.05, 0.05)];
  const desat = rng.range(0.3, 0.5);
  const lo = rng.range(0.08, 0.16);
  const span = rng.range(0.62, 0.78);
  return (px) => {
    const grey = 0.3 * px[0] + 0.59 * px[1] + 0.11 * px[2];
    for (let c = 0; c < 3; c++) {
      const v = px[c] + (grey - px[c]) * desat;
      px[c] = lo + span * v * tint[c];
    }
  };
}

/** Render one image of `cls` in `domain`. Deterministic in (seed, domain, split, cls, index). */
export function renderDemoImage(cls: DemoClass, domain: DemoDomain, rng: Rng, imageSize = 32): RgbImage {
  const target = domain === 'target';
  const n = imageSize * SUPERSAMPLE;
  const canvas = new Canvas(n);

  let ctx = pickWeighted(rng, CLASS_CONTEXTS[cls]);
  if (rng.chance(target ? 0.35 : 0.2)) ctx = rng.pick(CONTEXTS);
  const bg = background(rng, ctx, target);
  canvas.fill(bg.at);

  // Distractors (target only), behind the object: blobs and sticks in random colours, and parts that
  // belong to other classes (a wheel, an ear, a wing).
  if (target) {
    const count = rng.int(5);
    for (let i = 0; i < count; i++) {
      const color = jitter(rng, rng.pick(Object.values(C) as Rgb[]), 0.1);
      const kind = rng.int(5);
      const prims: Primitive[] =
        kind === 0 ? wheel(0, 0, 0.6, C.grey)
          : kind === 1 ? [poly([-0.6, 0.5, 0, -0.8, 0.6, 0.5], color)]
            : kind === 2 ? [poly([0.3, -0.1, -0.3, -1, -0.7, -1, -0.4, -0.1], color)]
              : kind === 3 ? [ellipse(0, 0, rng.range(0.3, 1), rng.range(0.2, 0.6), color, rng.range(0, Math.PI))]
                : [line(-1, 0, 1, rng.range(-0.5, 0.5), rng.range(0.1, 0.25), color)];
      canvas.draw(prims, { tx: rng.range(0, n), ty: rng.range(0, n), scale: n * rng.range(0.06, 0.14), rot: rng.range(0, 2 * Math.PI), flip: false });
    }
  }

  const shape = SHAPES[cls](rng);
  const scale = n * (target ? rng.range(0.25, 0.42) : rng.range(0.37, 0.45));
  const spread = target ? 0.16 : 0.05;
  const rot = rng.range(-1, 1) * shape.rot * (target ? 1.6 : 1);
  let ty = n * (0.5 + rng.range(-spread, spread));
  if (shape.grounded && bg.horizon < 1) ty = Math.max(ty, n * Math.min(0.62, bg.horizon + 0.05));
  canvas.draw(shape.prims, { tx: n * (0.5 + rng.range(-spread, spread)), ty, scale, rot, flip: rng.chance(0.5) }, target ? rng.range(0.1, 0.3) : 0);

  const small = canvas.downsample(SUPERSAMPLE);
  if (target) {
    small.map(targetPalette(rng));
    small.blur(rng.chance(0.6) ? rng.range(0.3, 1) : 0);
    const sigma = rng.range(0.015, 0.05);
    small.map((px) => {
      px[0] += sigma * rng.normal();
      px[1] += sigma * rng.normal();
      px[2] += sigma * rng.normal();
    });
  }
  return { data: small.toBytes(), width: imageSize, height: imageSize };
}

/** The seeded stream of one image. */
export function demoImageRng(seed: number, domain: DemoDomain, split: DemoSplit | 'all', cls: DemoClass, index: number): Rng {
  return createRng(deriveSeed(seed, DEMO_WORLD_VERSION, domain, split, cls, index));
}

function fileName(index: number): string {
  return `${String(index).padStart(4, '0')}.png`;
}

/** Check options; throws RangeError naming the field. */
export function checkDemoWorldOptions(options: DemoWorldOptions): Required<DemoWorldOptions> {
  if (!options || !(options.preset in DEMO_PRESETS)) throw new RangeError(`demo world: preset must be one of ${Object.keys(DEMO_PRESETS).join(', ')}, got ${JSON.stringify(options?.preset)}`);
  if (!Number.isSafeInteger(options.seed)) throw new RangeError(`demo world: seed must be a safe integer, got ${String(options.seed)}`);
  const imageSize = options.imageSize ?? 32;
  if (!Number.isInteger(imageSize) || imageSize < 8 || imageSize > 256) throw new RangeError(`demo world: imageSize must be an integer in [8, 256], got ${String(imageSize)}`);
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`demo world: concurrency must be a positive integer, got ${String(concurrency)}`);
  return { preset: options.preset, seed: options.seed, imageSize, concurrency };
}

/** The identity of a world: hash of (version, image code version, preset, seed, size, preset sizes). */
export function demoWorldId(options: DemoWorldOptions): string {
  const opts = checkDemoWorldOptions(options);
  const classes = DEMO_PRESET_CLASSES[opts.preset];
  // A preset drawing every class hashes as it did before presets had their own classes (ids stay).
  const subset = classes.length === DEMO_CLASSES.length ? {} : { classes };
  return hashJson({ version: DEMO_WORLD_VERSION, image: IMAGE_CODE_VERSION, preset: opts.preset, seed: opts.seed, imageSize: opts.imageSize, sizes: DEMO_PRESETS[opts.preset], ...subset });
}

/**
 * Write the demo world under `outDir` (see the module comment for the layout). If `world.json`
 * already describes the same world, nothing is redrawn. Files are written via temp + rename.
 */
export async function writeDemoWorld(outDir: string, options: DemoWorldOptions): Promise<DemoWorldInfo> {
  const opts = checkDemoWorldOptions(options);
  const root = path.resolve(outDir);
  const sizes = DEMO_PRESETS[opts.preset];
  const id = demoWorldId(opts);
  const roots = { prior: path.join(root, 'prior'), train: path.join(root, 'target', 'train'), test: path.join(root, 'target', 'test') };
  const info: Omit<DemoWorldInfo, 'reused'> = {
    version: DEMO_WORLD_VERSION,
    preset: opts.preset,
    seed: opts.seed,
    imageSize: opts.imageSize,
    classes: [...DEMO_PRESET_CLASSES[opts.preset]],
    sizes,
    roots,
    id,
  };
  const marker = path.join(root, 'world.json');
  const readMarker = async (): Promise<{ id?: string; complete?: boolean } | undefined> => {
    try {
      return JSON.parse(await readFile(marker, 'utf8')) as { id?: string; complete?: boolean };
    } catch {
      return undefined;
    }
  };
  const existing = await readMarker();
  if (existing?.id === id && existing.complete === true) return { ...info, reused: true };
  if (existing) {
    // Our own (other or unfinished) world: clear it so no stale image survives.
    if (existing.id !== id) {
      await rm(path.join(root, 'prior'), { recursive: true, force: true });
      await rm(path.join(root, 'target'), { recursive: true, force: true });
    }
  } else {
    for (const sub of ['prior', 'target']) {
      const entries = await readdir(path.join(root, sub)).catch(() => [] as string[]);
      // Another process may have started this very world since we looked: that is fine.
      if (entries.length > 0 && (await readMarker())?.id !== id) {
        throw new Error(`demo world: ${path.join(root, sub)} exists and ${marker} does not describe this world; refusing to mix a new world into it (use an empty directory)`);
      }
    }
  }
  const writeMarker = async (complete: boolean): Promise<void> => {
    const body = { ...info, roots: { prior: 'prior', train: 'target/train', test: 'target/test' }, complete };
    await mkdir(root, { recursive: true });
    await writeFileAtomic(marker, `${stableStringify(body, 2)}\n`);
  };
  await writeMarker(false);

  type Job = { domain: DemoDomain; split: DemoSplit | 'all'; cls: DemoClass; index: number; dir: string };
  const jobs: Job[] = [];
  for (const cls of DEMO_PRESET_CLASSES[opts.preset]) {
    for (let i = 0; i < sizes.prior; i++) jobs.push({ domain: 'prior', split: 'all', cls, index: i, dir: path.join(roots.prior, cls) });
    for (let i = 0; i < sizes.train; i++) jobs.push({ domain: 'target', split: 'train', cls, index: i, dir: path.join(roots.train, cls) });
    for (let i = 0; i < sizes.test; i++) jobs.push({ domain: 'target', split: 'test', cls, index: i, dir: path.join(roots.test, cls) });
  }
  for (const dir of new Set(jobs.map((j) => j.dir))) await mkdir(dir, { recursive: true });
  await mapLimit(jobs, opts.concurrency, async (job) => {
    const image = renderDemoImage(job.cls, job.domain, demoImageRng(opts.seed, job.domain, job.split, job.cls, job.index), opts.imageSize);
    const png = await encodePngRgb(image);
    const file = path.join(job.dir, fileName(job.index));
    // Two processes drawing the same world at once each rename a whole file.
    await writeFileAtomic(file, png);
  });
  await writeMarker(true);
  return { ...info, reused: false };
}
