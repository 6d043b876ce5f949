/**
 * The local score of test pictures, and the example pictures' maps, for `alocc eval`: the run's cell memory (its
 * stored memory images through R's first block) and the epoch's cell calibration, as the Detector's maps use them
 * (src/api/maps.ts), so eval grades the numbers `alocc score --maps` gives.
 */
import * as tf from '@tensorflow/tfjs';
import type { OpenedRun } from '../run/open';
import { runCellCalibration } from '../run/open-cells';
import type { CellCalibration } from '../score/cell-calibration';
import { AnomalyMap, anomalyMaps, buildCellMemory, cellDistances, disposeCellMemory, localScore } from '../score/cell-map';

export interface CellScorer {
  calibration: CellCalibration;
  /** The local score of `n` pictures (HWC, [0, 1], the run's shape, concatenated). */
  localScores(x: Float32Array, n: number): Float32Array;
  /** Their anomaly maps. */
  maps(x: Float32Array, n: number): AnomalyMap[];
  dispose(): void;
}

/** Pictures per search: by position that holds cells·pictures·memory images products (49·64·4,096 = 51 MB at 28×28). */
const BATCH = 64;

export function cellScorer(opened: OpenedRun): CellScorer {
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages());
  let calibration: CellCalibration;
  try {
    calibration = runCellCalibration(opened, memory);
  } catch (err) {
    disposeCellMemory(memory);
    throw err;
  }
  const { size, channels } = opened.preprocessing;
  const per = size * size * channels;
  const grid = memory.rows * memory.cols;
  const tensor = (x: Float32Array, start: number, n: number) => tf.tensor4d(x.subarray(start * per, (start + n) * per), [n, size, size, channels]);
  return {
    calibration,
    localScores(x, n) {
      const out = new Float32Array(n);
      for (let start = 0; start < n; start += BATCH) {
        const m = Math.min(BATCH, n - start);
        const t = tensor(x, start, m);
        const cells = cellDistances(memory, t, calibration.neighbourhood);
        t.dispose();
        for (let i = 0; i < m; i++) out[start + i] = localScore(cells.subarray(i * grid, (i + 1) * grid), calibration.topK);
      }
      return out;
    },
    maps(x, n) {
      const out: AnomalyMap[] = [];
      for (let start = 0; start < n; start += BATCH) {
        const t = tensor(x, start, Math.min(BATCH, n - start));
        out.push(...anomalyMaps(memory, t, calibration.neighbourhood));
        t.dispose();
      }
      return out;
    },
    dispose: () => disposeCellMemory(memory),
  };
}
