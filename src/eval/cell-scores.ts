/**
 * The local score of test pictures, and the example pictures' maps, for `alocc eval`: the run's cell search (its
 * stored memory images through R's first block; compiled where the kernels are built) and the epoch's cell
 * calibration, as the Detector's maps use them (src/api/maps.ts), so eval grades the numbers `alocc score --maps` gives.
 */
import { runCellSearch } from '../run/cell-search-tfjs';
import type { OpenedRun } from '../run/open';
import { runCellCalibration } from '../run/open-cells';
import type { CellCalibration } from '../score/cell-scale';
import { localScore } from '../score/cell-scale';
import { AnomalyMap, anomalyMapsFrom } from '../score/map-geometry';

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
  const search = runCellSearch(opened);
  let calibration: CellCalibration;
  try {
    calibration = runCellCalibration(opened, opened.config.train, search);
  } catch (err) {
    search.dispose();
    throw err;
  }
  const { size, channels } = opened.preprocessing;
  const per = size * size * channels;
  const grid = search.rows * search.cols;
  const distances = (x: Float32Array, start: number, n: number) => search.distances(x.subarray(start * per, (start + n) * per), n);
  return {
    calibration,
    localScores(x, n) {
      const out = new Float32Array(n);
      for (let start = 0; start < n; start += BATCH) {
        const m = Math.min(BATCH, n - start);
        const cells = distances(x, start, m);
        for (let i = 0; i < m; i++) out[start + i] = localScore(cells.subarray(i * grid, (i + 1) * grid), calibration.topK);
      }
      return out;
    },
    maps(x, n) {
      const out: AnomalyMap[] = [];
      for (let start = 0; start < n; start += BATCH) {
        const m = Math.min(BATCH, n - start);
        out.push(...anomalyMapsFrom(distances(x, start, m), m, search.rows, search.cols, size));
      }
      return out;
    },
    dispose: () => search.dispose(),
  };
}
