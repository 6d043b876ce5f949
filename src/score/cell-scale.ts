/**
 * An epoch's cell calibration as it is stored (cells.json and run.json's copy) and the colour scale's rule, without
 * TensorFlow.js: the run file's check reads this on every command, the compiled knn score among them. Computing a
 * calibration is cell-calibration.ts's.
 */
import { AloccError } from '../errors';
import type { CellNeighbourhood } from '../config';

/** The distances at the colour ramp's two ends and the cell threshold between them. */
export interface MapScale {
  low: number;
  high: number;
  cellThreshold: number;
}

/** The q-quantile (0..1) of sorted values, linear between order statistics. */
function quantile(sorted: Float64Array, q: number): number {
  const at = q * (sorted.length - 1);
  const i = Math.floor(at);
  return i + 1 < sorted.length ? sorted[i] + (sorted[i + 1] - sorted[i]) * (at - i) : sorted[i];
}

/** Share of normal cells that pass the cell threshold: it outlines a normal picture's cell about once in two pictures at 7×7. */
export const CELL_THRESHOLD_QUANTILE = 0.99;

/**
 * The scale from normal pictures' cell distances: the ramp starts at their median (a typical normal cell reads as
 * background) and ends as far above the cell threshold as the median is below it, so the threshold sits mid-ramp.
 * The cell threshold defaults to their 99th percentile.
 */
export function mapScaleFrom(validationCells: ArrayLike<number>, cellThreshold?: number): MapScale {
  const sorted = Float64Array.from(validationCells).filter((v) => !Number.isNaN(v)).sort();
  if (sorted.length === 0) throw new AloccError('map scale: no validation cell distances to fix the colour ramp from');
  const threshold = cellThreshold ?? quantile(sorted, CELL_THRESHOLD_QUANTILE);
  const low = Math.min(quantile(sorted, 0.5), threshold);
  const spread = Math.max(threshold - low, 1e-6);
  return { low: threshold - spread, high: threshold + spread, cellThreshold: threshold };
}

/** An epoch's calibration of its cells (cells.json and run.json's `cells`). */
export interface CellCalibration {
  neighbourhood: CellNeighbourhood;
  /** The local score is the mean of this many largest cell distances. */
  topK: number;
  /** Pictures the numbers come from. */
  pictures: number;
  /** 'validation': the held-out validation pictures at training time; 'memory': an older run's stand-in (runCellCalibration's fallback, src/run/open-cells.ts). */
  source: 'validation' | 'memory';
  /** The local score's mean over those pictures and its threshold (their thresholdPercentile-th percentile). */
  local: { mean: number; threshold: number };
  scale: MapScale;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The first problem of a stored calibration, or null: every field score and eval read, finite and ordered. */
export function cellCalibrationProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'is not an object';
  const c = v as Record<string, unknown>;
  if (c.neighbourhood !== 'position' && c.neighbourhood !== 'pooled') return `names neighbourhood ${JSON.stringify(c.neighbourhood)}`;
  if (!Number.isInteger(c.topK) || (c.topK as number) < 1) return 'has no whole topK >= 1';
  if (!Number.isInteger(c.pictures) || (c.pictures as number) < 1) return 'has no picture count';
  if (c.source !== 'validation' && c.source !== 'memory') return `names source ${JSON.stringify(c.source)}`;
  const local = c.local as Record<string, unknown> | null;
  if (typeof local !== 'object' || local === null || !finite(local.mean) || !finite(local.threshold)) return "has no finite local mean and threshold";
  const s = c.scale as Record<string, unknown> | null;
  if (typeof s !== 'object' || s === null || !finite(s.low) || !finite(s.high) || !finite(s.cellThreshold)) return 'has no finite scale';
  if (!(s.low < s.high)) return 'has a scale whose low end is not below its high end';
  return null;
}

/**
 * The local score beside the global one: the mean of a picture's `k` largest cell distances (k = 1: the largest). A
 * small defect moves one or two cells and barely the global mean over all features; this reads those cells alone.
 */
export function localScore(cells: ArrayLike<number>, k = 1): number {
  if (!Number.isInteger(k) || k < 1 || k > cells.length) throw new RangeError(`localScore: k must be 1..${cells.length}, got ${k}`);
  const top = Float64Array.from(cells).sort().subarray(cells.length - k);
  return top.reduce((s, v) => s + v, 0) / k;
}

/**
 * A calibration from normal pictures' cell distances ([pictures·grid], picture by picture): their local scores' mean
 * and `percentile`-th percentile, and the colour scale of all their cells.
 */
export function calibrationFromCells(
  cells: Float32Array, grid: number, opts: { neighbourhood: CellNeighbourhood; topK: number; percentile: number }, source: CellCalibration['source'],
): CellCalibration {
  const pictures = cells.length / grid;
  const topK = Math.min(opts.topK, grid);
  const local = Float64Array.from({ length: pictures }, (_, i) => localScore(cells.subarray(i * grid, (i + 1) * grid), topK));
  const mean = local.reduce((s, v) => s + v, 0) / pictures;
  return {
    neighbourhood: opts.neighbourhood,
    topK,
    pictures,
    source,
    local: { mean, threshold: quantile(local.sort(), opts.percentile / 100) },
    scale: mapScaleFrom(cells),
  };
}
