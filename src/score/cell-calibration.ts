/**
 * What a run's anomaly maps and local score are measured against, fixed per epoch at training time from the held-out
 * validation pictures (never trained on, never test pictures): the local score's mean and threshold, as every other
 * score has them, and the maps' colour scale with the cell threshold mid-ramp. Training stores it in the epoch's
 * folder (cells.json, checksummed) and in run.json's epoch record; score, serve and eval read it from there.
 *
 * The cells are those of the same cell memory the maps use at load: the run's stored memory images through the
 * epoch's R (buildCellMemory), so the scale and the maps measure distances to one memory.
 */
import * as tf from '@tensorflow/tfjs';
import { AloccError } from '../errors';
import { CellNeighbourhood, TrainConfig } from '../config';
import { floatsOf, ImageSet } from '../data/source';
import { buildCellMemory, CellMemory, cellDistances, disposeCellMemory, leaveOneOutCellDistances, localScore } from './cell-map';
import { inferenceNet } from './inference';
import { MEMORY_LRELU } from './nearest';
import { firstBlock, percentile } from './scorer';

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
  /** 'validation': the held-out validation pictures at training time; 'memory': an older run's stand-in (interimCalibration). */
  source: 'validation' | 'memory';
  /** The local score's mean over those pictures and its threshold (their thresholdPercentile-th percentile). */
  local: { mean: number; threshold: number };
  scale: MapScale;
}

/** Calibrates on a set of normal pictures (the validation pictures at training time) against `memory`'s cells. */
export function calibrateCells(
  memory: CellMemory, set: ImageSet, opts: { neighbourhood: CellNeighbourhood; topK: number; percentile: number }, batchSize = 64,
): CellCalibration {
  if (set.count < 1) throw new AloccError('cell calibration: no validation pictures');
  const grid = memory.rows * memory.cols;
  const all = new Float32Array(set.count * grid);
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start);
    const x = tf.tensor4d(floatsOf(set, start, n), [n, set.size, set.size, set.channels]);
    try {
      all.set(cellDistances(memory, x, opts.neighbourhood), start * grid);
    } finally {
      x.dispose();
    }
  }
  return fromCells(all, grid, set.count, opts, 'validation');
}

/**
 * An epoch's calibration at training time: the validation pictures' cells against the cell memory the maps will use,
 * the stored memory images through R's first block with R's weights and BatchNorm statistics as they are saved now.
 */
export function calibrateRun(
  r: tf.LayersModel, train: Pick<TrainConfig, 'cellPooling' | 'cellNeighbourhood' | 'localTopK' | 'thresholdPercentile'>,
  memoryImages: ImageSet, validation: ImageSet,
): CellCalibration {
  const net = inferenceNet(r, { through: MEMORY_LRELU });
  try {
    const memory = buildCellMemory(firstBlock(net), train.cellPooling, memoryImages);
    try {
      return calibrateCells(memory, validation, { neighbourhood: train.cellNeighbourhood, topK: train.localTopK, percentile: train.thresholdPercentile });
    } finally {
      disposeCellMemory(memory);
    }
  } finally {
    net.dispose();
  }
}

/**
 * For runs trained before calibration was stored (run-file version 6 and earlier): the same numbers from up to
 * SCALE_PROBES of the memory's own images, each against the memory without itself, by position. They were trained on,
 * so the scale runs a little low and both thresholds flag a little more than a validation calibration would.
 */
export function interimCalibration(memory: CellMemory, opts: { topK: number; percentile: number }): CellCalibration {
  const cells = leaveOneOutCellDistances(memory);
  const grid = memory.rows * memory.cols;
  return fromCells(cells, grid, cells.length / grid, { ...opts, neighbourhood: 'position' }, 'memory');
}

function fromCells(
  cells: Float32Array, grid: number, pictures: number, opts: { neighbourhood: CellNeighbourhood; topK: number; percentile: number },
  source: CellCalibration['source'],
): CellCalibration {
  const topK = Math.min(opts.topK, grid);
  const local = Float64Array.from({ length: pictures }, (_, i) => localScore(cells.subarray(i * grid, (i + 1) * grid), topK));
  const mean = local.reduce((s, v) => s + v, 0) / pictures;
  return {
    neighbourhood: opts.neighbourhood,
    topK,
    pictures,
    source,
    local: { mean, threshold: percentile(local, opts.percentile) },
    scale: mapScaleFrom(cells),
  };
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
