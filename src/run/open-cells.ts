/**
 * An epoch's cell calibration as training stored it: cells.json in the epoch's folder, checked against its checksum
 * in the run file (src/score/cell-calibration.ts). Epochs of run-file version 6 and earlier have none. No
 * TensorFlow.js here: the compiled engine's maps read it too.
 */
import { AloccError, firstLine } from '../errors';
import type { TrainConfig } from '../config';
import { calibrationFromCells, CellCalibration, cellCalibrationProblem } from '../score/cell-scale';
import { SCALE_PROBES } from '../score/map-geometry';
import { EPOCH_CELLS_FILE, epochDirFor } from './paths';
import type { RunAtEpoch } from './select';
import { readVerified } from './verified';

/** The stored calibration of the epoch, verified; null for an epoch trained before calibrations were stored. */
export function readCellCalibration(at: Pick<RunAtEpoch, 'dir' | 'epoch' | 'record'>): CellCalibration | null {
  if (!(EPOCH_CELLS_FILE in at.record.checksums)) return null;
  const epochDir = epochDirFor(at.dir, at.epoch);
  const bytes = readVerified(epochDir, EPOCH_CELLS_FILE, at.record.checksums);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new AloccError(`${epochDir}/${EPOCH_CELLS_FILE} is not valid JSON (${firstLine(err)}); retrain the run`);
  }
  const problem = cellCalibrationProblem(parsed);
  if (problem) throw new AloccError(`${epochDir}/${EPOCH_CELLS_FILE}: the cell calibration ${problem}; retrain the run`);
  // run.json's copy is for people and tools reading it; the checksummed file is what counts, and they must agree.
  if (at.record.cells && JSON.stringify(at.record.cells) !== JSON.stringify(parsed)) {
    throw new AloccError(`${epochDir}/${EPOCH_CELLS_FILE} and run.json's cells of epoch ${at.epoch} differ; retrain the run or restore run.json`);
  }
  return parsed as CellCalibration;
}

/**
 * The epoch's stored calibration, or for a run trained before calibrations were stored (run-file version 6 and
 * earlier) the interim one these maps used then: the same-position cell distances of up to SCALE_PROBES of the
 * memory's own images, each against the memory without itself (`leaveOneOut`), a little low because those pictures
 * were trained on.
 */
export function runCellCalibration(
  at: Pick<RunAtEpoch, 'dir' | 'epoch' | 'record'>, train: Pick<TrainConfig, 'localTopK' | 'thresholdPercentile'>,
  search: { rows: number; cols: number; leaveOneOut(probes: number): Float32Array },
): CellCalibration {
  const stored = readCellCalibration(at);
  if (stored) return stored;
  const opts = { neighbourhood: 'position' as const, topK: train.localTopK, percentile: train.thresholdPercentile };
  return calibrationFromCells(search.leaveOneOut(SCALE_PROBES), search.rows * search.cols, opts, 'memory');
}
