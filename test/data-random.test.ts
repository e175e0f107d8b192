import { describe, expect, it } from 'vitest';
import { portion, roundHalfUp } from '../lib/data/rounding.js';
import { createRng, deriveSeed } from '../lib/random.js';

describe('lib/random', () => {
  it('same seed gives the same stream; different seeds differ', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    const sb = Array.from({ length: 20 }, () => b.nextUint32());
    const sc = Array.from({ length: 20 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    // mulberry32 reference values for seed 42 (pinned: changing them changes every dataset).
    expect(createRng(42).nextUint32()).toBe(sa[0]);
    expect(sa.slice(0, 3)).toMatchInlineSnapshot(`
      [
        2581720956,
        1925393290,
        3661312704,
      ]
    `);
  });

  it('nextFloat in [0,1), int(n) in [0,n) and roughly uniform', () => {
    const rng = createRng(1);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 7000; i++) {
      const f = rng.nextFloat();
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThan(1);
      counts[rng.int(7)]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(() => rng.int(0)).toThrow(RangeError);
    expect(() => rng.int(2.5)).toThrow(RangeError);
    expect(rng.int(1)).toBe(0);
  });

  it('shuffle is a permutation; sampleWithoutReplacement gives distinct items and nests by k', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = createRng(5).shuffled(items);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items);
    expect(shuffled).not.toEqual(items);
    expect(items[0]).toBe(0); // input untouched

    const s10 = createRng(9).sampleWithoutReplacement(items, 10);
    const s30 = createRng(9).sampleWithoutReplacement(items, 30);
    expect(new Set(s30).size).toBe(30);
    expect(s30.slice(0, 10)).toEqual(s10);
    expect(createRng(9).shuffled(items).slice(0, 30)).toEqual(s30);
    expect(createRng(9).sampleWithoutReplacement(items, 0)).toEqual([]);
    expect(() => createRng(9).sampleWithoutReplacement(items, 51)).toThrow(RangeError);
  });

  it('deriveSeed: stable, label-sensitive, type-tagged', () => {
    expect(deriveSeed(1, 'train', 'cat')).toBe(deriveSeed(1, 'train', 'cat'));
    expect(deriveSeed(1, 'train', 'cat')).not.toBe(deriveSeed(1, 'train', 'dog'));
    expect(deriveSeed(1, 'train', 'cat')).not.toBe(deriveSeed(2, 'train', 'cat'));
    expect(deriveSeed(1, 'ab', 'c')).not.toBe(deriveSeed(1, 'a', 'bc'));
    expect(deriveSeed(1, 1)).not.toBe(deriveSeed(1, '1'));
    const s = deriveSeed(7, 'x');
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    // Large seeds are hashed, not truncated.
    expect(createRng(2 ** 32 + 1).nextUint32()).not.toBe(createRng(1).nextUint32());
  });
});

describe('roundHalfUp', () => {
  it('rounds halves up, including float noise', () => {
    expect(roundHalfUp(0.5)).toBe(1);
    expect(roundHalfUp(1.5)).toBe(2);
    expect(roundHalfUp(2.5)).toBe(3);
    expect(roundHalfUp(2.4999)).toBe(2);
    expect(0.35 * 90).toBe(31.499999999999996); // float noise...
    expect(roundHalfUp(0.35 * 90)).toBe(32); // ...rounds like the exact 31.5
    expect(roundHalfUp(0.15 * 70)).toBe(11);
    expect(roundHalfUp(0.85 * 10)).toBe(9);
    expect(portion(0.25, 700)).toBe(175);
    expect(portion(0.5, 7)).toBe(4);
    expect(portion(0.25, 2)).toBe(1);
    expect(portion(0.75, 2)).toBe(2);
    expect(portion(1, 5)).toBe(5);
  });
});
