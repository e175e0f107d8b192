/**
 * Rounding used for every per-class count (mix proportions, validation split, curation fallback):
 * round half UP (`x.5` → `x + 1`), after snapping values within 1e-9 (relative) of a half or an
 * integer, so float noise such as `0.15 * 70 = 10.499999999999998` rounds like the exact 10.5.
 */
export function roundHalfUp(x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`roundHalfUp: non-finite ${x}`);
  const eps = 1e-9 * Math.max(1, Math.abs(x));
  const twice = 2 * x;
  const nearestHalf = Math.round(twice) / 2;
  const snapped = Math.abs(twice - Math.round(twice)) <= 2 * eps ? nearestHalf : x;
  return Math.floor(snapped + 0.5);
}

/** `roundHalfUp(fraction * n)`, clamped to [0, n]. */
export function portion(fraction: number, n: number): number {
  return Math.min(n, Math.max(0, roundHalfUp(fraction * n)));
}
