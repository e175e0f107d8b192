/**
 * Seeded pseudo-random numbers for everything in synthmix that must be reproducible
 * (sampling, splits, the procedural demo world).
 *
 * - The generator is mulberry32 (32-bit state, period 2^32): tiny, fast, and good enough for
 *   sampling and procedural noise. It is NOT cryptographic.
 * - `deriveSeed(seed, ...labels)` hashes (sha256) the seed with labels into a fresh 32-bit seed, so
 *   independent streams (per class, per split, per image) stay stable when other streams change:
 *   adding a class never changes the samples drawn for another one.
 */
import { createHash } from 'node:crypto';

export type SeedLabel = string | number;

/** A seeded random stream. Every method advances the stream deterministically. */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform float in [0, 1) (32 bits of precision). */
  nextFloat(): number;
  /** Uniform integer in [0, n) for an integer 1 <= n <= 2^32, without modulo bias. */
  int(n: number): number;
  /** Uniform float in [lo, hi). */
  range(lo: number, hi: number): number;
  /** Standard normal (Box–Muller; consumes two draws). */
  normal(): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element, uniformly. Throws on an empty array. */
  pick<T>(items: readonly T[]): T;
  /** Fisher–Yates shuffle IN PLACE; returns the same array. */
  shuffle<T>(items: T[]): T[];
  /** A shuffled copy; the input is untouched. */
  shuffled<T>(items: readonly T[]): T[];
  /**
   * `k` distinct elements (by position) drawn uniformly without replacement, in draw order.
   * Equals the first `k` elements of `shuffled(items)` for the same stream state, so the sample for
   * a smaller `k` is a prefix of the sample for a larger one. Throws RangeError if k > length.
   */
  sampleWithoutReplacement<T>(items: readonly T[], k: number): T[];
}

const TWO_POW_32 = 4294967296;

/** Normalise any seed label list to a 32-bit unsigned integer via sha256. */
export function deriveSeed(seed: SeedLabel, ...labels: SeedLabel[]): number {
  const hash = createHash('sha256');
  // Type-tag each part so that 1 and "1" (and label boundaries) never collide.
  for (const part of [seed, ...labels]) {
    if (typeof part === 'number') {
      if (!Number.isFinite(part)) throw new RangeError(`deriveSeed: non-finite number ${part}`);
      hash.update(`n:${part};`);
    } else {
      hash.update(`s:${part.length}:${part};`);
    }
  }
  return hash.digest().readUInt32BE(0);
}

/** Check a user-facing seed: a safe integer. Returns it as a number. */
export function assertSeed(seed: unknown, what = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RangeError(`${what} must be a safe integer, got ${String(seed)}`);
  }
  return seed;
}

/**
 * A mulberry32 stream. `seed` may be any safe integer or label list; non-uint32 seeds go
 * through `deriveSeed` first so that e.g. seeds 1 and 2^32+1 differ.
 */
export function createRng(seed: SeedLabel, ...labels: SeedLabel[]): Rng {
  let state: number;
  if (labels.length === 0 && typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed < TWO_POW_32) {
    state = seed >>> 0;
  } else {
    state = deriveSeed(seed, ...labels);
  }

  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const nextFloat = (): number => nextUint32() / TWO_POW_32;
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new RangeError(`rng.int: n must be an integer in [1, 2^32], got ${n}`);
    if (n === 1) return 0;
    // Rejection sampling: accept only draws below the largest multiple of n.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = nextUint32();
      if (x < limit) return x % n;
    }
  };
  const shuffle = <T>(items: T[]): T[] => {
    // Forward Fisher–Yates: position i receives a uniform pick among positions i..n-1.
    for (let i = 0; i < items.length - 1; i++) {
      const j = i + int(items.length - i);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  };
  const rng: Rng = {
    nextUint32,
    nextFloat,
    int,
    range: (lo, hi) => lo + (hi - lo) * nextFloat(),
    normal: () => {
      // 1 - u lies in (0, 1], so the log is finite.
      const u = 1 - nextFloat();
      const v = nextFloat();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    chance: (p) => nextFloat() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('rng.pick: empty array');
      return items[int(items.length)];
    },
    shuffle,
    shuffled: <T>(items: readonly T[]): T[] => shuffle([...items]),
    sampleWithoutReplacement: <T>(items: readonly T[], k: number): T[] => {
      if (!Number.isInteger(k) || k < 0) throw new RangeError(`sampleWithoutReplacement: k must be a non-negative integer, got ${k}`);
      if (k > items.length) throw new RangeError(`sampleWithoutReplacement: k=${k} exceeds the ${items.length} items available`);
      // Partial Fisher–Yates from the front: the first k positions of a full forward shuffle.
      const copy = [...items];
      for (let i = 0; i < k; i++) {
        const j = i + int(copy.length - i);
        const tmp = copy[i];
        copy[i] = copy[j];
        copy[j] = tmp;
      }
      return copy.slice(0, k);
    },
  };
  return rng;
}
