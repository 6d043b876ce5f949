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
import { calibrationFromCells, CellCalibration } from './cell-scale';
import { floatsOf, ImageSet } from '../data/source';
import { buildCellMemory, CellMemory, cellDistances, disposeCellMemory } from './cell-map';
import { inferenceNet } from './inference';
import { MEMORY_LRELU } from './nearest';
import { firstBlock } from './scorer';
import { active } from '../kernels/addon';
import { CellSearch, compiledCellSearch } from './cell-search';
import { CellPart, rotationCellWeight } from './cell-part';
import type { CellPixels } from './cell-pixels';
import { mapGridSide } from './map-geometry';
import { trainingRotationCells } from './rotation-cells-tfjs';

/**
 * The rotation net's cells for the maps at training time (TrainConfig.cellRotationWeight), from the net being
 * trained, for pictures of side `side`; undefined where the run's maps read R's cells alone.
 */
export function trainingCellPart(train: Pick<TrainConfig, 'rotationPasses' | 'cellRotationWeight'>, rotation: tf.LayersModel | undefined, side: number): CellPart | undefined {
  const weight = rotationCellWeight(train);
  if (weight === 0) return undefined;
  if (!rotation) throw new AloccError('cell calibration: the maps read the rotation net\'s cells, but there is no rotation net');
  const cells = mapGridSide(side);
  return trainingRotationCells(rotation, cells, cells, weight);
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
  return calibrationFromCells(all, grid, opts, 'validation');
}

/** The calibration of the validation pictures' cells against a compiled search of the memory's cells, by position. */
export function calibrateSearch(search: CellSearch, train: Pick<TrainConfig, 'cellNeighbourhood' | 'localTopK' | 'thresholdPercentile'>, validation: ImageSet): CellCalibration {
  if (validation.count < 1) throw new AloccError('cell calibration: no validation pictures');
  const opts = { neighbourhood: train.cellNeighbourhood, topK: train.localTopK, percentile: train.thresholdPercentile };
  return calibrationFromCells(search.distances(floatsOf(validation), validation.count), search.rows * search.cols, opts, 'validation');
}

/**
 * An epoch's calibration at training time: the validation pictures' cells against the cell memory the maps will use,
 * the stored memory images through R's first block with R's weights and BatchNorm statistics as they are saved now,
 * and through the rotation net's first blocks where the maps read them (`part`: trainingCellPart), with the cells'
 * pixels where the maps read them (`pixels`: cell-pixels.ts).
 * On the compiled kernels where they are built and the run searches by position, as the maps will at load
 * (src/score/cell-search.ts: about a hundred times faster than tfjs's ops, which took 7-9 s an epoch for 1,800 memory
 * images and 200 validation pictures); else with tfjs's ops.
 */
export function calibrateRun(
  r: tf.LayersModel, train: Pick<TrainConfig, 'cellPooling' | 'cellNeighbourhood' | 'localTopK' | 'thresholdPercentile'>,
  memoryImages: ImageSet, validation: ImageSet, part?: CellPart, pixels?: CellPixels,
): CellCalibration {
  if (validation.count < 1) throw new AloccError('cell calibration: no validation pictures');
  const opts = { neighbourhood: train.cellNeighbourhood, topK: train.localTopK, percentile: train.thresholdPercentile };
  const net = inferenceNet(r, { through: MEMORY_LRELU });
  try {
    const folded = firstBlock(net);
    const native = active();
    if (native && train.cellNeighbourhood === 'position') {
      const [kh, kw, ci, co] = folded.filter.shape;
      const block = { filter: folded.filter.dataSync() as Float32Array, bias: folded.bias.dataSync() as Float32Array, alpha: folded.alpha, kh, kw, ci, co };
      const search = compiledCellSearch(native, block, memoryImages.size, train.cellPooling, memoryImages, part, pixels);
      if (search) return calibrateSearch(search, train, validation);
    }
    const memory = buildCellMemory(folded, train.cellPooling, memoryImages, { part, pixels });
    try {
      return calibrateCells(memory, validation, opts);
    } finally {
      disposeCellMemory(memory);
    }
  } finally {
    net.dispose();
  }
}
