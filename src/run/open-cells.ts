/**
 * An epoch's cell calibration as training stored it: cells.json in the epoch's folder, checked against its checksum
 * in the run file (src/score/cell-calibration.ts). Epochs of run-file version 6 and earlier have none.
 */
import { AloccError, firstLine } from '../errors';
import { CellCalibration, cellCalibrationProblem, interimCalibration } from '../score/cell-calibration';
import type { CellMemory } from '../score/cell-map';
import type { OpenedRun } from './open';
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
 * earlier) the interim one these maps used then: leave-one-out cell distances of `memory`'s own images by position
 * (interimCalibration), a little low because those pictures were trained on.
 */
export function runCellCalibration(opened: OpenedRun, memory: CellMemory): CellCalibration {
  const { localTopK, thresholdPercentile } = opened.config.train;
  return readCellCalibration(opened) ?? interimCalibration(memory, { topK: localTopK, percentile: thresholdPercentile });
}
