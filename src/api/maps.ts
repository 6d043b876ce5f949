/**
 * Anomaly maps for the Detector (`score(x, { map: true })`, `alocc score --maps`, `POST /score?map=1`): each
 * picture's cell distances (src/run/cell-search.ts), its local score, and its overlay in the run's fixed colour scale.
 *
 * The scale, the cell threshold and the local score's threshold are the epoch's cell calibration, made at training
 * time from the validation pictures and stored checksummed (src/score/cell-calibration.ts), so every load of a run
 * paints equal distances in equal colours. Runs trained before that was stored (run-file version 6 and earlier) fall
 * back to the calibration these maps used then (src/run/open-cells.ts), from the memory images' own cells.
 */
import type { OverlayJob } from '../plot/overlay-pool';
import { compiledRunCellSearch, memoryImagesOf, RunCellSearch } from '../run/cell-search';
import { runCellCalibration } from '../run/open-cells';
import { preprocessingOf, RunAtEpoch } from '../run/select';
import type { CellCalibration } from '../score/cell-scale';
import { localScore } from '../score/cell-scale';
import { anomalyMapsFrom } from '../score/map-geometry';
import { pixelsOf } from './verdicts';
import type { LocalVerdict, ScoreMap } from './verdicts';
import type { NamedImage, ScoreResult } from './verdicts';

/** A picture's map before its overlay is drawn: the cells and local verdict, and the overlay's drawing job. */
export interface CellMap {
  cells: number[][];
  cellThreshold: number;
  local: LocalVerdict;
  overlay: OverlayJob;
}

export interface RunMaps {
  calibration: CellCalibration;
  /**
   * The maps and local scores of decoded pictures with their results (for the overlay's caption), in order, each
   * overlay not yet drawn (renderInline or an OverlayPool draws them); `pooled`: their pooled first block from the
   * compiled verdict, where it ran, so that the conv does not run twice.
   */
  cellMaps(items: NamedImage[], results: ScoreResult[], pooled?: Float32Array): CellMap[];
  dispose(): void;
}

/** Each result gets its map, with its overlay's bytes, and its local verdict (results, maps and pngs in one order). */
export function attachOverlays(results: ScoreResult[], maps: CellMap[], pngs: Uint8Array[]): void {
  maps.forEach((m, i) => Object.assign(results[i], { map: { cells: m.cells, cellThreshold: m.cellThreshold, overlayPng: pngs[i] } satisfies ScoreMap, local: m.local }));
}

/** The maps over `search`, with the epoch's calibration (read, or for an older run computed, once here). */
export function mapsOver(search: RunCellSearch, at: RunAtEpoch): RunMaps {
  let calibration: CellCalibration;
  try {
    calibration = runCellCalibration(at, at.run.config.train, search);
  } catch (err) {
    search.dispose();
    throw err;
  }
  const { size, channels } = preprocessingOf(at.run.config);
  const { scale, topK } = calibration;
  const threshold = calibration.local.threshold;
  return {
    calibration,
    cellMaps(items, results, pooled) {
      if (items.length === 0) return [];
      const pixels = () => pixelsOf(items, size * size * channels);
      const distances = pooled && search.distancesFromPooled ? search.distancesFromPooled(pooled, items.length, pixels) : search.distances(pixels(), items.length);
      return anomalyMapsFrom(distances, items.length, search.rows, search.cols, size).map((m, i) => {
        const local = localScore(m.cells, topK);
        return {
          cells: Array.from({ length: m.rows }, (_, r) => Array.from(m.cells.subarray(r * m.cols, (r + 1) * m.cols))),
          cellThreshold: scale.cellThreshold,
          local: { score: local, threshold, verdict: local > threshold ? 'novel' : 'normal' },
          overlay: {
            picture: { pixels: items[i].image.pixels, size, channels },
            anomaly: m,
            scale,
            caption: { score: results[i].novelty, threshold: results[i].threshold, novel: results[i].verdict === 'novel' },
          },
        };
      });
    },
    dispose: () => search.dispose(),
  };
}

/** The compiled engine's maps (no tfjs); null where the compiled search is not available. */
export function compiledRunMaps(at: RunAtEpoch): RunMaps | null {
  const search = compiledRunCellSearch(at, () => memoryImagesOf(at));
  return search && mapsOver(search, at);
}
