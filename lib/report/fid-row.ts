/**
 * One `fid-table` engine row (parsed by `lib/engine/results.ts`) as the report's FidRow: the
 * comparison name split into source and class, the intervals over images grouped, and absent
 * (not zero) where the engine computed none.
 */
import type { EngineSummary } from '../engine/results.js';
import type { FidRow } from './types.js';

export type EngineFidRow = EngineSummary<'fid-table'>['rows'][number];

export function fidRowOf(row: EngineFidRow): FidRow {
  const [source, className] = row.name.split('/');
  return {
    source,
    className,
    fid: row.fid,
    // Never null in a sweep: it always asks for KID.
    kidMean: row.kidMean ?? 0,
    kidStd: row.kidStd ?? 0,
    kidSubsetSize: row.kidSubsetSize ?? null,
    kidSubsetCapped: row.kidSubsetCapped ?? false,
    n1: row.n1,
    n2: row.n2,
    epsilonUsed: row.epsilonUsed ?? 0,
    extractorId: row.extractorId,
    weightsSha256: row.weightsSha256,
    ...(row.kidLow != null && row.kidHigh != null && row.kidLevel != null ? { kidInterval: { low: row.kidLow, high: row.kidHigh, level: row.kidLevel } } : {}),
    ...(row.fidLow != null && row.fidHigh != null && row.fidBias != null && row.fidLevel != null && row.fidResamples != null
      ? { fidInterval: { low: row.fidLow, high: row.fidHigh, bias: row.fidBias, level: row.fidLevel, resamples: row.fidResamples } }
      : {}),
  };
}
