/**
 * What a run's anomaly maps and local score are measured against, fixed per epoch at training time from the held-out
 * validation pictures (never trained on, never test pictures): the local score's mean and threshold, as every other
 * score has them, and the maps' colour scale with the cell threshold mid-ramp. Training stores it in the epoch's
 * folder (cells.json, checksummed) and in run.json's epoch record; score, serve and eval read it from there.
 *
 * The cells are those of the same cell memory the maps use at load: the run's stored memory images through the
 * epoch's R (buildCellMemory), so the scale and the maps measure distances to one memory. What is stored, and its
 * checks, are in cell-scale.ts, which loads no TensorFlow.js (the run file's check reads it on every command).
 */
export type { CellCalibration, MapScale } from './cell-scale';
export { cellCalibrationProblem, mapScaleFrom } from './cell-scale';
import * as tf from '@tensorflow/tfjs';
import { AloccError } from '../errors';
import { CellNeighbourhood, TrainConfig } from '../config';
import { CellCalibration, mapScaleFrom } from './cell-scale';
import { floatsOf, ImageSet } from '../data/source';
import { buildCellMemory, CellMemory, cellDistances, disposeCellMemory, leaveOneOutCellDistances, localScore } from './cell-map';
import { inferenceNet } from './inference';
import { MEMORY_LRELU } from './nearest';
import { firstBlock, percentile } from './scorer';

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
