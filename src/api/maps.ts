/**
 * Anomaly maps for the Detector (`score(x, { map: true })`, `alocc score --maps`, `POST /score?map=1`): each
 * picture's cell distances (src/score/cell-map.ts), its local score, and its overlay in the run's fixed colour scale.
 *
 * The scale, the cell threshold and the local score's threshold are the epoch's cell calibration, made at training
 * time from the validation pictures and stored checksummed (src/score/cell-calibration.ts), so every load of a run
 * paints equal distances in equal colours. Runs trained before that was stored (run-file version 6 and earlier) fall
 * back to the calibration these maps used then: leave-one-out cell distances of the run's memory images by position
 * (interimCalibration), which runs a little low because those pictures were trained on.
 */
import * as tf from '@tensorflow/tfjs';
import { renderOverlayPng } from '../plot/overlay';
import type { OpenedRun } from '../run/open';
import { runCellCalibration } from '../run/open-cells';
import { anomalyMaps, buildCellMemory, CellMemory, disposeCellMemory, localScore } from '../score/cell-map';
import type { CellCalibration } from '../score/cell-calibration';
import type { LocalVerdict, NamedImage, ScoreMap, ScoreResult } from './verdicts';

export interface RunMaps {
  calibration: CellCalibration;
  /** The maps and local scores of decoded pictures with their results (for the overlay's caption), in order. */
  maps(items: NamedImage[], results: ScoreResult[]): { map: ScoreMap; local: LocalVerdict }[];
  dispose(): void;
}

/** The memory's cells and the run's calibration, built once (a few seconds for thousands of memory images). */
export function runMaps(opened: OpenedRun): RunMaps {
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages());
  let calibration: CellCalibration;
  try {
    calibration = runCellCalibration(opened, memory);
  } catch (err) {
    disposeCellMemory(memory);
    throw err;
  }
  const { scale, neighbourhood, topK } = calibration;
  const { size, channels } = opened.preprocessing;
  return {
    calibration,
    maps(items, results) {
      if (items.length === 0) return [];
      const per = size * size * channels;
      const pixels = new Float32Array(items.length * per);
      items.forEach((item, i) => pixels.set(item.image.pixels, i * per));
      const x = tf.tensor4d(pixels, [items.length, size, size, channels]);
      try {
        return anomalyMaps(memory, x, neighbourhood).map((m, i) => {
          const local = localScore(m.cells, topK);
          const threshold = calibration.local.threshold;
          const map: ScoreMap = {
            cells: Array.from({ length: m.rows }, (_, r) => Array.from(m.cells.subarray(r * m.cols, (r + 1) * m.cols))),
            cellThreshold: scale.cellThreshold,
            overlayPng: new Uint8Array(renderOverlayPng({ pixels: items[i].image.pixels, size, channels }, m, scale, {
              score: results[i].novelty, threshold: results[i].threshold, novel: results[i].verdict === 'novel',
            })),
          };
          return { map, local: { score: local, threshold, verdict: local > threshold ? 'novel' : 'normal' } };
        });
      } finally {
        x.dispose();
      }
    },
    dispose: () => disposeCellMemory(memory),
  };
}
